"""Store's tables: categories, products and their stock units, orders and their history."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from accounts.models import User


class Category(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=40, unique=True)
    position = fields.IntField(default=0)

    class Meta:
        table = "store_category"

    def __str__(self) -> str:
        return self.name


class Product(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=120)
    description = fields.TextField(default="")
    category: fields.ForeignKeyRelation[Category] = fields.ForeignKeyField(
        "store.Category", related_name="products", on_delete=fields.RESTRICT
    )
    price_fen = fields.IntField()
    stock = fields.IntField()  # units made for sale; what is left is counted from StockUnit
    # False for digital goods (an e-book, a lecture pass): paid without a shipping address.
    requires_shipping = fields.BooleanField(default=True)
    # What posting it costs (store.shipping.shipping_fee: an order pays the highest fee of its
    # items that ship, none when its goods reach the free-shipping total). 0: free shipping.
    shipping_fee_fen = fields.IntField(default=0, db_default=0)
    per_customer_limit = fields.IntField(null=True)
    members_only = fields.BooleanField(default=False)
    member_head_start_minutes = fields.IntField(default=0)
    # Half-open sale window; no start means on sale now, no end means until sold out.
    sale_starts_at = fields.DatetimeField(null=True)
    sale_ends_at = fields.DatetimeField(null=True)
    image = fields.CharField(max_length=80, null=True)  # base name under media/products/
    # Unpublished: hidden from the store (staff with the catalogue may preview it), and no new
    # order may hold it; orders already held stay payable until their hold runs out.
    published = fields.BooleanField(default=True, db_default=True)
    # Raffle mode (预约): entries until raffle_entries_until, then winners drawn with a recorded
    # seed may buy during raffle_purchase_minutes after the draw; nobody else may.
    raffle_entries_until = fields.DatetimeField(null=True)
    raffle_purchase_minutes = fields.IntField(default=60)
    raffle_seed = fields.CharField(max_length=64, null=True)
    raffle_drawn_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "store_product"

    def __str__(self) -> str:
        return self.title


class StockUnit(Model):
    """One row per unit for sale. Invariant "never oversell": a unit belongs to at most one
    order (order_id), and there are exactly `stock` rows; buyers claim free rows with SKIP
    LOCKED on PostgreSQL, so a rush spreads over rows instead of queueing on one counter."""

    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "store.Product", related_name="units", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    order_id = fields.IntField(null=True)

    class Meta:
        table = "store_unit"
        unique_together = (("product", "number"),)
        indexes = (("product_id", "order_id"),)


class Allowance(Model):
    """Units a customer holds or bought of a limited product. Invariant "per-customer limit":
    raised only by a guarded upsert (units + wanted <= limit), which also serializes one
    customer's concurrent requests on this row."""

    id = fields.IntField(primary_key=True)
    # No database constraint: see OrderItem (written during a rush with a per-customer limit).
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "store.Product", related_name="allowances", on_delete=fields.CASCADE, db_constraint=False
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="allowances", on_delete=fields.CASCADE
    )
    units = fields.IntField(default=0)

    class Meta:
        table = "store_allowance"
        unique_together = (("product", "user"),)


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"  # payment failed or the hold expired: stock returned
    REFUNDED = "refunded"


class Order(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="orders", on_delete=fields.RESTRICT, db_index=True
    )
    status = fields.CharEnumField(OrderStatus, max_length=20, default=OrderStatus.PENDING_PAYMENT)
    total_fen = fields.IntField()  # the goods and shipping_fee_fen: what is paid
    shipping_fee_fen = fields.IntField(default=0, db_default=0)
    hold_expires_at = fields.DatetimeField()
    payment_id = fields.IntField(null=True)
    # Where it ships (mainland China): recipient, mobile number, province (one of the 34
    # provincial-level divisions), city, district, and the street address. Orders from before
    # these were separate fields keep their one free-text line in ship_address.
    ship_name = fields.CharField(max_length=40, null=True)
    ship_phone = fields.CharField(max_length=20, null=True)
    ship_province = fields.CharField(max_length=20, null=True)
    ship_city = fields.CharField(max_length=40, null=True)
    ship_district = fields.CharField(max_length=40, null=True)
    ship_address = fields.CharField(max_length=200, null=True)
    # The district's GB/T 2260 code when chosen in the picker (store.divisions), else NULL.
    ship_district_code = fields.CharField(max_length=6, null=True)
    tracking_number = fields.CharField(max_length=40, null=True)
    # Who carries it (store.carriers.CARRIERS' code) and when it left: shipped orders are
    # confirmed received by themselves settings.confirm_after_days later.
    carrier = fields.CharField(max_length=20, null=True)
    shipped_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    paid_at = fields.DatetimeField(null=True)

    class Meta:
        table = "store_order"
        # created_at and paid_at: a day's units sold and a drop's funnel (stats) read ranges;
        # ship_phone: the back office finds a shopper by the phone they gave (crm.people).
        indexes = (("status", "hold_expires_at"), ("created_at",), ("paid_at",), ("ship_phone",))


class OrderItem(Model):
    id = fields.IntField(primary_key=True)
    # No database constraints on `order` and `product` (nor on OrderEvent.order, nor on
    # Allowance.product). PostgreSQL checks a foreign key by locking the referenced row (KEY
    # SHARE), which writes to it: every order of a drop locked its one product row (a MultiXact
    # hot spot: the rush slowed as it sold) and, through its item and first event, the order
    # row it had just written. Measured with pgbench on the hold statement, 16 clients: 1,300
    # holds/s with those constraints, 2,900 without. Nothing is lost: an order, its item and
    # its first event are written by one statement, and no path deletes orders; a product is
    # deleted only when it never had one (store.catalogue.delete_product, which checks for
    # items and claimed units after taking its free units away).
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "store.Order",
        related_name="items",
        on_delete=fields.CASCADE,
        db_constraint=False,
        db_index=True,
    )
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "store.Product", related_name="order_items", on_delete=fields.RESTRICT, db_constraint=False
    )
    quantity = fields.IntField()
    unit_price_fen = fields.IntField()

    class Meta:
        table = "store_order_item"
        # A drop's orders (its funnel, its live state): without it, every look at one drop
        # read every item ever sold (bench/admin_stats.py: 38 ms a look at 900,000 items).
        indexes = (("product_id", "order_id"),)


class OrderEvent(Model):
    """An order's status history: each change, when, and a note (a tracking number...)."""

    id = fields.IntField(primary_key=True)
    # No database constraint: see OrderItem.
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "store.Order",
        related_name="events",
        on_delete=fields.CASCADE,
        db_constraint=False,
        db_index=True,
    )
    status = fields.CharEnumField(OrderStatus, max_length=20)
    note = fields.CharField(max_length=200, default="")
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "store_order_event"


class DropReminder(Model):
    """Someone who asked to be told when a drop opens for them."""

    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "store.Product", related_name="reminders", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="drop_reminders", on_delete=fields.CASCADE
    )
    notified_at = fields.DatetimeField(null=True)

    class Meta:
        table = "store_drop_reminder"
        unique_together = (("product", "user"),)


class RaffleEntry(Model):
    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "store.Product", related_name="raffle_entries", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="raffle_entries", on_delete=fields.CASCADE
    )
    won = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "store_raffle_entry"
        unique_together = (("product", "user"),)


class RefundRequestStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"  # the refund was made (store.refunds.approve)
    REFUSED = "refused"


class RefundRequest(Model):
    """A buyer asking for their money back on a paid order. An admin approves (the order is
    refunded) or refuses (with a note the buyer reads). At most one open request per order
    (open_key, NULL once decided)."""

    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "store.Order", related_name="refund_requests", on_delete=fields.CASCADE
    )
    reason = fields.CharField(max_length=500)
    status = fields.CharEnumField(
        RefundRequestStatus, max_length=10, default=RefundRequestStatus.REQUESTED
    )
    open_key = fields.IntField(null=True, unique=True)  # the order id while undecided
    note = fields.CharField(max_length=300, default="")  # the admin's, when refused
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="refund_decisions", null=True, on_delete=fields.SET_NULL
    )
    decided_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "store_refund_request"


class InvoiceKind(StrEnum):
    PERSONAL = "personal"  # 个人: the title is the person's name
    COMPANY = "company"  # 企业: the company's name and its taxpayer id


class InvoiceStatus(StrEnum):
    REQUESTED = "requested"  # asked for: staff issue it through their tax provider
    ISSUED = "issued"  # its PDF attached: the buyer downloads it


class InvoiceRequest(Model):
    """A buyer asking for an electronic ordinary invoice (电子普通发票) on a paid order, and the
    PDF staff attach once their tax provider issued it (issuing is outside Shuyuan). One per
    order (UNIQUE order)."""

    id = fields.IntField(primary_key=True)
    order: fields.OneToOneRelation[Order] = fields.OneToOneField(
        "store.Order", related_name="invoice_request", on_delete=fields.CASCADE
    )
    order_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="invoice_requests", on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharEnumField(InvoiceKind, max_length=10)
    title = fields.CharField(max_length=100)  # 抬头
    tax_id = fields.CharField(max_length=20, null=True)  # 纳税人识别号, a company's
    email = fields.CharField(max_length=254, null=True)  # where the buyer wants it too
    status = fields.CharEnumField(InvoiceStatus, max_length=10, default=InvoiceStatus.REQUESTED)
    pdf_name = fields.CharField(max_length=80, null=True)  # under var/invoices/, not public
    requested_at = fields.DatetimeField()
    issued_at = fields.DatetimeField(null=True)

    class Meta:
        table = "store_invoice_request"
        indexes = (("status", "requested_at"),)


class SavedAddress(Model):
    """An address a buyer has shipped a paid order to, offered again at checkout (newest used
    first). One row per distinct address and buyer (key: a digest of its fields)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="saved_addresses", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=64)
    name = fields.CharField(max_length=40)
    phone = fields.CharField(max_length=20)
    province = fields.CharField(max_length=20)
    city = fields.CharField(max_length=40)
    district = fields.CharField(max_length=40)
    address = fields.CharField(max_length=200)
    used_at = fields.DatetimeField()

    class Meta:
        table = "store_saved_address"
        unique_together = (("user", "key"),)


class ProductDay(Model):
    """Views of one product's page on one Asia/Shanghai day (store.analytics)."""

    id = fields.IntField(primary_key=True)
    product_id = fields.IntField()
    day = fields.DateField()
    views = fields.IntField(default=0)

    class Meta:
        table = "store_product_day"
        unique_together = (("product_id", "day"),)
        indexes = (("day", "product_id"),)  # one day's views of every product (stats)


class ProductMinute(Model):
    """Views of a drop's page in one minute around its sale's start: the funnel's first step
    (store.analytics; only minutes within tallies.FUNNEL_BEFORE/AFTER of the start)."""

    id = fields.IntField(primary_key=True)
    product_id = fields.IntField()
    minute = fields.DatetimeField()
    views = fields.IntField(default=0)

    class Meta:
        table = "store_product_minute"
        unique_together = (("product_id", "minute"),)

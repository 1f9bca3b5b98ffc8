"""The store API's declared shapes: products, orders and paying for them."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from payments.models import PayMethod
from payments.schemas import (
    JsapiAction,
    PayForm,
    PaymentAnswer,
    PaymentChoice,
    QrCodeAction,
    RedirectAction,
)
from pictures import MEDIA_TYPES
from store import images, services
from store.models import OrderStatus
from store.shipping import (
    ADDRESS_CHARS,
    MAX_SHIPPING_FEE_FEN,
    MOBILE,
    NAME_CHARS,
    PLACE_CHARS,
    PROVINCES,
)
from web.api import Answer, Body, Id, Moment, Query, line, text, whole
from web.paths import ID_PATTERN

__all__ = ["PaymentAnswer", "PaymentChoice"]

Minutes = Annotated[int, whole(0, 7 * 24 * 60)]
FEE = msgspec.Meta(
    description="postage in fen (0: ships free); an order pays the highest fee of its items"
)


class NewProduct(Body):
    """A product and its stock. When both are given, sale_ends_at must be after sale_starts_at
    (a schema cannot compare two times: else 422 invalid_field, naming sale_ends_at)."""

    title: Annotated[str, line(120, min_length=1)]
    description: Annotated[str, text(5000)]
    category: Annotated[str, line(40, min_length=1)]
    price_fen: Annotated[int, whole(1, services.MAX_PRICE_FEN)]
    stock: Annotated[int, whole(0, services.MAX_STOCK)]
    per_customer_limit: Annotated[int, whole(1, services.MAX_STOCK)] | None = None
    members_only: bool = False
    member_head_start_minutes: Minutes = 0
    sale_starts_at: Moment | None = None
    sale_ends_at: Moment | None = None
    raffle_entries_until: (
        Annotated[
            Moment, msgspec.Meta(description="sell by raffle: entries until then, then a draw")
        ]
        | None
    ) = None
    raffle_purchase_minutes: Annotated[int, whole(1, 7 * 24 * 60)] = 60
    requires_shipping: Annotated[
        bool, msgspec.Meta(description="false for digital goods (an e-book, a lecture pass)")
    ] = True
    shipping_fee_fen: Annotated[int, whole(0, MAX_SHIPPING_FEE_FEN), FEE] = 0


Province = Literal[PROVINCES]  # type: ignore[valid-type]


class ProductChanges(Body):
    """What to change; a field left out keeps its value, and null clears one that may be
    empty (per_person_limit: no limit; sale times: none). Sale times change only before the
    sale opened (members' head start included; a product without a start time has been on
    sale since it was made); requires_shipping and the raffle's fields only while no order
    ever held the product: else 409 product_has_orders (raffle_closed once its raffle was
    drawn). sale_ends_at must stay after sale_starts_at (a schema cannot compare two times:
    else 422 invalid_field, naming sale_ends_at). Orders already held or paid keep their
    price; workers keep a product for a second, so an order placed within a second of the
    change may still get the old one."""

    title: Annotated[str, line(120, min_length=1)] | msgspec.UnsetType = msgspec.UNSET
    description: Annotated[str, text(5000)] | msgspec.UnsetType = msgspec.UNSET
    category: Annotated[str, line(40, min_length=1)] | msgspec.UnsetType = msgspec.UNSET
    price_fen: Annotated[int, whole(1, services.MAX_PRICE_FEN)] | msgspec.UnsetType = msgspec.UNSET
    per_person_limit: Annotated[int, whole(1, services.MAX_STOCK)] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )
    member_head_start_minutes: Minutes | msgspec.UnsetType = msgspec.UNSET
    sale_starts_at: Moment | msgspec.UnsetType | None = msgspec.UNSET
    sale_ends_at: Moment | msgspec.UnsetType | None = msgspec.UNSET
    published: bool | msgspec.UnsetType = msgspec.UNSET
    requires_shipping: bool | msgspec.UnsetType = msgspec.UNSET
    shipping_fee_fen: Annotated[int, whole(0, MAX_SHIPPING_FEE_FEN)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    raffle_entries_until: Moment | msgspec.UnsetType | None = msgspec.UNSET
    raffle_purchase_minutes: Annotated[int, whole(1, 7 * 24 * 60)] | msgspec.UnsetType = (
        msgspec.UNSET
    )

    def __post_init__(self) -> None:
        # Body checks the times' years; a time left out is not one to check.
        left_out = [name for name in self._moments if getattr(self, name) is msgspec.UNSET]
        for name in left_out:
            setattr(self, name, None)
        super().__post_init__()
        for name in left_out:
            setattr(self, name, msgspec.UNSET)

    def changes(self) -> dict[str, object]:
        """The fields given, by the names the store's services use."""
        given = {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if getattr(self, name) is not msgspec.UNSET
        }
        if "per_person_limit" in given:
            given["per_customer_limit"] = given.pop("per_person_limit")
        return given


class StockChange(Body):
    """Units to add (positive) or remove (negative): only units neither sold nor held are
    removed, all or none (else 409 stock_below_committed)."""

    change: Annotated[int, whole(-services.MAX_STOCK, services.MAX_STOCK)]


class StockNow(Answer):
    stock: Annotated[int, msgspec.Meta(description="units made for sale, sold and held included")]
    stock_left: Annotated[int, msgspec.Meta(description="units neither sold nor held")]


class AdminProductsQuery(Query):
    cursor: Annotated[str, msgspec.Meta(pattern=f"^{ID_PATTERN}$")] | None = None


class Shipping(Body):
    """Where an order ships, in mainland China."""

    name: Annotated[str, line(NAME_CHARS, min_length=1, description="the recipient")]
    phone: Annotated[
        str,
        msgspec.Meta(
            pattern=MOBILE,
            description="a mainland mobile number: 11 digits, 1 then 3-9",
            examples=["13812345678"],
        ),
    ]
    province: Annotated[
        Province, msgspec.Meta(description="one of the 34 provincial-level divisions")
    ]
    city: Annotated[str, line(PLACE_CHARS, min_length=1)]
    district: Annotated[str, line(PLACE_CHARS, min_length=1)]
    address: Annotated[str, line(ADDRESS_CHARS, min_length=1, description="the street address")]
    district_code: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^[0-9]{6}$",
                description="the district's GB/T 2260 code, as checkout's picker gives it: "
                "with it the names must be the ones it stands for (422 address_mismatch)",
            ),
        ]
        | None
    ) = None

    def checked(self) -> services.Address:
        return services.check_address(
            name=self.name,
            phone=self.phone,
            province=self.province,
            city=self.city,
            district=self.district,
            address=self.address,
            district_code=self.district_code,
        )


class Wanted(Body):
    product_id: Id
    quantity: Annotated[int, whole(1, 100)] = 1


class NewOrder(Body):
    items: Annotated[list[Wanted], msgspec.Meta(min_length=1, max_length=services.MAX_ITEMS)]
    shipping: Shipping | None = None


class PayOrder(PaymentChoice):
    """A PaymentChoice (one of its three forms: see it), and for an order that ships, where
    to (else 422 address_required)."""

    shipping: Annotated[
        Shipping | None, msgspec.Meta(description="required to pay an order that ships")
    ] = None


class BuyForm(Body):
    """The product page's buy button."""

    quantity: Annotated[int, whole(1, 100)] = 1


Field = Annotated[str, msgspec.Meta(max_length=400)]  # checked by store.shipping


class CheckoutForm(PayForm):
    """The checkout page: the method (and a card's PaymentMethod from Stripe.js) and, for an
    order that ships, the address (fields named as the API's: shipping.name...)."""

    name: Field | None = msgspec.field(default=None, name="shipping.name")
    phone: Field | None = msgspec.field(default=None, name="shipping.phone")
    province: Field | None = msgspec.field(default=None, name="shipping.province")
    city: Field | None = msgspec.field(default=None, name="shipping.city")
    district: Field | None = msgspec.field(default=None, name="shipping.district")
    address: Field | None = msgspec.field(default=None, name="shipping.address")
    district_code: Field | None = msgspec.field(default=None, name="shipping.district_code")


class ListingQuery(Query):
    """The store page: "new this week" (the default), "hot", or one category."""

    view: Literal["new", "hot"] = "new"
    category: Annotated[str, line(40)] | None = None


class OrdersQuery(Query):
    """The admin's orders, all or of one status (OrderStatus's values)."""

    status: Literal[
        "", "pending_payment", "paid", "shipped", "delivered", "cancelled", "refunded"
    ] = ""


class ProductsQuery(Query):
    sort: Literal["new", "hot"] = "new"
    new_within_days: (
        Annotated[
            int, whole(1, 366, description="only products added in the last n days (7: this week)")
        ]
        | None
    ) = None
    category: Annotated[str, line(40)] | None = None
    cursor: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,6}$")] | None = None


COVER = (
    "a PNG square drawn from the title (1200 or 400 pixels), for every product: what to show "
    "while image_url is null"
)


class Product(Answer):
    id: int
    title: str
    category: str
    price_fen: int
    stock_left: int
    sale_starts_at: str | None
    sale_ends_at: str | None
    members_only: bool
    per_customer_limit: int | None
    member_head_start_minutes: int
    description: str
    raffle_entries_until: str | None
    raffle_purchase_minutes: Annotated[
        int, msgspec.Meta(description="how long a raffle's winners may buy after the draw")
    ]
    raffle_drawn_at: str | None
    raffle_seed: str | None
    image_url: str | None
    thumbnail_url: str | None
    cover_url: Annotated[str, msgspec.Meta(description=COVER)]
    cover_thumbnail_url: Annotated[str, msgspec.Meta(description=COVER)]
    requires_shipping: bool
    shipping_fee_fen: Annotated[int, FEE]
    published: Annotated[bool, msgspec.Meta(description="false: taken down, shown to staff only")]
    sale_state: Annotated[
        services.SaleState,
        msgspec.Meta(
            description="the sale now, as a visitor sees it (store.sale.sale_state): members "
            "start member_head_start_minutes early; members_only, raffle, drawing and "
            "winners_only name who may buy; unpublished: nobody (staff see it)"
        ),
    ]


class Products(Answer):
    items: list[Product]
    next_cursor: str | None


class HeldOrder(Answer):
    id: int
    status: OrderStatus
    total_fen: Annotated[int, msgspec.Meta(description="the goods and shipping_fee_fen")]
    shipping_fee_fen: Annotated[
        int,
        msgspec.Meta(
            description="the highest fee of its items that ship; 0 when nothing ships or the "
            "goods reach the store's free-shipping total (满 N 包邮)"
        ),
    ]
    hold_expires_at: str


class OrderItem(Answer):
    product_id: int
    title: str
    quantity: int
    unit_price_fen: int


class ShippedTo(Answer):
    """An order's address (an older order may have only its one free-text `address`)."""

    name: str | None
    phone: str | None
    province: str | None
    city: str | None
    district: str | None
    address: str
    district_code: Annotated[str | None, msgspec.Meta(description="the picker's, if given")]


CarrierCode = Literal[
    "sf", "jd", "ems", "chinapost", "zto", "yto", "sto", "yunda", "jtexpress", "deppon"
]


class Shipment(Body):
    """Who carries a paid order (store.carriers: the mainland's major carriers), and its
    tracking number (4-40 characters)."""

    carrier: CarrierCode
    tracking_number: Annotated[str, line(40, min_length=4)]


class Shipped(Answer):
    id: int
    status: Literal["shipped"]
    carrier: CarrierCode
    tracking_number: str
    tracking_url: Annotated[str, msgspec.Meta(description="the parcel's tracking page")]


class NewInvoiceRequest(Body):
    """An electronic ordinary invoice (电子普通发票) for a paid order: personal (the title is
    the buyer's name) or for a company (its name as title, and its taxpayer id, 18
    characters); `email`: where the buyer wants it too. Staff issue it through their tax
    provider, outside Shuyuan, and attach the PDF to the order."""

    kind: Literal["personal", "company"]
    title: Annotated[str, line(100, min_length=1)]
    tax_id: Annotated[str, line(20)] | None = None
    email: Annotated[str, line(254)] | None = None


class InvoiceRequested(Answer):
    id: int
    status: Literal["requested", "issued"]


class ReceiptConfirmed(Answer):
    id: int
    status: Literal["delivered"]


class Order(HeldOrder):
    items: list[OrderItem]
    tracking_number: str | None
    carrier: Annotated[CarrierCode | None, msgspec.Meta(description="once shipped")]
    tracking_url: Annotated[str | None, msgspec.Meta(description="once shipped")]
    requires_shipping: bool
    shipping: ShippedTo | None
    payment_method: PayMethod | None  # of its latest payment
    next_action: QrCodeAction | RedirectAction | JsapiAction | None  # while a wallet waits


class OrderCancelled(Answer):
    """An order given back: its id and its status now."""

    id: int
    status: OrderStatus


class Entries(Answer):
    entries: int


class Draw(Answer):
    seed: str
    entries: int
    winners: list[int]


IMAGE_UPLOAD = {
    "type": "object",
    "properties": {
        "image": {
            "type": "string",
            "format": "binary",
            "maxLength": images.MAX_UPLOAD_BYTES,
            "description": (
                "A JPEG, PNG, WebP or GIF picture of at most "
                f"{images.MAX_UPLOAD_BYTES // (1024 * 1024)} MiB and about 20 megapixels; one "
                "that cannot be read as a picture, or is larger, is 422 invalid_field (image)"
            ),
        }
    },
    "required": ["image"],
}
IMAGE_ENCODING = {"image": {"contentType": ", ".join(MEDIA_TYPES)}}


class RefundAsk(Body):
    reason: Annotated[str, text(500, min_length=1)]


class RefundDecisionNote(Body):
    note: Annotated[str, text(300, min_length=1)]


class RefundRequestAnswer(Answer):
    id: int
    order_id: int
    status: Literal["requested", "approved", "refused"]
    reason: str
    note: str
    created_at: str
    decided_at: str | None


class RefundRequests(Answer):
    items: list[RefundRequestAnswer]

"""What the store's mails show beyond their sentence (accounts.notices' mail hooks, named by
the store's notice kinds): the receipt itemised, the shipped order's tracking, a drop's or a
raffle's picture. Each reads the notice's thing when the mail is written."""

from __future__ import annotations

from typing import Any

import links
from accounts.mail_layout import Row
from accounts.models import Notification
from accounts.notices import MailExtras
from payments.models import Payment
from store import carriers, covers, images
from store.models import Order, OrderItem, Product
from translation import N_, translations, yuan

METHODS = {"card": N_("Bank card"), "wechat_pay": N_("WeChat Pay"), "alipay": N_("Alipay")}


def _id(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def picture_of(product: Product) -> str:
    """The product's picture (or its drawn cover), on the public address."""
    return links.join(images.image_url(product.image) or covers.cover_url(product.id))


async def receipt(order: Order, locale: str) -> MailExtras:
    """The order itemised: each item with its quantity, unit price and amount, shipping, the
    total, how it was paid, where it ships, and the printable receipt's link."""
    _ = translations(locale).gettext
    items = await OrderItem.filter(order_id=order.id).select_related("product").order_by("id")
    rows = [
        Row(
            _("%(title)s × %(n)s at %(price)s")
            % {"title": item.product.title, "n": item.quantity, "price": yuan(item.unit_price_fen)},
            yuan(item.unit_price_fen * item.quantity),
        )
        for item in items
    ]
    if order.shipping_fee_fen > 0 or order.ship_address:  # the order's own, not today's product
        fee = order.shipping_fee_fen
        rows.append(Row(_("Shipping fee"), yuan(fee) if fee > 0 else _("Free shipping")))
    rows.append(Row(_("Total"), yuan(order.total_fen), strong=True))
    facts: list[tuple[str, str]] = []
    payment = await Payment.get_or_none(id=order.payment_id) if order.payment_id else None
    if payment is not None:
        facts.append((_("Paid with"), _(METHODS.get(payment.method.value, payment.method.value))))
    if order.ship_address:
        region = " ".join(
            part for part in (order.ship_province, order.ship_city, order.ship_district) if part
        )
        # The number masked as couriers print it: the mail may sit in other mailboxes.
        phone = order.ship_phone or ""
        shown = f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else phone
        who = " · ".join(part for part in (order.ship_name, shown) if part)
        facts.append((_("Ship to"), f"{who} {region} {order.ship_address}".strip()))
    return MailExtras(
        rows=tuple(rows),
        facts=tuple(facts),
        action_label=_("Printable receipt"),
    )


async def order_paid(notification: Notification, locale: str) -> MailExtras | None:
    """The receipt (the notice's link, the button, is the printable receipt)."""
    order_id = _id(notification.params or {}, "order")
    order = await Order.get_or_none(id=order_id) if order_id else None
    return await receipt(order, locale) if order is not None else None


async def order_shipped(notification: Notification, locale: str) -> MailExtras | None:
    _ = translations(locale).gettext
    order_id = _id(notification.params or {}, "order")
    order = await Order.get_or_none(id=order_id) if order_id else None
    if order is None:
        return None
    items = await OrderItem.filter(order_id=order.id).select_related("product").order_by("id")
    rows = tuple(Row(item.product.title, f"× {item.quantity}") for item in items)
    carrier = carriers.CARRIERS.get(order.carrier or "")
    facts = [(_("Carrier"), _(carrier.name))] if carrier else []
    facts.append((_("Tracking number"), order.tracking_number or ""))
    if order.ship_address:
        facts.append((_("Ship to"), f"{order.ship_name or ''} {order.ship_address}".strip()))
    tracking = carriers.tracking_url(order.carrier, order.tracking_number)
    after = (_("Follow the parcel: %(url)s") % {"url": tracking},) if tracking else ()
    return MailExtras(rows=rows, facts=tuple(facts), action_label=_("See your order"), after=after)


async def product_picture(notification: Notification, locale: str) -> MailExtras | None:
    """A drop or a raffle's mail: the product's picture and price, and a button to it."""
    _ = translations(locale).gettext
    product_id = _id(notification.params or {}, "product")
    product = await Product.get_or_none(id=product_id) if product_id else None
    if product is None:
        return None
    return MailExtras(
        picture_url=picture_of(product),
        picture_alt=product.title,
        facts=((_("Price"), yuan(product.price_fen)),),
        action_label=_("Buy it now"),
    )

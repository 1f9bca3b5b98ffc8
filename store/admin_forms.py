"""The console's product forms: fields typed as people type them (yuan, Beijing time) read into
the values store.catalog and store.catalogue take, a product made from one (the catalogue's
form, the drops page's raffle form), and a product written back as form text."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from errors import DomainError, ValidationError
from store import services
from store.images import resize_upload
from store.models import Product
from web.auth import staff_member
from web.csrf import read_form
from web.forms import (
    Fields,
    field_errors,
    optional_beijing_time,
    optional_whole_number,
    whole_number,
    yuan_to_fen,
)
from web.rendering import SHANGHAI

# Form field -> (the service's name for it, how its text is read).
PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "title": ("title", str),
    "category": ("category", str),
    "description": ("description", str),
    "price_yuan": ("price_fen", lambda text: yuan_to_fen("price_yuan", text)),
    # Left empty: ships free.
    "shipping_fee_yuan": (
        "shipping_fee_fen",
        lambda text: yuan_to_fen("shipping_fee_yuan", text) if text.strip() else 0,
    ),
    "per_customer_limit": (
        "per_customer_limit",
        lambda text: optional_whole_number("per_customer_limit", text),
    ),
    "member_head_start_minutes": (
        "member_head_start_minutes",
        lambda text: whole_number("member_head_start_minutes", text, default=0),
    ),
    "sale_starts_at": (
        "sale_starts_at",
        lambda text: optional_beijing_time("sale_starts_at", text),
    ),
    "sale_ends_at": ("sale_ends_at", lambda text: optional_beijing_time("sale_ends_at", text)),
    "raffle_entries_until": (
        "raffle_entries_until",
        lambda text: optional_beijing_time("raffle_entries_until", text),
    ),
    "raffle_purchase_minutes": (
        "raffle_purchase_minutes",
        lambda text: whole_number("raffle_purchase_minutes", text, default=60),
    ),
}
# The service's name for a field -> the form's, where they differ (errors go beside the field).
FORM_NAMES = {"price_fen": "price_yuan", "shipping_fee_fen": "shipping_fee_yuan"}


def form_errors(exc: DomainError) -> dict[str, str]:
    """A refusal's problems by form field."""
    return {FORM_NAMES.get(name, name): reason for name, reason in field_errors(exc).items()}


def form_text(form: Mapping[str, Any]) -> dict[str, str]:
    """The text fields of a posted form (files left out), line breaks as "\n" (a browser sends
    a textarea's as "\r\n": an unchanged description would read as an edit)."""
    return {
        key: str(form.get(key, "")).replace("\r\n", "\n")
        for key in form
        if isinstance(form.get(key), str)
    }


def yuan_text(fen: int) -> str:
    return f"{fen // 100}" if fen % 100 == 0 else f"{fen // 100}.{fen % 100:02d}"


def beijing_text(moment: datetime | None) -> str:
    """A time as a datetime-local field shows it, in Beijing time."""
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%dT%H:%M}" if moment else ""


def product_text(product: Product) -> dict[str, str]:
    """A product's fields as its edit form shows them."""
    return {
        "title": product.title,
        "category": product.category.name,
        "description": product.description,
        "price_yuan": yuan_text(product.price_fen),
        "shipping_fee_yuan": yuan_text(product.shipping_fee_fen),
        "per_customer_limit": str(product.per_customer_limit or ""),
        "member_head_start_minutes": str(product.member_head_start_minutes),
        "sale_starts_at": beijing_text(product.sale_starts_at),
        "sale_ends_at": beijing_text(product.sale_ends_at),
        "raffle_entries_until": beijing_text(product.raffle_entries_until),
        "raffle_purchase_minutes": str(product.raffle_purchase_minutes),
        "digital": "" if product.requires_shipping else "on",
    }


def read_fields(text: Mapping[str, str], names: list[str], fields: Fields) -> dict[str, Any]:
    """The named form fields read into the services' values; problems are kept in `fields`."""
    values: dict[str, Any] = {}
    for name in names:
        service_name, parse = PARSERS[name]
        raw = text.get(name, "")
        values[service_name] = fields.read(lambda parse=parse, raw=raw: parse(raw))  # type: ignore[misc]
    return values


def read_changes(text: Mapping[str, str], product: Product) -> dict[str, Any]:
    """What the edit form changes: only the fields whose text differs from what the form
    showed (a time shown to the minute is not changed by saving the page again). The shipping
    box counts only when the form offered it (`shipping_field`). Raises ValidationError
    listing every problem, by form field."""
    shown = product_text(product)
    fields = Fields()
    names = [name for name in PARSERS if name in text and text[name].strip() != shown[name].strip()]
    changes = read_fields(text, names, fields)
    if "shipping_field" in text and (text.get("digital") == "on") != (shown["digital"] == "on"):
        changes["requires_shipping"] = text.get("digital") != "on"
    fields.check()
    return changes


def check_required(text: Mapping[str, str], names: list[str]) -> None:
    """Raises ValidationError for each named field left empty."""
    fields = Fields()
    for name in names:
        fields.read(lambda name=name: _required(text, name))  # type: ignore[misc]
    fields.check()


def _required(text: Mapping[str, str], name: str) -> None:
    if not text.get(name, "").strip():
        raise ValidationError(name, "is required")


async def create_from_form(
    request: Request, text: dict[str, str], picture: bytes, *, raffle: bool = False
) -> Product:
    """A product from the console's form (the catalogue's, or the drops page's raffle form);
    every field read before anything is refused (web.forms.Fields). Raises ValidationError."""
    fields = Fields()
    resized = (
        await fields.read_async(resize_upload(picture, request.app.state.pictures))
        if picture
        else None
    )
    names = [name for name in PARSERS if raffle or not name.startswith("raffle_")]
    values = read_fields(text, names, fields)
    stock = fields.read(lambda: whole_number("stock", text.get("stock", ""), default=0))
    if raffle:
        fields.read(lambda: check_required(text, ["raffle_entries_until"]))
    fields.check()
    now = datetime.now(UTC)
    product = await services.create_product(
        **values,
        stock=stock,  # type: ignore[arg-type]  # checked above
        members_only=text.get("members_only") == "on",
        # A checkbox sends nothing when unticked: the form sends "digital" for goods that do
        # not ship.
        requires_shipping=text.get("digital") != "on",
        actor=staff_member(request),
        now=now,
    )
    if resized is not None:
        await services.save_product_image(
            product_id=product.id,
            resized=resized,
            actor=staff_member(request),
            now=now,
        )
    return product


async def read_upload(request: Request) -> tuple[dict[str, str], bytes]:
    form = await read_form(request)
    text = form_text(form)
    upload = form.get("image")
    picture = await upload.read() if isinstance(upload, UploadFile) else b""
    await form.close()
    return text, picture

"""Invoices (发票): a buyer asks for an electronic ordinary invoice on a paid order, personal
(their name) or for a company (its name and taxpayer id); staff issue it through their tax
provider, outside Shuyuan, and attach the PDF; the buyer, and only they, downloads it.

The PDFs are the storage's "invoices/" objects (storage.py; var/invoices/ on local disk),
never under the public media folder: a name with a random part, served by
store.routes.invoice_pdf to the order's buyer and to staff.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import links
from accounts import audit, notices
from accounts.models import User
from errors import ValidationError
from storage import STORAGE
from store.errors import BadOrderState, InvoiceNotFound, InvoiceRequested, OrderNotFound
from store.models import InvoiceKind, InvoiceRequest, InvoiceStatus, Order, OrderStatus

INVOICEABLE = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
MAX_TITLE = 100
# 统一社会信用代码 (18 characters, digits and capitals without I, O, S, V, Z), or an older
# taxpayer id of 15 to 20 digits and capitals.
TAX_ID = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}|[0-9A-Z]{15,20}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}")
MAX_PDF_BYTES = 5 * 1024 * 1024


def pdf_key(name: str) -> str:
    """The storage key of an invoice's PDF named `name` (InvoiceRequest.pdf_name)."""
    return f"invoices/{name}"


def _checked(
    kind: str, title: str, tax_id: str | None, email: str | None
) -> tuple[InvoiceKind, str, str | None, str | None]:
    if kind not in {k.value for k in InvoiceKind}:
        raise ValidationError("kind", "must be personal or company")
    title = " ".join(str(title).split())
    if not 1 <= len(title) <= MAX_TITLE:
        raise ValidationError("title", "must be 1 to 100 characters")
    tax = "".join(str(tax_id or "").split()).upper() or None
    if kind == InvoiceKind.COMPANY:
        if tax is None or not TAX_ID.fullmatch(tax):
            raise ValidationError("tax_id", "must be the company's taxpayer id (18 characters)")
    else:
        tax = None  # a personal invoice carries no taxpayer id
    mail = str(email or "").strip() or None
    if mail is not None and (len(mail) > 254 or not EMAIL.fullmatch(mail)):
        raise ValidationError("email", "must be an email address")
    return InvoiceKind(kind), title, tax, mail


async def ask(
    *, order_id: int, user: User, kind: str, title: str, tax_id: str | None, email: str | None,
    now: datetime,
) -> InvoiceRequest:  # fmt: skip
    """Ask for the invoice of the caller's paid order. Raises ValidationError, OrderNotFound
    (not theirs too), BadOrderState (not paid, or refunded), InvoiceRequested (asked before)."""
    chosen, title, tax, mail = _checked(kind, title, tax_id, email)
    order = await Order.get_or_none(id=order_id, user_id=user.id)
    if order is None:
        raise OrderNotFound()
    if order.status not in INVOICEABLE:
        raise BadOrderState("Only a paid order can have an invoice.")
    try:
        async with in_transaction():
            return await InvoiceRequest.create(
                order_id=order.id, user_id=user.id, kind=chosen, title=title, tax_id=tax,
                email=mail, requested_at=now,
            )  # fmt: skip
    except IntegrityError:
        raise InvoiceRequested() from None


async def waiting(*, limit: int = 200) -> list[InvoiceRequest]:
    """Requests waiting for their PDF, the oldest first."""
    return (
        await InvoiceRequest.filter(status=InvoiceStatus.REQUESTED)
        .order_by("requested_at", "id")
        .limit(limit)
        .select_related("user")
    )


async def attach(
    request_id: int, pdf: bytes, *, actor: User | None, now: datetime
) -> InvoiceRequest:
    """Attach the issued invoice's PDF: the buyer is told and may download it (audit:
    "invoice.attach"). A second PDF replaces the first. Raises InvoiceNotFound,
    ValidationError (not a PDF, or over 5 MB)."""
    invoice = await InvoiceRequest.get_or_none(id=request_id)
    if invoice is None:
        raise InvoiceNotFound()
    if not pdf.startswith(b"%PDF-") or len(pdf) > MAX_PDF_BYTES:
        raise ValidationError("pdf", "must be a PDF file of at most 5 MB")
    name = f"{invoice.id}-{secrets.token_hex(8)}.pdf"
    storage = STORAGE.get()
    await storage.put(pdf_key(name), pdf, "application/pdf")
    before = {"status": invoice.status.value, "pdf_name": invoice.pdf_name}
    async with in_transaction():
        await InvoiceRequest.filter(id=invoice.id).update(
            status=InvoiceStatus.ISSUED, pdf_name=name, issued_at=now
        )
        await notices.notify(
            invoice.user_id,
            kind="invoice_issued",
            params={"order": invoice.order_id},
            link=links.path("store.order_page", id=invoice.order_id),
        )
        await audit.record(
            actor=actor,
            action="invoice.attach",
            object_type="order",
            object_id=invoice.order_id,
            before=before,
            after={"status": InvoiceStatus.ISSUED.value, "pdf_name": name},
            now=now,
        )
    if before["pdf_name"]:
        await storage.delete(pdf_key(str(before["pdf_name"])))
    return await InvoiceRequest.get(id=invoice.id)


async def pdf_for(order_id: int, reader: User) -> str:
    """The storage key of an order's issued invoice's PDF, for its buyer or staff who read
    orders. Raises InvoiceNotFound (nobody else learns there is one)."""
    invoice = await InvoiceRequest.get_or_none(order_id=order_id, status=InvoiceStatus.ISSUED)
    if invoice is None or invoice.pdf_name is None:
        raise InvoiceNotFound()
    if invoice.user_id != reader.id and not reader.may("orders"):
        raise InvoiceNotFound()
    key = pdf_key(invoice.pdf_name)
    if not await STORAGE.get().exists(key):
        raise InvoiceNotFound()
    return key

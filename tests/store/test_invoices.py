"""Invoices (发票, issue 37): a buyer asks on a paid order (personal, or a company with its
taxpayer id), staff attach the PDF their tax provider issued, and only the buyer (and staff
who read orders) downloads it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from starlette.applications import Starlette

from accounts.models import AuditEntry, Notification
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import InvoiceRequest, InvoiceStatus
from tests.factories import bearer, csrf_from, make_user, paid_order, sign_in, token_for

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
COMPANY_ID = "91110108MA01ABCD2X"


async def test_a_company_invoice_is_asked_attached_and_downloaded_only_by_its_buyer(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    product = await store.create_product(
        title="《置身事内》", description="", category="图书", price_fen=6_500, stock=3
    )
    buyer = await make_user()
    order = await paid_order(app.state.payments_provider, settings, buyer, product.id)
    mine = bearer(await token_for(buyer))
    asked = await client.post(
        f"/api/v1/orders/{order.id}/invoice-request",
        json={"kind": "company", "title": "北京书院文化有限公司", "tax_id": COMPANY_ID},
        headers=mine,
    )
    assert asked.status_code == 201
    assert set(asked.json()) == {"id", "status"} and asked.json()["status"] == "requested"
    again = await client.post(
        f"/api/v1/orders/{order.id}/invoice-request",
        json={"kind": "personal", "title": "张三"},
        headers=mine,
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "invoice_requested"

    # Staff attach the PDF on the console; nothing but a PDF is taken.
    admin = await make_user(role="admin")
    await sign_in(client, admin.email or "")
    page = await client.get("/admin/orders")
    assert "北京书院文化有限公司" in page.text and COMPANY_ID in page.text
    csrf = csrf_from(page.text)
    invoice_id = asked.json()["id"]
    not_pdf = await client.post(
        f"/admin/invoices/{invoice_id}/pdf",
        data={"csrf_token": csrf},
        files={"pdf": ("x.pdf", b"<html>not a pdf</html>", "application/pdf")},
    )
    assert not_pdf.status_code == 303
    assert (await InvoiceRequest.get(id=invoice_id)).status == InvoiceStatus.REQUESTED
    attached = await client.post(
        f"/admin/invoices/{invoice_id}/pdf",
        data={"csrf_token": csrf},
        files={"pdf": ("fapiao.pdf", PDF, "application/pdf")},
    )
    assert attached.status_code == 303
    assert (await InvoiceRequest.get(id=invoice_id)).status == InvoiceStatus.ISSUED
    assert await Notification.exists(user_id=buyer.id, kind="invoice_issued")
    assert await AuditEntry.exists(action="invoice.attach", object_id=order.id)

    # The buyer downloads it; another person gets nothing (not even that it exists).
    await sign_in(client, buyer.email or "")
    shown = await client.get(f"/store/orders/{order.id}")
    assert f"/store/orders/{order.id}/invoice.pdf" in shown.text
    pdf = await client.get(f"/store/orders/{order.id}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/pdf"
    stranger = await make_user()
    await sign_in(client, stranger.email or "")
    assert (await client.get(f"/store/orders/{order.id}/invoice.pdf")).status_code == 404


async def test_bad_invoice_requests_are_refused_with_a_reason(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    product = await store.create_product(
        title="书签", description="", category="文创", price_fen=1_000, stock=3
    )
    buyer = await make_user()
    mine = bearer(await token_for(buyer))
    pending = await store.place_order(
        buyer=buyer, items=[store.Wanted(product.id, 1)], now=datetime.now(UTC),
        counter=MemoryCounter(),
    )  # fmt: skip
    unpaid = await client.post(
        f"/api/v1/orders/{pending.id}/invoice-request",
        json={"kind": "personal", "title": "张三"},
        headers=mine,
    )
    assert unpaid.status_code == 409 and unpaid.json()["error"]["code"] == "bad_order_state"
    order = await paid_order(app.state.payments_provider, settings, buyer, product.id)
    no_tax_id = await client.post(
        f"/api/v1/orders/{order.id}/invoice-request",
        json={"kind": "company", "title": "某公司"},
        headers=mine,
    )
    assert no_tax_id.status_code == 422 and no_tax_id.json()["error"]["field"] == "tax_id"
    bad_mail = await client.post(
        f"/api/v1/orders/{order.id}/invoice-request",
        json={"kind": "personal", "title": "张三", "email": "not-an-address"},
        headers=mine,
    )
    assert bad_mail.status_code == 422 and bad_mail.json()["error"]["field"] == "email"
    theirs = await client.post(
        f"/api/v1/orders/{order.id}/invoice-request",
        json={"kind": "personal", "title": "李四"},
        headers=bearer(await token_for(await make_user())),
    )
    assert theirs.status_code == 404
    # The page's form, personal: no taxpayer id kept.
    await sign_in(client, buyer.email or "")
    page = await client.get(f"/store/orders/{order.id}")
    asked = await client.post(
        f"/store/orders/{order.id}/invoice",
        data={"csrf_token": csrf_from(page.text), "kind": "personal", "title": " 张三 ",
              "tax_id": COMPANY_ID},
    )  # fmt: skip
    assert asked.status_code == 303
    invoice = await InvoiceRequest.get(order_id=order.id)
    assert (invoice.kind, invoice.title, invoice.tax_id) == ("personal", "张三", None)

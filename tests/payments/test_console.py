"""The console's payments section: its CSV (the page's filters, every row, formula cells
escaped, an audit entry first), what support may open and what it may not, the jobs page's
guard, and a payment refund's audit entry."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from accounts.models import AuditEntry
from payments import services
from payments.models import Payment, PaymentStatus, PayMethod
from tests.factories import bearer, make_user, sign_in, token_for


async def some_payments() -> list[Payment]:
    """Five payments: three by card (one refused), two by Alipay; one payer named '=1+1'."""
    formula = await make_user(name="=1+1")
    other = await make_user()
    made = []
    for number, (payer, method, status) in enumerate(
        [
            (formula, PayMethod.CARD, PaymentStatus.SUCCEEDED),
            (other, PayMethod.ALIPAY, PaymentStatus.SUCCEEDED),
            (other, PayMethod.CARD, PaymentStatus.FAILED),
            (formula, PayMethod.CARD, PaymentStatus.SUCCEEDED),
            (other, PayMethod.ALIPAY, PaymentStatus.FAILED),
        ]
    ):
        made.append(
            await Payment.create(
                user_id=payer.id,
                purpose="membership",
                subject_id=str(number + 1),
                amount_fen=19_900,
                method=method,
                status=status,
            )
        )
    return made


def parsed(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_the_payments_csv_keeps_the_filters_and_parses_back(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "EXPORT_BATCH", 2)  # the rows come in several batches
    made = await some_payments()
    admin = await make_user(admin=True)
    await sign_in(client, admin.email)
    page = await client.get("/admin/payments", params={"method": "card"})
    assert "/admin/payments.csv?method=card" in page.text

    rows = parsed(await client.get("/admin/payments.csv", params={"method": "card"}))
    assert rows[0][:3] == ["id", "created_at", "user_id"]
    header = rows[0]
    cards = [p for p in made if p.method == PayMethod.CARD]
    assert [int(row[0]) for row in rows[1:]] == [p.id for p in cards]
    first = dict(zip(header, rows[1], strict=True))
    assert first["display_name"] == "'=1+1"
    assert (first["method"], first["status"], first["amount_fen"]) == ("card", "succeeded", "19900")
    assert first["created_at"].endswith("+08:00")  # Asia/Shanghai

    every = parsed(await client.get("/admin/payments.csv"))
    assert len(every) == 1 + len(made)
    failed = parsed(await client.get("/admin/payments.csv", params={"status": "failed"}))
    assert {row[header.index("status")] for row in failed[1:]} == {"failed"}

    entries = await AuditEntry.filter(action="export.payments").order_by("id")
    assert len(entries) == 3
    assert entries[0].actor_id == admin.id  # type: ignore[attr-defined]
    assert entries[0].after == {"filters": {"method": "card"}}


async def test_support_opens_the_payments_but_not_their_export_nor_refunds(
    client: httpx.AsyncClient,
) -> None:
    made = await some_payments()
    support = await make_user(role="support")
    await sign_in(client, support.email)
    page = await client.get("/admin/payments")
    assert page.status_code == 200
    assert "payments.csv" not in page.text  # no export link for support
    assert (await client.get("/admin/payments.csv")).status_code == 403
    assert (await client.get("/admin/jobs")).status_code == 403
    headers = bearer(await token_for(support))
    assert (await client.get("/api/v1/admin/payments", headers=headers)).status_code == 200
    refund = await client.post(f"/api/v1/payments/{made[0].id}/refund", headers=headers)
    assert refund.status_code == 403
    assert (await client.get("/api/v1/admin/jobs", headers=headers)).status_code == 403
    # Reading payments is support's job: any payment, not only their own.
    assert (await client.get(f"/api/v1/payments/{made[0].id}", headers=headers)).status_code == (
        200
    )
    assert not await AuditEntry.exists()


async def test_anonymous_visitors_are_sent_to_sign_in_and_api_callers_get_401(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/admin/payments", "/admin/payments.csv", "/admin/jobs"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/account/login")
    assert (await client.get("/api/v1/admin/payments")).status_code == 401
    assert (await client.get("/api/v1/admin/jobs")).status_code == 401


async def test_a_refused_refund_is_recorded_and_gives_the_amount_back(
    client: httpx.AsyncClient,
) -> None:
    payment = (await some_payments())[0]
    await Payment.filter(id=payment.id).update(provider_intent_id="pi_unknown_to_localstripe")
    admin = await make_user(admin=True)
    refused = await client.post(
        f"/api/v1/payments/{payment.id}/refund", headers=bearer(await token_for(admin))
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_refundable"
    assert (await Payment.get(id=payment.id)).refunded_fen == 0
    entry = await AuditEntry.get(action="payment.refund_failed")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (  # type: ignore[attr-defined]
        admin.id,
        "payment",
        str(payment.id),
    )
    assert entry.before == {"payment_id": payment.id, "status": "succeeded", "refunded_fen": 0}
    assert entry.after is not None
    assert (entry.after["error"], entry.after["refund_fen"]) == ("not_refundable", 19_900)

"""The console's membership section: each staff action's audit entry (before and after), the
members list and its CSV, and what support may not do. Through the real app and localstripe."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts.models import AuditEntry, User
from membership import grants, members
from membership import services as membership
from membership.models import Enrollment, EnrollmentStatus
from payments.errors import PaymentUnavailable
from payments.models import Payment
from tests.factories import (
    bearer,
    csrf_from,
    make_user,
    make_window,
    sign_in,
    token_for,
)
from tests.payments.memory_provider import MemoryProvider


async def only_entry(action: str) -> AuditEntry:
    found = await AuditEntry.filter(action=action)
    assert len(found) == 1, [entry.action for entry in await AuditEntry.all()]
    return found[0]


async def console_page(client: httpx.AsyncClient, path: str = "/admin/membership") -> str:
    page = await client.get(path)
    assert page.status_code == 200
    return page.text


async def paid_enrollment(client: httpx.AsyncClient) -> Enrollment:
    """A seat held and paid by card through the API (localstripe)."""
    window = await make_window(now=datetime.now(UTC), seats=2)
    headers = bearer(await token_for(await make_user()))
    held = await client.post(f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=headers)
    await client.post(
        f"/api/v1/enrollments/{held.json()['id']}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    enrollment = await Enrollment.get(id=held.json()["id"])
    assert enrollment.status == EnrollmentStatus.PAID
    return enrollment


async def granted(**kwargs: object) -> User:
    """A member by a complimentary grant (the members list reads the members' table)."""
    user = await make_user(**kwargs)  # type: ignore[arg-type]
    return await grants.grant_complimentary(user_id=user.id, days=30, now=datetime.now(UTC))


def parsed(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_creating_a_window_records_it_with_its_creator(client: httpx.AsyncClient) -> None:
    admin = await make_user(admin=True)
    opens = datetime.now(UTC) + timedelta(days=1)
    created = await client.post(
        "/api/v1/admin/enrollment-windows",
        json={
            "name": "2031 年度会员",
            "price_fen": 19_900,
            "seats": 5,
            "opens_at": opens.isoformat(),
            "closes_at": (opens + timedelta(days=2)).isoformat(),
        },
        headers=bearer(await token_for(admin)),
    )
    assert created.status_code == 201
    entry = await only_entry("window.create")
    assert (entry.actor_id, entry.object_type) == (admin.id, "window")  # type: ignore[attr-defined]
    assert entry.object_id == str(created.json()["id"])
    assert entry.before is None
    assert entry.after is not None
    assert entry.after["name"] == "2031 年度会员"
    assert entry.after["price_fen"] == 19_900
    assert entry.after["seats"] == 5


async def test_editing_a_window_records_only_what_changed_and_closing_it_too(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, opens_in=timedelta(days=1), seats=3)
    admin = await make_user(admin=True)
    headers = bearer(await token_for(admin))
    url = f"/api/v1/admin/enrollment-windows/{window.id}"
    changed = await client.patch(url, json={"name": "改名后的窗口", "seats": 3}, headers=headers)
    assert changed.status_code == 200
    entry = await only_entry("window.update")
    assert entry.actor_id == admin.id  # type: ignore[attr-defined]
    assert entry.before == {"name": window.name}
    assert entry.after == {"name": "改名后的窗口"}

    closed = await client.patch(url, json={"close_now": True}, headers=headers)
    assert closed.status_code == 200
    entry = await only_entry("window.close")
    assert entry.before == {"closed_at": None}
    assert entry.after is not None and entry.after["closed_at"]


async def test_writing_benefits_records_them_before_and_after(client: httpx.AsyncClient) -> None:
    window = await make_window(now=datetime.now(UTC))
    admin = await make_user(admin=True)
    await sign_in(client, admin.email)
    page = await console_page(client, f"/admin/membership/windows/{window.id}")
    saved = await client.post(
        f"/admin/membership/windows/{window.id}/benefits",
        data={"csrf_token": csrf_from(page), "benefits": "每天一条语音", "faq": ""},
    )
    assert saved.status_code == 303
    entry = await only_entry("window.benefits")
    assert (entry.actor_id, entry.object_id) == (admin.id, str(window.id))  # type: ignore[attr-defined]
    assert entry.before == {"benefits": []}
    assert entry.after == {"benefits": ["每天一条语音"]}


async def test_a_grant_and_a_revocation_record_member_until_before_and_after(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(admin=True)
    person = await make_user(email="qian@example.cn")
    await sign_in(client, admin.email)
    page = await console_page(client)
    granted = await client.post(
        "/admin/membership/grants",
        data={"csrf_token": csrf_from(page), "who": "qian@example.cn", "days": "30"},
    )
    assert granted.status_code == 303
    grant = await only_entry("member.grant")
    assert (grant.actor_id, grant.object_type, grant.object_id) == (  # type: ignore[attr-defined]
        admin.id,
        "user",
        str(person.id),
    )
    assert grant.before == {"member_until": None}
    assert grant.after is not None
    assert grant.after["days"] == 30 and grant.after["source"] == "complimentary"
    until = (await User.get(id=person.id)).member_until
    assert until is not None
    assert datetime.fromisoformat(grant.after["member_until"]) == until

    revoked = await client.post(
        f"/admin/membership/members/{person.id}/revoke", data={"csrf_token": csrf_from(page)}
    )
    assert revoked.status_code == 303
    revoke = await only_entry("member.revoke")
    assert revoke.actor_id == admin.id  # type: ignore[attr-defined]
    assert revoke.before == {"member_until": grant.after["member_until"]}
    assert revoke.after is not None
    assert datetime.fromisoformat(revoke.after["member_until"]) <= datetime.now(UTC)


async def test_refunding_an_enrollment_records_the_payment_before_and_after(
    client: httpx.AsyncClient,
) -> None:
    enrollment = await paid_enrollment(client)
    admin = await make_user(admin=True)
    await sign_in(client, admin.email)
    page = await console_page(client, f"/admin/membership/windows/{enrollment.window_id}")  # type: ignore[attr-defined]
    refunded = await client.post(
        f"/admin/membership/enrollments/{enrollment.id}/refund",
        data={"csrf_token": csrf_from(page)},
    )
    assert refunded.status_code == 303
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.REFUNDED
    entry = await only_entry("enrollment.refund")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (  # type: ignore[attr-defined]
        admin.id,
        "enrollment",
        str(enrollment.id),
    )
    assert entry.before == {
        "payment_id": enrollment.payment_id,
        "status": "succeeded",
        "refunded_fen": 0,
    }
    assert entry.after == {
        "payment_id": enrollment.payment_id,
        "status": "refunded",
        "refunded_fen": enrollment.amount_fen,
        "refund_fen": enrollment.amount_fen,
    }


async def test_a_refund_the_provider_cannot_make_changes_nothing_but_is_recorded(
    client: httpx.AsyncClient,
) -> None:
    enrollment = await paid_enrollment(client)
    admin = await make_user(admin=True)
    with pytest.raises(PaymentUnavailable):
        await membership.refund_enrollment(
            provider=MemoryProvider("late"),  # does not answer
            enrollment_id=enrollment.id,
            now=datetime.now(UTC),
            actor=admin,
        )
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.PAID
    assert (await Payment.get(id=enrollment.payment_id)).refunded_fen == 0
    assert not await AuditEntry.filter(action="enrollment.refund").exists()
    failed = await only_entry("enrollment.refund_failed")
    assert failed.actor_id == admin.id  # type: ignore[attr-defined]
    assert failed.after is not None and failed.after["error"] == "payment_unavailable"


async def test_the_members_list_finds_a_member_by_email(client: httpx.AsyncClient) -> None:
    await granted(email="zhuangzi@example.cn", name="庄周")
    await granted(email="laozi@example.cn", name="李耳")
    former = await granted(email="zhuangzi.former@example.cn")
    await grants.revoke_membership(user_id=former.id, now=datetime.now(UTC))
    await sign_in(client, (await make_user(admin=True)).email)
    page = await client.get("/admin/membership", params={"q": "zhuangzi@"})
    assert page.status_code == 200
    assert "庄周" in page.text
    assert "赠送" in page.text  # how they joined: a complimentary grant
    assert "laozi@example.cn" not in page.text
    assert "zhuangzi.former@example.cn" not in page.text  # current members only, unless asked
    everyone = await client.get("/admin/membership", params={"q": "zhuangzi", "who": "all"})
    assert "zhuangzi.former@example.cn" in everyone.text


async def test_the_members_list_is_paged(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await granted()
    now = datetime.now(UTC)
    first = await members.members_page(now=now, limit=2)
    assert len(first.rows) == 2 and first.next_cursor is not None
    rest = await members.members_page(now=now, limit=2, cursor=first.next_cursor)
    assert len(rest.rows) == 1 and rest.next_cursor is None
    assert {row.number for row in first.rows}.isdisjoint({row.number for row in rest.rows})


async def test_the_members_csv_parses_back_with_formula_cells_escaped(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(members, "EXPORT_BATCH", 2)  # three batches for five members
    admin = await make_user(admin=True)
    formula = await granted(name="=1+1")
    others = [await granted() for _ in range(4)]
    await sign_in(client, admin.email)
    rows = parsed(await client.get("/admin/membership/members.csv"))
    assert rows[0] == ["id", "email", "display_name", "member_until", "joined"]
    assert [int(row[0]) for row in rows[1:]] == [formula.id] + [u.id for u in others]
    assert rows[1][1:3] == [formula.email, "'=1+1"]
    assert rows[1][3].endswith("+08:00")  # Asia/Shanghai
    entry = await only_entry("export.members")
    assert entry.actor_id == admin.id  # type: ignore[attr-defined]


async def test_support_cannot_manage_membership_nor_export_nor_refund(
    client: httpx.AsyncClient,
) -> None:
    enrollment = await paid_enrollment(client)
    support = await make_user(role="support")
    await sign_in(client, support.email)
    assert (await client.get("/admin/membership")).status_code == 403
    assert (await client.get("/admin/membership/members.csv")).status_code == 403
    headers = bearer(await token_for(support))
    refund = await client.post(f"/api/v1/admin/enrollments/{enrollment.id}/refund", headers=headers)
    assert refund.status_code == 403
    assert (await Enrollment.get(id=enrollment.id)).status == EnrollmentStatus.PAID
    assert await AuditEntry.exclude(action="window.create").count() == 0


async def test_the_old_address_leads_to_the_console(client: httpx.AsyncClient) -> None:
    moved = await client.get("/membership/admin?q=qian")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/admin/membership?q=qian"

"""The membership API's fixed shapes, through the real app and a real localstripe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts.models import User
from membership import services as membership
from membership.models import Enrollment, EnrollmentStatus, MembershipGrant
from tests.factories import bearer, make_user, make_window, token_for

NOW = datetime.now(UTC)


def window_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "2027 年度会员",
        "price_fen": 19_900,
        "seats": 3,
        "opens_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "closes_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
    }
    body.update(overrides)
    return body


async def admin_headers() -> dict[str, str]:
    return bearer(await token_for(await make_user(admin=True)))


async def test_an_admin_creates_a_window_and_everyone_sees_it(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/admin/enrollment-windows",
        json=window_body(
            opens_at="2030-01-01T08:00:00+08:00", closes_at="2030-01-03T08:00:00+08:00"
        ),
        headers=await admin_headers(),
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "2027 年度会员",
        "price_fen": 19_900,
        "seats": 3,
        "opens_at": "2030-01-01T00:00:00Z",
        "closes_at": "2030-01-03T00:00:00Z",
        "term_days": 365,
    }
    current = await client.get("/api/v1/enrollment-windows/current")
    assert current.status_code == 200
    assert current.json()["state"] == "upcoming"
    assert current.json()["seats_left"] == 3


async def test_non_admins_cannot_create_windows(client: httpx.AsyncClient) -> None:
    member = bearer(await token_for(await make_user()))
    response = await client.post(
        "/api/v1/admin/enrollment-windows", json=window_body(), headers=member
    )
    assert response.status_code == 403
    anonymous = await client.post("/api/v1/admin/enrollment-windows", json=window_body())
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price_fen": 0}, "price_fen"),
        ({"seats": -1}, "seats"),
        ({"seats": "many"}, "seats"),
        ({"opens_at": "next monday"}, "opens_at"),
        ({"opens_at": "2030-01-01T08:00:00"}, "opens_at"),  # no offset: ambiguous
        ({"closes_at": (datetime.now(UTC) - timedelta(days=9)).isoformat()}, "closes_at"),
        ({"name": ""}, "name"),
        ({"term_days": 0}, "term_days"),
    ],
)
async def test_bad_window_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, overrides: dict[str, object], field: str
) -> None:
    response = await client.post(
        "/api/v1/admin/enrollment-windows",
        json=window_body(**overrides),
        headers=await admin_headers(),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_overlapping_windows_are_refused(client: httpx.AsyncClient) -> None:
    headers = await admin_headers()
    first = await client.post(
        "/api/v1/admin/enrollment-windows", json=window_body(), headers=headers
    )
    assert first.status_code == 201
    second = await client.post(
        "/api/v1/admin/enrollment-windows", json=window_body(), headers=headers
    )
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "window_overlap"


async def test_no_window_is_404_no_window(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/enrollment-windows/current")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_window"


async def test_enroll_pay_and_become_a_member(client: httpx.AsyncClient) -> None:
    window = await make_window(now=datetime.now(UTC), seats=2)
    buyer = await make_user()
    headers = bearer(await token_for(buyer))

    held = await client.post(f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=headers)
    assert held.status_code == 201
    body = held.json()
    assert body["status"] == "pending_payment"
    assert body["amount_fen"] == 19_900
    expires = datetime.fromisoformat(body["hold_expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    current = await client.get("/api/v1/enrollment-windows/current")
    assert current.json()["seats_left"] == 1

    paid = await client.post(
        f"/api/v1/enrollments/{body['id']}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert paid.status_code == 200
    assert paid.json()["status"] == "paid"
    me = (await client.get("/api/v1/me", headers=headers)).json()
    until = datetime.fromisoformat(me["member_until"].replace("Z", "+00:00"))
    assert timedelta(days=364) < until - datetime.now(UTC) <= timedelta(days=365)
    user = await User.get(id=buyer.id)
    assert membership.is_member(user, at=datetime.now(UTC))
    assert not membership.is_member(user, at=until)

    again = await client.post(
        f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_member"


async def test_a_declined_card_keeps_the_seat_and_another_card_pays_it(
    client: httpx.AsyncClient,
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    headers = bearer(await token_for(await make_user()))
    held = (
        await client.post(f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=headers)
    ).json()
    response = await client.post(
        f"/api/v1/enrollments/{held['id']}/payment",
        json={"payment_method": "pm_card_chargeCustomerFail"},
        headers={**headers, "Accept-Language": "en"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["reason"] == "Your card was declined."  # our words, not Stripe's
    assert response.json()["reason_code"] == "card_declined"
    again = await client.post(
        f"/api/v1/enrollments/{held['id']}/payment",
        json={"payment_method": "pm_card_chargeCustomerFail"},
        headers={**headers, "Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert again.json()["reason"] == "你的银行卡被拒绝。"
    assert (await client.get("/api/v1/enrollment-windows/current")).json()["seats_left"] == 0
    assert (await client.get(f"/api/v1/enrollments/{held['id']}", headers=headers)).json()[
        "status"
    ] == "pending_payment"
    paid = await client.post(
        f"/api/v1/enrollments/{held['id']}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert paid.status_code == 200
    assert paid.json()["status"] == "paid"


@pytest.mark.parametrize(
    ("opens_in", "lasts", "code"),
    [
        (timedelta(hours=1), timedelta(days=1), "not_open"),
        (timedelta(days=-2), timedelta(days=1), "closed"),
    ],
)
async def test_enrolling_outside_the_window_is_409(
    client: httpx.AsyncClient, opens_in: timedelta, lasts: timedelta, code: str
) -> None:
    now = datetime.now(UTC)
    window = await make_window(
        now=now - timedelta(days=3) if code == "closed" else now,
        opens_in=opens_in if code != "closed" else timedelta(0),
        lasts=lasts,
    )
    headers = bearer(await token_for(await make_user()))
    response = await client.post(
        f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == code


async def test_one_person_holds_one_seat_and_a_full_window_is_sold_out(
    client: httpx.AsyncClient,
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    first = bearer(await token_for(await make_user()))
    url = f"/api/v1/enrollment-windows/{window.id}/enrollments"
    assert (await client.post(url, headers=first)).status_code == 201
    twice = await client.post(url, headers=first)
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "already_enrolled"
    other = await client.post(url, headers=bearer(await token_for(await make_user())))
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "sold_out"
    assert (await client.post(url)).status_code == 401


async def test_the_waitlist_gets_a_returned_seat_first(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=1)
    holder, first, second = await make_user(), await make_user(), await make_user()
    url = f"/api/v1/enrollment-windows/{window.id}"
    seats_url = f"{url}/enrollments"
    assert (
        await client.post(seats_url, headers=bearer(await token_for(holder)))
    ).status_code == 201
    one = await client.post(f"{url}/waitlist", headers=bearer(await token_for(first)))
    two = await client.post(f"{url}/waitlist", headers=bearer(await token_for(second)))
    assert (one.status_code, one.json()) == (201, {"position": 1})
    assert (two.status_code, two.json()) == (201, {"position": 2})

    # The holder never pays: the hold runs out and the seat is offered to `first` only.
    assert (
        await membership.release_expired_holds(provider=None, now=now + timedelta(minutes=16)) == 1
    )
    assert (await client.get("/api/v1/enrollment-windows/current")).json()["seats_left"] == 0
    refused = await client.post(seats_url, headers=bearer(await token_for(second)))
    assert refused.json()["error"]["code"] == "sold_out"
    taken = await client.post(seats_url, headers=bearer(await token_for(first)))
    assert taken.status_code == 201
    from accounts.models import Notification

    assert await Notification.filter(user_id=first.id, kind="seat_offered").count() == 1


async def test_an_unclaimed_offer_passes_to_the_next_in_line(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=1)
    holder, first, second = await make_user(), await make_user(), await make_user()
    await membership.enroll(window_id=window.id, user=holder, now=now)
    await membership.join_waitlist(window_id=window.id, user=first, now=now)
    await membership.join_waitlist(window_id=window.id, user=second, now=now)
    await membership.release_expired_holds(provider=None, now=now + timedelta(minutes=16))
    assert await membership.expire_offers(now=now + timedelta(minutes=27)) == 1
    held = await membership.enroll(
        window_id=window.id, user=second, now=now + timedelta(minutes=28)
    )
    assert held.status == EnrollmentStatus.PENDING_PAYMENT


async def test_admins_grant_and_revoke_complimentary_memberships(client: httpx.AsyncClient) -> None:
    person = await make_user()
    headers = await admin_headers()
    response = await client.post(
        "/api/v1/admin/members", json={"user_id": person.id, "days": 30}, headers=headers
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user_id"] == person.id
    first_until = datetime.fromisoformat(body["member_until"].replace("Z", "+00:00"))
    again = await client.post(
        "/api/v1/admin/members", json={"user_id": person.id, "days": 30}, headers=headers
    )
    second_until = datetime.fromisoformat(again.json()["member_until"].replace("Z", "+00:00"))
    assert second_until - first_until == timedelta(days=30)  # extends from the end
    assert await MembershipGrant.filter(user_id=person.id, source="complimentary").count() == 2

    missing = await client.post(
        "/api/v1/admin/members", json={"user_id": 999_999, "days": 30}, headers=headers
    )
    assert missing.status_code == 404
    bad = await client.post(
        "/api/v1/admin/members", json={"user_id": person.id, "days": 0}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "days"
    forbidden = await client.post(
        "/api/v1/admin/members",
        json={"user_id": person.id, "days": 30},
        headers=bearer(await token_for(person)),
    )
    assert forbidden.status_code == 403

    revoked = await client.delete(f"/api/v1/admin/members/{person.id}", headers=headers)
    assert revoked.status_code == 200
    assert not membership.is_member(
        await User.get(id=person.id), at=datetime.now(UTC) + timedelta(seconds=1)
    )


async def test_refunding_an_enrollment_ends_the_membership_and_returns_the_seat(
    client: httpx.AsyncClient,
) -> None:
    window = await make_window(now=datetime.now(UTC), seats=1)
    buyer = await make_user()
    headers = bearer(await token_for(buyer))
    held = (
        await client.post(f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=headers)
    ).json()
    await client.post(
        f"/api/v1/enrollments/{held['id']}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=headers,
    )
    assert (await client.get("/api/v1/enrollment-windows/current")).json()["seats_left"] == 0

    refunded = await client.post(
        f"/api/v1/admin/enrollments/{held['id']}/refund", headers=await admin_headers()
    )
    assert refunded.status_code == 200
    assert refunded.json()["status"] == "refunded"
    assert not membership.is_member(
        await User.get(id=buyer.id), at=datetime.now(UTC) + timedelta(seconds=1)
    )
    assert (await client.get("/api/v1/enrollment-windows/current")).json()["seats_left"] == 1


async def test_an_admin_extends_and_closes_an_open_window(client: httpx.AsyncClient) -> None:
    window = await make_window(now=datetime.now(UTC), seats=5)
    headers = await admin_headers()
    url = f"/api/v1/admin/enrollment-windows/{window.id}"
    later = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    extended = await client.patch(url, json={"closes_at": later}, headers=headers)
    assert extended.status_code == 200
    locked = await client.patch(url, json={"price_fen": 1}, headers=headers)
    assert locked.status_code == 409
    assert locked.json()["error"]["code"] == "window_started"
    closed = await client.patch(url, json={"close_now": True}, headers=headers)
    assert closed.status_code == 200
    current = (await client.get("/api/v1/enrollment-windows/current")).json()
    assert current["state"] == "closed"


async def test_the_current_window_gives_back_holds_that_ran_out_as_the_page_does(
    client: httpx.AsyncClient,
) -> None:
    # One service (membership.services.current_window) for the page and the API.
    window = await make_window(now=datetime.now(UTC), seats=1)
    holder = bearer(await token_for(await make_user()))
    held = await client.post(f"/api/v1/enrollment-windows/{window.id}/enrollments", headers=holder)
    assert held.status_code == 201
    assert (await client.get("/api/v1/enrollment-windows/current")).json()["seats_left"] == 0
    ran_out = datetime.now(UTC) - timedelta(seconds=1)
    await Enrollment.filter(id=held.json()["id"]).update(hold_expires_at=ran_out)
    current = await client.get("/api/v1/enrollment-windows/current")
    assert current.json()["seats_left"] == 1
    assert (await Enrollment.get(id=held.json()["id"])).status == EnrollmentStatus.EXPIRED


BENEFITS = ["每天一条六十秒语音", "会员专属文章与播客", "会员广场：求职、招聘、问答"]
FAQ = [
    {"question": "可以退款吗？", "answer": "开通后七天内可全额退款。"},
    {"question": "会员到期后怎样？", "answer": "到期前三十天提醒你续费。\n续费从原到期日算起。"},
]


async def test_benefits_and_faq_are_written_changed_and_shown_with_the_current_window(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin_headers()
    created = await client.post(
        "/api/v1/admin/enrollment-windows",
        json=window_body(benefits=BENEFITS, faq=FAQ),
        headers=headers,
    )
    assert created.status_code == 201
    current = (await client.get("/api/v1/enrollment-windows/current")).json()
    assert current["benefits"] == BENEFITS
    assert current["faq"] == FAQ

    # The window is open: its schedule is fixed, what its page says is not.
    url = f"/api/v1/admin/enrollment-windows/{created.json()['id']}"
    changed = await client.patch(
        url, json={"benefits": ["  每天一条语音  ", *BENEFITS[1:]], "faq": FAQ[:1]}, headers=headers
    )
    assert changed.status_code == 200
    current = (await client.get("/api/v1/enrollment-windows/current")).json()
    assert current["benefits"] == ["每天一条语音", *BENEFITS[1:]]
    assert current["faq"] == FAQ[:1]
    untouched = await client.patch(
        url, json={"closes_at": window_body()["closes_at"]}, headers=headers
    )
    assert untouched.status_code == 200
    assert (await client.get("/api/v1/enrollment-windows/current")).json()["faq"] == FAQ[:1]
    cleared = await client.patch(url, json={"benefits": [], "faq": []}, headers=headers)
    assert cleared.status_code == 200
    current = (await client.get("/api/v1/enrollment-windows/current")).json()
    assert (current["benefits"], current["faq"]) == ([], [])


async def test_a_window_made_without_benefits_shows_empty_lists(client: httpx.AsyncClient) -> None:
    await make_window(now=datetime.now(UTC))
    current = (await client.get("/api/v1/enrollment-windows/current")).json()
    assert (current["benefits"], current["faq"]) == ([], [])


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"benefits": ["权益"] * 13}, "benefits", "must have at most 12 entries"),
        ({"benefits": ["长" * 121]}, "benefits[0]", "must be at most 120 characters"),
        ({"benefits": ["  "]}, "benefits[0]", "must not be blank or hold control characters"),
        ({"faq": [FAQ[0]] * 13}, "faq", "must have at most 12 entries"),
        (
            {"faq": [{"question": "问" * 121, "answer": "答"}]},
            "faq[0].question",
            "must be at most 120 characters",
        ),
        (
            {"faq": [FAQ[0], {"question": "问", "answer": "答" * 1001}]},
            "faq[1].answer",
            "must be at most 1000 characters",
        ),
        ({"faq": [{"question": "只有问题"}]}, "faq[0].answer", "is required"),
    ],
)
async def test_benefits_and_faq_beyond_their_limits_are_422_saying_which(
    client: httpx.AsyncClient, overrides: dict[str, object], field: str, message: str
) -> None:
    headers = {**await admin_headers(), "Accept-Language": "en"}
    created = await client.post(
        "/api/v1/admin/enrollment-windows", json=window_body(**overrides), headers=headers
    )
    assert created.status_code == 422
    assert created.json()["error"]["field"] == field
    assert created.json()["error"]["message"] == f"{field}: {message}"
    window = await make_window(now=datetime.now(UTC), opens_in=timedelta(days=30))
    changed = await client.patch(
        f"/api/v1/admin/enrollment-windows/{window.id}", json=overrides, headers=headers
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["field"] == field

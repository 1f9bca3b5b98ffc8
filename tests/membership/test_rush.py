"""The rush at opening: many people, few seats, never more members than seats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts import services as accounts
from accounts.models import User
from membership import services as membership
from membership import windows
from membership.models import Enrollment, EnrollmentStatus, Seat
from tests.factories import bearer, make_user, make_users, make_window


@pytest.mark.postgres_only  # concurrency means something on PostgreSQL only
async def test_500_concurrent_enrollments_for_50_seats_hold_exactly_50(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=50)
    people = await make_users(500)
    tokens = [await accounts.issue_token(person, name="rush") for person in people]
    url = f"/api/v1/enrollment-windows/{window.id}/enrollments"

    responses = await asyncio.gather(*(client.post(url, headers=bearer(t)) for t in tokens))
    statuses = [response.status_code for response in responses]
    assert statuses.count(201) == 50
    assert statuses.count(409) == 450
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"sold_out"}
    assert await Seat.filter(window_id=window.id, enrollment_id__isnull=False).count() == 50
    assert await Enrollment.filter(status=EnrollmentStatus.PENDING_PAYMENT).count() == 50

    # 30 pay (concurrently, through localstripe), 20 let their hold run out.
    held = [r.json()["id"] for r in responses if r.status_code == 201]
    owners = {e.id: e.user_id for e in await Enrollment.filter(id__in=held)}  # type: ignore[attr-defined]
    token_of = dict(zip([p.id for p in people], tokens, strict=True))
    payments = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/enrollments/{enrollment_id}/payment",
                json={"payment_method": "pm_card_visa"},
                headers=bearer(token_of[owners[enrollment_id]]),
            )
            for enrollment_id in held[:30]
        )
    )
    assert [p.json()["status"] for p in payments] == ["paid"] * 30
    released = await membership.release_expired_holds(
        provider=None, now=now + timedelta(minutes=16)
    )
    assert released == 20
    assert await windows.seats_left(window, now=now + timedelta(minutes=16)) == 20
    members = await User.filter(member_until__gt=now + timedelta(minutes=16)).count()
    assert members == 30
    assert members <= window.seats


@pytest.mark.postgres_only  # concurrency means something on PostgreSQL only
async def test_one_persons_double_click_holds_one_seat(client: httpx.AsyncClient) -> None:
    window = await make_window(now=datetime.now(UTC), seats=5)
    person = await make_user()
    token = await accounts.issue_token(person, name="double")
    url = f"/api/v1/enrollment-windows/{window.id}/enrollments"
    responses = await asyncio.gather(*(client.post(url, headers=bearer(token)) for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    assert await Seat.filter(window_id=window.id, enrollment_id__isnull=False).count() == 1


async def test_a_member_in_their_last_month_renews_from_the_end(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    window = await make_window(now=now, seats=5)
    person = await make_user()
    ends = now + timedelta(days=20)
    await User.filter(id=person.id).update(member_until=ends)
    enrollment = await membership.enroll(
        window_id=window.id, user=await User.get(id=person.id), now=now
    )
    token = await accounts.issue_token(person, name="renew")
    paid = await client.post(
        f"/api/v1/enrollments/{enrollment.id}/payment",
        json={"payment_method": "pm_card_visa"},
        headers=bearer(token),
    )
    assert paid.json()["status"] == "paid"
    renewed = await User.get(id=person.id)
    assert renewed.member_until == ends + timedelta(days=365)

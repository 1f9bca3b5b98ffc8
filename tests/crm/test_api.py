"""The outreach API: segments and broadcasts in their fixed shapes, their refusals, and who may
call them (admins; support staff are refused)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts.models import AuditEntry
from crm import broadcasts
from crm.models import Broadcast, BroadcastStatus, Segment
from tests.factories import bearer, make_member, make_user, token_for


async def admin_headers() -> dict[str, str]:
    return bearer(await token_for(await make_user(role="admin")))


async def send_everything() -> None:
    now = datetime.now(UTC)
    while (await broadcasts.send_due(now=now)).delivered or await Broadcast.filter(
        status=BroadcastStatus.SENDING
    ).exists():
        pass


async def test_a_saved_segment_answers_its_id_and_its_count(client: httpx.AsyncClient) -> None:
    headers = await admin_headers()
    await make_member()
    await make_member()
    await make_user()
    answer = await client.post(
        "/api/v1/admin/segments",
        json={"name": "会员", "filter": {"membership": "member"}},
        headers=headers,
    )
    assert answer.status_code == 201
    segment = await Segment.get(name="会员")
    assert answer.json() == {"id": segment.id, "count": 2}
    assert segment.rules == {"membership": "member"}
    assert await AuditEntry.filter(action="segment.create", object_id=str(segment.id)).exists()


async def test_an_empty_filter_selects_everyone(client: httpx.AsyncClient) -> None:
    headers = await admin_headers()  # the admin is someone too
    await make_user()
    answer = await client.post(
        "/api/v1/admin/segments", json={"name": "所有人", "filter": {}}, headers=headers
    )
    assert answer.json()["count"] == 2


async def test_a_segment_name_already_taken_is_409(client: httpx.AsyncClient) -> None:
    headers = await admin_headers()
    body = {"name": "即将到期", "filter": {"expires_within_days": 30}}
    assert (await client.post("/api/v1/admin/segments", json=body, headers=headers)).is_success
    again = await client.post("/api/v1/admin/segments", json=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "name_taken"


@pytest.mark.parametrize(
    "rules",
    [
        {"membership": "sometimes"},
        {"expires_within_days": 0},
        {"expires_within_days": 400},
        {"tag": "a\x00b"},
        {"colour": "red"},  # a misspelt condition must not select everyone
    ],
)
async def test_a_bad_filter_is_422(client: httpx.AsyncClient, rules: dict) -> None:
    answer = await client.post(
        "/api/v1/admin/segments",
        json={"name": "坏的", "filter": rules},
        headers=await admin_headers(),
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_field"
    assert not await Segment.exists()


async def test_segments_are_listed_with_live_counts_and_deleted(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin_headers()
    made = await client.post(
        "/api/v1/admin/segments",
        json={"name": "会员", "filter": {"membership": "member"}},
        headers=headers,
    )
    await make_member()  # joins after the segment was saved: counted live
    listed = (await client.get("/api/v1/admin/segments", headers=headers)).json()["items"]
    assert [(s["id"], s["name"], s["filter"], s["count"]) for s in listed] == [
        (made.json()["id"], "会员", {"membership": "member"}, 1)
    ]
    path = f"/api/v1/admin/segments/{made.json()['id']}"
    assert (await client.delete(path, headers=headers)).status_code == 204
    assert (await client.delete(path, headers=headers)).status_code == 404


async def test_support_staff_are_refused_every_outreach_operation(
    client: httpx.AsyncClient,
) -> None:
    support = bearer(await token_for(await make_user(role="support")))
    calls = [
        client.get("/api/v1/admin/segments", headers=support),
        client.post("/api/v1/admin/segments", json={"name": "x", "filter": {}}, headers=support),
        client.post(
            "/api/v1/admin/broadcasts",
            json={"title": "x", "body": "x", "audience": {"kind": "everyone"}},
            headers=support,
        ),
        client.get("/api/v1/admin/broadcasts", headers=support),
        client.get("/api/v1/admin/broadcasts/1", headers=support),
        client.post("/api/v1/admin/broadcasts/1/cancel", headers=support),
    ]
    for call in calls:
        answer = await call
        assert answer.status_code == 403, answer.request.url
        assert answer.json()["error"]["code"] == "forbidden"
    assert not await Broadcast.exists()


async def test_a_broadcast_sent_now_answers_its_id_recipients_and_status(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin_headers()
    await make_member()
    await make_member()
    answer = await client.post(
        "/api/v1/admin/broadcasts",
        json={"title": "今天的书单", "body": "读**这本**。", "audience": {"kind": "all_members"}},
        headers=headers,
    )
    assert answer.status_code == 201
    broadcast = await Broadcast.get()
    assert answer.json() == {
        "id": broadcast.id,
        "recipients": 2,
        "status": "sending",
        "watched_words": [],
    }


async def test_a_broadcast_s_counters_after_it_is_sent(client: httpx.AsyncClient) -> None:
    headers = await admin_headers()
    members = [await make_member() for _ in range(3)]
    first = await client.post(
        "/api/v1/admin/broadcasts",
        json={"title": "一", "body": "一", "audience": {"kind": "all_members"}},
        headers=headers,
    )
    await send_everything()
    await make_user()  # someone new, not yet reached today
    second = await client.post(
        "/api/v1/admin/broadcasts",
        json={"title": "二", "body": "二", "audience": {"kind": "everyone"}},
        headers=headers,
    )
    assert second.json()["recipients"] == 5  # three members, the admin and the newcomer
    await send_everything()
    answer = await client.get(f"/api/v1/admin/broadcasts/{second.json()['id']}", headers=headers)
    assert answer.status_code == 200
    got = answer.json()
    fixed = {k: got[k] for k in ("id", "status", "recipients", "delivered", "failed")}
    assert fixed == {
        "id": second.json()["id"],
        "status": "sent",
        "recipients": 5,
        "delivered": 2,  # the admin and the newcomer
        "failed": 0,
    }
    assert (got["skipped"], got["clicks"], got["mailed"]) == (len(members), 0, 0)
    assert got["audience"] == {"kind": "everyone", "id": None}
    assert got["started_at"] and got["finished_at"] and got["send_at"].endswith("Z")
    listed = (await client.get("/api/v1/admin/broadcasts", headers=headers)).json()["items"]
    assert [b["id"] for b in listed] == [second.json()["id"], first.json()["id"]]


async def test_a_broadcast_whose_every_recipient_was_reached_today_is_409_daily_limit(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin_headers()
    await make_member()
    body = {"title": "一", "body": "一", "audience": {"kind": "all_members"}}
    assert (await client.post("/api/v1/admin/broadcasts", json=body, headers=headers)).is_success
    await send_everything()
    again = await client.post("/api/v1/admin/broadcasts", json=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "daily_limit"
    assert await Broadcast.all().count() == 1


async def test_an_empty_audience_is_422_empty_audience(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/api/v1/admin/broadcasts",
        json={"title": "一", "body": "一", "audience": {"kind": "all_members"}},
        headers=await admin_headers(),
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "empty_audience"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"audience": {"kind": "segment"}}, "audience.id"),
        ({"audience": {"kind": "product_buyers", "id": None}}, "audience.id"),
        ({"audience": {"kind": "friends"}}, "audience.kind"),
        ({"send_at": "2030-01-01T08:00:00"}, "send_at"),  # no offset: whose eight o'clock?
        ({"send_at": "2001-01-01T08:00:00+08:00"}, "send_at"),  # in the past
        ({"title": "   "}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"body": ""}, "body"),
    ],
)
async def test_bad_fields_of_a_broadcast_are_422(
    client: httpx.AsyncClient, change: dict, field: str
) -> None:
    await make_member()
    body = {"title": "一", "body": "一", "audience": {"kind": "all_members"}, **change}
    answer = await client.post("/api/v1/admin/broadcasts", json=body, headers=await admin_headers())
    assert answer.status_code == 422
    assert (answer.json()["error"]["code"], answer.json()["error"]["field"]) == (
        "invalid_field",
        field,
    )


@pytest.mark.parametrize("kind", ["segment", "product_buyers"])
async def test_an_unknown_segment_or_product_is_404(client: httpx.AsyncClient, kind: str) -> None:
    answer = await client.post(
        "/api/v1/admin/broadcasts",
        json={"title": "一", "body": "一", "audience": {"kind": kind, "id": 999_999}},
        headers=await admin_headers(),
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


async def test_a_broadcast_to_a_segment_counts_the_segment_s_people(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin_headers()
    await make_member(days=10)
    await make_member(days=100)
    segment = await client.post(
        "/api/v1/admin/segments",
        json={"name": "即将到期", "filter": {"expires_within_days": 30}},
        headers=headers,
    )
    assert segment.json()["count"] == 1
    answer = await client.post(
        "/api/v1/admin/broadcasts",
        json={
            "title": "续费提醒",
            "body": "该续费了。",
            "audience": {"kind": "segment", "id": segment.json()["id"]},
        },
        headers=headers,
    )
    assert answer.json()["recipients"] == 1


async def test_a_scheduled_broadcast_is_canceled_once(client: httpx.AsyncClient) -> None:
    headers = await admin_headers()
    await make_member()
    at = (datetime.now(UTC) + timedelta(days=1)).astimezone().isoformat()
    made = await client.post(
        "/api/v1/admin/broadcasts",
        json={"title": "明天", "body": "明天见", "audience": {"kind": "everyone"}, "send_at": at},
        headers=headers,
    )
    assert made.status_code == 201
    assert made.json()["status"] == "scheduled"
    path = f"/api/v1/admin/broadcasts/{made.json()['id']}/cancel"
    canceled = await client.post(path, headers=headers)
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    again = await client.post(path, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_scheduled"


async def test_an_unknown_broadcast_is_404(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/admin/broadcasts/999999", headers=await admin_headers())
    assert answer.status_code == 404

"""Customer service's API in its fixed shapes: a member's conversations, their messages, the
staff's queue; who may call what; and refusals with a code, never a server error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts.models import Notification
from ratelimit import MemoryCounter
from support import services
from support.models import Conversation
from tests.factories import bearer, make_member, make_user, token_for


async def headers_of(role: str | None = None) -> tuple[dict[str, str], int]:
    person = await make_member() if role is None else await make_user(role=role)
    return bearer(await token_for(person)), person.id


async def test_a_member_starts_a_conversation_and_lists_it(client: httpx.AsyncClient) -> None:
    member, member_id = await headers_of()
    started = await client.post(
        "/api/v1/conversations",
        json={"body": "会员卡在哪里？", "page": "/membership"},
        headers=member,
    )
    assert started.status_code == 201
    assert set(started.json()) == {"id"}
    listed = await client.get("/api/v1/conversations", headers=member)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["id"] == started.json()["id"]
    assert (item["user_id"], item["status"], item["first_response_at"]) == (
        member_id,
        "waiting",
        None,
    )
    thread = await client.get(f"/api/v1/conversations/{item['id']}", headers=member)
    [message] = thread.json()["messages"]
    assert (message["body"], message["page"], message["from_staff"], message["picture"]) == (
        "会员卡在哪里？",
        "/membership",
        False,
        None,
    )


async def test_staff_answer_through_the_same_endpoint_and_the_member_is_told(
    client: httpx.AsyncClient,
) -> None:
    member, member_id = await headers_of()
    staff, _staff_id = await headers_of("support")
    started = await client.post("/api/v1/conversations", json={"body": "发票？"}, headers=member)
    conversation_id = started.json()["id"]
    answered = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": "可以开。"},
        headers=staff,
    )
    assert answered.status_code == 201 and set(answered.json()) == {"id"}
    assert await Notification.filter(user_id=member_id, kind="support_reply").count() == 1
    thread = (await client.get(f"/api/v1/conversations/{conversation_id}", headers=member)).json()
    assert thread["status"] == "answered"
    assert [m["from_staff"] for m in thread["messages"]] == [False, True]
    assert thread["messages"][1]["author_id"] is None  # staff are not named to the member
    again = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"body": "好的"}, headers=member
    )
    assert again.status_code == 201


async def test_the_queue_answers_its_fixed_shape_the_longest_waiting_first(
    client: httpx.AsyncClient,
) -> None:
    first, second = await make_member(), await make_member()
    now = datetime.now(UTC)
    older = await services.start(
        first, body="早一点的问题", now=now - timedelta(hours=2), counter=MemoryCounter()
    )
    newer = await services.start(
        second, body="晚一点的问题", now=now - timedelta(hours=1), counter=MemoryCounter()
    )
    staff, _ = await headers_of("support")
    queued = await client.get(
        "/api/v1/admin/conversations", params={"status": "waiting"}, headers=staff
    )
    assert queued.status_code == 200
    items = queued.json()["items"]
    assert [i["id"] for i in items] == [older.id, newer.id]
    assert {"id", "user_id", "waiting_since", "last_message"} <= set(items[0])
    assert items[0]["user_id"] == first.id
    assert items[0]["waiting_since"] == (now - timedelta(hours=2)).isoformat().replace(
        "+00:00", "Z"
    )
    assert items[0]["last_message"]["body"] == "早一点的问题"
    assert queued.json()["median_first_response_seconds"] is None


@pytest.mark.parametrize("role", [None, "moderator"])
async def test_only_staff_who_answer_read_the_queue(
    client: httpx.AsyncClient, role: str | None
) -> None:
    headers, _ = await headers_of(role)
    assert (await client.get("/api/v1/admin/conversations", headers=headers)).status_code == 403
    assert (await client.get("/api/v1/admin/conversations")).status_code == 401


async def test_another_member_s_conversation_is_404_and_the_signed_out_are_401(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_member()
    conversation = await services.start(
        owner, body="私事", now=datetime.now(UTC), counter=MemoryCounter()
    )
    other, _ = await headers_of()
    for method, path, body in (
        ("GET", f"/api/v1/conversations/{conversation.id}", None),
        ("POST", f"/api/v1/conversations/{conversation.id}/messages", {"body": "看看"}),
        ("POST", f"/api/v1/conversations/{conversation.id}/close", None),
    ):
        refused = await client.request(method, path, json=body, headers=other)
        assert refused.status_code == 404, path
        assert refused.json()["error"]["code"] == "conversation_not_found"
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, path
    assert (await client.get("/api/v1/conversations")).status_code == 401
    assert (await client.post("/api/v1/conversations", json={"body": "嗨"})).status_code == 401
    missing = await client.get("/api/v1/conversations/999999", headers=other)
    assert (
        missing.status_code == 404 and missing.json()["error"]["code"] == "conversation_not_found"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "长" * 2001}, "body"),
        ({}, "body"),
        ({"body": 5}, "body"),
        ({"body": "好", "page": "https://evil.example/"}, "page"),
        ({"body": "好", "page": "/" + "x" * 300}, "page"),
        ({"body": "好", "page": "/account/reset/" + "t" * 43}, "page"),
        ({"body": "好", "page": "/store?coupon=secret"}, "page"),
    ],
)
async def test_a_bad_message_is_422_naming_its_field(
    client: httpx.AsyncClient, body: dict, field: str
) -> None:
    member, _ = await headers_of()
    refused = await client.post("/api/v1/conversations", json=body, headers=member)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_field"
    assert refused.json()["error"]["field"] == field
    assert not await Conversation.exists()


async def test_a_twenty_first_message_in_an_hour_is_429(client: httpx.AsyncClient) -> None:
    member, _ = await headers_of()
    started = await client.post("/api/v1/conversations", json={"body": "一"}, headers=member)
    path = f"/api/v1/conversations/{started.json()['id']}/messages"
    for n in range(19):
        assert (await client.post(path, json={"body": str(n)}, headers=member)).status_code == 201
    limited = await client.post(path, json={"body": "再一条"}, headers=member)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert "retry-after" in limited.headers


async def test_a_member_closes_a_conversation_and_writing_opens_it_again(
    client: httpx.AsyncClient,
) -> None:
    member, _ = await headers_of()
    started = await client.post("/api/v1/conversations", json={"body": "问题"}, headers=member)
    conversation_id = started.json()["id"]
    closed = await client.post(f"/api/v1/conversations/{conversation_id}/close", headers=member)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"body": "又来了"}, headers=member
    )
    listed = (await client.get("/api/v1/conversations", headers=member)).json()["items"]
    assert listed[0]["status"] == "waiting"

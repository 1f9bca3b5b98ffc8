"""Watched words in a member's messages to customer service (issue 38): a blocked word refuses
the message (422 blocked_words; on the page beside the text, what was typed kept); a censored
one is kept as ■; a word that requires approval or a flag word lets it through to the staff
(its only readers) and queues it as flagged; a rejection changes no message but tells the
member why. Staff answers are not checked."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from accounts.models import AuditEntry, Notification
from moderation import words
from moderation.models import ReviewItem
from support.models import Conversation, Message
from tests.factories import bearer, csrf_from, make_member, make_user, sign_in, token_for

CONVERSATIONS = "/api/v1/conversations"
QUEUE = "/api/v1/admin/review-queue"


async def watch(action: str, *found: str) -> None:
    await words.add_words(action, list(found), actor=None, now=datetime.now(UTC))


async def test_a_blocked_word_refuses_a_message_naming_it(client: httpx.AsyncClient) -> None:
    await watch("block", "法轮")
    member = bearer(await token_for(await make_member()))
    refused = await client.post(CONVERSATIONS, json={"body": "你们卖法輪的书吗"}, headers=member)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert (error["code"], error["words"], error["field"]) == ("blocked_words", ["法轮"], "body")
    assert await Conversation.all().count() == 0
    started = await client.post(CONVERSATIONS, json={"body": "订单没到"}, headers=member)
    again = await client.post(
        f"{CONVERSATIONS}/{started.json()['id']}/messages", json={"body": "法轮"}, headers=member
    )
    assert (again.status_code, again.json()["error"]["code"]) == (422, "blocked_words")
    assert await Message.all().count() == 1


async def test_the_contact_page_shows_a_blocked_word_beside_the_text(
    client: httpx.AsyncClient,
) -> None:
    await watch("block", "赌场")
    member = await make_member()
    await sign_in(client, member.email)
    form = await client.get("/contact")
    refused = await client.post(
        "/contact",
        data={"csrf_token": csrf_from(form.text), "body": "赌场的书有吗", "page": ""},
        files={"picture": ("", b"", "application/octet-stream")},
    )
    assert refused.status_code == 422
    beside = re.search(r'<small class="error" id="body-error" role="alert">([^<]+)</small>',
                       refused.text)  # fmt: skip
    assert beside is not None and "赌场" in beside.group(1)
    assert "赌场的书有吗</textarea>" in refused.text
    assert await Conversation.all().count() == 0


async def test_a_censored_word_is_kept_as_squares(client: httpx.AsyncClient) -> None:
    await watch("censor", "傻瓜")
    member = bearer(await token_for(await make_member()))
    started = await client.post(CONVERSATIONS, json={"body": "快递员是傻瓜"}, headers=member)
    assert started.status_code == 201
    thread = (await client.get(f"{CONVERSATIONS}/{started.json()['id']}", headers=member)).json()
    assert [m["body"] for m in thread["messages"]] == ["快递员是■■"]


async def test_a_flagged_or_held_message_is_delivered_and_queued_as_flagged(
    client: httpx.AsyncClient,
) -> None:
    await watch("flag", "加微信")
    await watch("require_approval", "返利")
    writer = await make_member(name="小陈")
    member = bearer(await token_for(writer))
    started = await client.post(CONVERSATIONS, json={"body": "能加微信吗"}, headers=member)
    assert started.status_code == 201
    conversation_id = started.json()["id"]
    written = await client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages", json={"body": "有返利吗"}, headers=member
    )
    assert written.status_code == 201
    # Delivered: the staff read both, as written, in their queue and the thread.
    support = bearer(await token_for(await make_user(role="support")))
    thread = (await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=support)).json()
    assert [m["body"] for m in thread["messages"]] == ["能加微信吗", "有返利吗"]
    assert [c["id"] for c in (await client.get("/api/v1/admin/conversations",
                                               headers=support)).json()["items"]] == [
        conversation_id
    ]  # fmt: skip
    # And queued, both as flagged (nothing waits for the moderator), for the staff who read
    # conversations: a moderator without them does not see what members wrote to the staff.
    plain_moderator = bearer(await token_for(await make_user(role="moderator")))
    assert (await client.get(QUEUE, headers=plain_moderator)).json()["items"] == []
    moderator = bearer(await token_for(await make_user(role="admin")))
    items = (await client.get(QUEUE, headers=moderator)).json()["items"]
    assert [(i["kind"], i["reason"], i["words"], i["excerpt"]) for i in items] == [
        ("message", "flagged", ["加微信"], "能加微信吗"),
        ("message", "flagged", ["返利"], "有返利吗"),
    ]
    # A rejection changes no message, is in the audit log, and tells the member why.
    rejected = await client.post(
        f"{QUEUE}/{items[0]['id']}/decision",
        json={"approve": False, "note": "请在这里沟通，不要拉到站外。"},
        headers=moderator,
    )
    assert rejected.status_code == 200
    after = (await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=support)).json()
    assert [m["body"] for m in after["messages"]] == ["能加微信吗", "有返利吗"]
    assert await AuditEntry.filter(action="review.reject", object_type="message").count() == 1
    told = await Notification.get(user_id=writer.id, kind="message_rejected")
    assert "请在这里沟通，不要拉到站外。" in told.message
    assert told.link == f"/contact/{conversation_id}"
    approved = await client.post(
        f"{QUEUE}/{items[1]['id']}/decision", json={"approve": True}, headers=moderator
    )
    assert approved.status_code == 200
    assert await Notification.filter(user_id=writer.id).count() == 1  # a flag approved: quiet


async def test_staff_answers_are_not_checked(client: httpx.AsyncClient) -> None:
    await watch("block", "退款")
    member = bearer(await token_for(await make_member()))
    started = await client.post(CONVERSATIONS, json={"body": "订单没到"}, headers=member)
    support = bearer(await token_for(await make_user(role="support")))
    answered = await client.post(
        f"{CONVERSATIONS}/{started.json()['id']}/messages",
        json={"body": "已为你办理退款。"},
        headers=support,
    )
    assert answered.status_code == 201
    assert await ReviewItem.all().count() == 0

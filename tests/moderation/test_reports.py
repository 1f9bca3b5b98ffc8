"""Reports answered (issue 38): a report entry on every post, reply, profile and conversation
(`POST /api/v1/reports`, and the board's post report route as before); moderators see the
things reported, the most reported first, then the oldest; a decision answers every report of
the thing and each reporter reads the outcome in their inbox."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from accounts.models import AuditEntry, Notification
from community.board.models import Reply
from moderation.models import Report, ReportStatus
from ratelimit import MemoryCounter
from support import services as support
from tests.factories import bearer, csrf_from, make_member, make_user, sign_in, token_for

REPORTS = "/api/v1/reports"
DECIDE = "/api/v1/admin/reports/decision"
POSTS = "/api/v1/board/posts"


async def a_thread(client: httpx.AsyncClient) -> tuple[int, int]:
    """A post and a reply to it, by two members."""
    author = bearer(await token_for(await make_member()))
    post = await client.post(
        POSTS,
        json={"category": "knowledge", "title": "读书会", "body": "周六见。"},
        headers=author,
    )
    replier = bearer(await token_for(await make_member()))
    reply = await client.post(
        f"{POSTS}/{post.json()['id']}/replies", json={"body": "卖课的来了，加我"}, headers=replier
    )
    return post.json()["id"], reply.json()["id"]


async def test_every_kind_is_reported_once_per_person_and_only_when_seen(
    client: httpx.AsyncClient,
) -> None:
    post_id, reply_id = await a_thread(client)
    reporter = await make_member()
    headers = bearer(await token_for(reporter))
    subject = await make_user(name="被举报的人")
    made = await client.post(
        REPORTS,
        json={"object_type": "reply", "object_id": reply_id, "reason": "广告"},
        headers=headers,
    )
    assert made.status_code == 201 and set(made.json()) == {"id"}
    again = await client.post(
        REPORTS,
        json={"object_type": "reply", "object_id": reply_id, "reason": "又是广告"},
        headers=headers,
    )
    assert again.json()["id"] == made.json()["id"]
    profile = await client.post(
        REPORTS,
        json={"object_type": "profile", "object_id": subject.id, "reason": "冒充官方"},
        headers=headers,
    )
    assert profile.status_code == 201
    own = await client.post(
        REPORTS,
        json={"object_type": "profile", "object_id": reporter.id, "reason": "x"},
        headers=headers,
    )
    assert (own.status_code, own.json()["error"]["code"]) == (404, "reported_not_found")
    # A conversation: one's own only; another member's is answered as if it did not exist.
    mine = await support.start(reporter, body="客服态度很差", now=datetime.now(UTC),
                               counter=MemoryCounter())  # fmt: skip
    theirs = await support.start(subject, body="你好", now=datetime.now(UTC),
                                 counter=MemoryCounter())  # fmt: skip
    ok = await client.post(
        REPORTS,
        json={"object_type": "conversation", "object_id": mine.id, "reason": "客服辱骂"},
        headers=headers,
    )
    assert ok.status_code == 201
    refused = await client.post(
        REPORTS,
        json={"object_type": "conversation", "object_id": theirs.id, "reason": "x"},
        headers=headers,
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        404,
        "conversation_not_found",
    )
    gone = await client.post(
        REPORTS,
        json={"object_type": "post", "object_id": 999_999, "reason": "x"},
        headers=headers,
    )
    assert gone.status_code == 404
    empty = await client.post(
        REPORTS,
        json={"object_type": "post", "object_id": post_id, "reason": ""},
        headers=headers,
    )
    assert empty.status_code == 422
    assert await Report.all().count() == 3


async def test_the_most_reported_first_and_a_decision_tells_every_reporter(
    client: httpx.AsyncClient,
) -> None:
    post_id, reply_id = await a_thread(client)
    first, second = await make_member(), await make_member()
    for who in (first, second):
        made = await client.post(
            REPORTS,
            json={"object_type": "reply", "object_id": reply_id, "reason": "广告引流"},
            headers=bearer(await token_for(who)),
        )
        assert made.status_code == 201
    # The board's own report route still works, and counts with the others of its post.
    old_route = await client.post(
        f"{POSTS}/{post_id}/reports", json={"reason": "标题党"}, headers=bearer(
            await token_for(first))
    )  # fmt: skip
    assert old_route.status_code == 201 and set(old_route.json()) == {"id"}
    moderator = bearer(await token_for(await make_user(role="moderator")))
    listed = (await client.get("/api/v1/admin/reports", headers=moderator)).json()["items"]
    assert [(i["object_type"], i["object_id"], i["count"]) for i in listed] == [
        ("reply", reply_id, 2),
        ("post", post_id, 1),
    ]
    assert listed[0]["reasons"] == ["广告引流", "广告引流"]
    assert listed[0]["excerpt"] == "卖课的来了，加我"
    members = await client.get("/api/v1/admin/reports", headers=bearer(await token_for(first)))
    assert members.status_code == 403

    taken = await client.post(
        DECIDE,
        json={"object_type": "reply", "object_id": reply_id, "action": "take_down"},
        headers=moderator,
    )
    assert taken.status_code == 200 and taken.json() == {"closed": 2}
    assert (await Reply.get(id=reply_id)).hidden
    for who in (first, second):
        told = await Notification.get(user_id=who.id, kind="report_taken_down")
        assert "卖课的来了" in told.message
    assert await AuditEntry.filter(action="report.take_down").count() == 1
    again = await client.post(
        DECIDE,
        json={"object_type": "reply", "object_id": reply_id, "action": "dismiss", "note": "x"},
        headers=moderator,
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "no_open_reports")

    no_note = await client.post(
        DECIDE,
        json={"object_type": "post", "object_id": post_id, "action": "dismiss"},
        headers=moderator,
    )
    assert no_note.status_code == 422  # the reporters read why it stays
    kept = await client.post(
        DECIDE,
        json={
            "object_type": "post",
            "object_id": post_id,
            "action": "dismiss",
            "note": "标题与内容相符，不违规。",
        },
        headers=moderator,
    )
    assert kept.status_code == 200
    told = await Notification.get(user_id=first.id, kind="report_dismissed")
    assert "标题与内容相符，不违规。" in told.message
    assert await Report.filter(status=ReportStatus.OPEN).count() == 0


async def test_hiding_a_post_on_the_board_answers_its_reporters_too(
    client: httpx.AsyncClient,
) -> None:
    post_id, _ = await a_thread(client)
    reporter = await make_member()
    await client.post(
        f"{POSTS}/{post_id}/reports", json={"reason": "引战"}, headers=bearer(
            await token_for(reporter))
    )  # fmt: skip
    moderator = bearer(await token_for(await make_user(role="moderator")))
    hidden = await client.post(f"/api/v1/admin/board/posts/{post_id}/hide", headers=moderator)
    assert hidden.status_code == 200, hidden.text
    assert await Notification.filter(user_id=reporter.id, kind="report_taken_down").exists()
    assert (await Report.get(object_id=post_id, object_type="post")).status == (
        ReportStatus.TAKEN_DOWN
    )


async def test_the_report_entry_on_the_pages(client: httpx.AsyncClient) -> None:
    post_id, reply_id = await a_thread(client)
    reporter = await make_member(email="reporter@example.cn")
    subject = await make_user(name="某人")
    await sign_in(client, "reporter@example.cn")
    page = await client.get(f"/board/posts/{post_id}")
    assert f'name="object_id" value="{reply_id}"' in page.text
    profile = await client.get(f"/people/{subject.id}")
    assert 'name="object_type" value="profile"' in profile.text
    sent = await client.post(
        "/reports",
        data={
            "csrf_token": csrf_from(page.text),
            "object_type": "reply",
            "object_id": str(reply_id),
            "reason": "广告",
        },
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/board/posts/{post_id}#reply-{reply_id}"
    assert await Report.filter(reporter_id=reporter.id, object_type="reply").exists()
    bad = await client.post(
        "/reports",
        data={"csrf_token": csrf_from(page.text), "object_type": "order", "object_id": "1"},
    )
    assert bad.status_code in (303, 422)


async def test_a_second_decision_on_the_same_reports_is_refused_before_it_acts(
    client: httpx.AsyncClient,
) -> None:
    post_id, _ = await a_thread(client)
    reporter = await make_member()
    await client.post(
        REPORTS,
        json={"object_type": "post", "object_id": post_id, "reason": "引战"},
        headers=bearer(await token_for(reporter)),
    )
    moderator = bearer(await token_for(await make_user(role="moderator")))
    kept = await client.post(
        DECIDE,
        json={"object_type": "post", "object_id": post_id, "action": "dismiss", "note": "不违规"},
        headers=moderator,
    )
    assert kept.status_code == 200
    late = await client.post(
        DECIDE,
        json={"object_type": "post", "object_id": post_id, "action": "take_down"},
        headers=moderator,
    )
    assert (late.status_code, late.json()["error"]["code"]) == (409, "no_open_reports")
    from community.board.models import Post

    assert not (await Post.get(id=post_id)).hidden  # the late take-down did nothing
    assert await Notification.filter(user_id=reporter.id).count() == 1

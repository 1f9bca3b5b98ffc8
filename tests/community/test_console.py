"""The feed's and the board's console sections (/admin/feed, /admin/board): who may open them,
moderators at work on the page and through the API, bans by picking a person, and the audit
entry each staff action leaves, with the object before and after."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from accounts.models import AuditEntry, User
from community.board import moderation
from community.board import services as board
from community.board.models import BoardBan, BoardCategory, Post
from community.feed import editing
from community.feed.models import FeedItem
from ratelimit import MemoryCounter
from tests.community.conftest import write_item
from tests.factories import bearer, csrf_from, make_member, make_user, sign_in, token_for


async def a_post(title: str = "读书方法", author: User | None = None) -> Post:
    post, _ = await board.create_post(
        author=author or await make_member(),
        category="knowledge",
        title=title,
        body="先读目录。",
        counter=MemoryCounter(),
        now=datetime.now(UTC),
    )
    return post


async def entries(action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(action=action).order_by("id")


async def the_entry(action: str, object_id: object) -> AuditEntry:
    found = await AuditEntry.filter(action=action, object_id=str(object_id))
    assert len(found) == 1, (action, [(e.action, e.object_id) for e in await AuditEntry.all()])
    return found[0]


# ---------------------------------------------------------------------------------------------
# Who may open what


async def test_a_moderator_may_not_open_the_feed_section(client: httpx.AsyncClient) -> None:
    moderator = await make_user(role="moderator")
    await sign_in(client, moderator.email)
    assert (await client.get("/admin/feed")).status_code == 403
    assert (await client.get("/admin/feed/new")).status_code == 403
    headers = bearer(await token_for(moderator))
    assert (await client.get("/api/v1/admin/feed-items", headers=headers)).status_code == 403
    refused = await client.post(
        "/api/v1/admin/feed-items",
        json={"title": "t", "body": "b", "keyword": "k"},
        headers=headers,
    )
    assert refused.status_code == 403
    assert not await FeedItem.exists()


async def test_support_may_not_open_the_board_section(client: httpx.AsyncClient) -> None:
    support = await make_user(role="support")
    post = await a_post()
    target = await make_member()
    await sign_in(client, support.email)
    assert (await client.get("/admin/board")).status_code == 403
    assert (await client.get("/admin/board", params={"q": target.email})).status_code == 403
    headers = bearer(await token_for(support))
    api = "/api/v1/admin/board"
    assert (await client.get(f"{api}/reports", headers=headers)).status_code == 403
    assert (await client.post(f"{api}/posts/{post.id}/hide", headers=headers)).status_code == 403
    ban = {"user_id": target.id, "days": 7}
    assert (await client.post(f"{api}/bans", json=ban, headers=headers)).status_code == 403
    assert not await BoardBan.exists()
    assert not (await Post.get(id=post.id)).hidden


async def test_anonymous_callers_are_sent_to_sign_in_or_told_401(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/admin/board", "/admin/feed", "/admin/feed/new"):
        page = await client.get(path)
        assert page.status_code == 303 and "/account/login" in page.headers["location"], path
    assert (await client.get("/api/v1/admin/board/reports")).status_code == 401
    assert (await client.get("/api/v1/admin/feed-items")).status_code == 401


async def test_the_old_admin_addresses_lead_to_the_console(client: httpx.AsyncClient) -> None:
    for old, new in (
        ("/feed/admin", "/admin/feed"),
        ("/feed/admin/new", "/admin/feed/new"),
        ("/board/admin", "/admin/board"),
    ):
        moved = await client.get(old)
        assert moved.status_code == 301 and moved.headers["location"] == new, old


async def test_an_admin_opens_both_sections_in_the_console_frame(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(admin=True)
    await sign_in(client, admin.email)
    for path in ("/admin/feed", "/admin/feed/new", "/admin/board"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert 'class="console-nav"' in page.text, path


# ---------------------------------------------------------------------------------------------
# A moderator at work


async def test_a_moderator_opens_the_board_section_hides_a_post_and_bans_someone_on_the_page(
    client: httpx.AsyncClient,
) -> None:
    moderator = await make_user(role="moderator")
    post = await a_post("广告帖")
    reporter = await make_member()
    await moderation.report(post.id, reporter=reporter, reason="广告", now=datetime.now(UTC))
    target = await make_member(email="spam@example.cn", name="刷屏者")
    await sign_in(client, moderator.email)

    page = await client.get("/admin/board")
    assert page.status_code == 200 and "广告帖" in page.text and "广告" in page.text
    hidden = await client.post(
        f"/admin/board/posts/{post.id}/hide",
        data={"csrf_token": csrf_from(page.text)},
        headers={"Referer": "http://test/admin/board"},
    )
    assert hidden.status_code == 303 and hidden.headers["location"] == "/admin/board"
    assert (await Post.get(id=post.id)).hidden
    # The moderator still reads the hidden post, with the tools to show it again.
    shown = await client.get(f"/board/posts/{post.id}")
    assert shown.status_code == 200 and f"/admin/board/posts/{post.id}/unhide" in shown.text

    found = await client.get("/admin/board", params={"q": "spam@example.cn"})
    assert "刷屏者" in found.text
    banned = await client.post(
        "/admin/board/ban",
        data={
            "csrf_token": csrf_from(found.text),
            "user_id": str(target.id),
            "days": "3",
            "reason": "刷屏",
            "q": "spam@example.cn",
        },
    )
    assert banned.status_code == 303
    assert banned.headers["location"] == "/admin/board?q=spam%40example.cn"
    ban = await BoardBan.get(user_id=target.id)
    assert ban.reason == "刷屏" and ban.until > datetime.now(UTC)


async def test_a_moderator_hides_a_post_and_bans_someone_through_the_api(
    client: httpx.AsyncClient,
) -> None:
    moderator = await make_user(role="moderator")
    headers = bearer(await token_for(moderator))
    post = await a_post()
    target = await make_member()
    hidden = await client.post(f"/api/v1/admin/board/posts/{post.id}/hide", headers=headers)
    assert hidden.status_code == 200 and hidden.json()["hidden"] is True
    banned = await client.post(
        "/api/v1/admin/board/bans", json={"user_id": target.id, "days": 7}, headers=headers
    )
    assert banned.status_code == 200 and banned.json()["user_id"] == target.id
    assert await BoardBan.filter(user_id=target.id).exists()
    assert (await client.get("/api/v1/admin/board/reports", headers=headers)).status_code == 200


async def test_a_moderator_reads_and_writes_on_a_members_only_board_without_being_a_member(
    client: httpx.AsyncClient,
) -> None:
    await board.set_members_only_read(True, actor=None)
    moderator = bearer(await token_for(await make_user(role="moderator")))
    assert (await client.get("/api/v1/board/posts", headers=moderator)).status_code == 200
    written = await client.post(
        "/api/v1/board/posts",
        json={"category": "knowledge", "title": "版规", "body": "友善发言"},
        headers=moderator,
    )
    assert written.status_code == 201


async def test_no_staff_member_can_be_banned(client: httpx.AsyncClient) -> None:
    moderator = await make_user(role="moderator")
    headers = bearer(await token_for(moderator))
    for role in ("moderator", "support", "admin", "owner"):
        staff = await make_user(role=role)
        refused = await client.post(
            "/api/v1/admin/board/bans", json={"user_id": staff.id, "days": 1}, headers=headers
        )
        assert refused.status_code == 409, role
        assert refused.json()["error"]["code"] == "cannot_ban_admin"
    assert not await BoardBan.exists()
    assert not await AuditEntry.filter(action="user.ban").exists()


# ---------------------------------------------------------------------------------------------
# Bans by picking a person


async def test_the_person_picker_finds_by_email_name_and_number_and_its_form_bans(
    client: httpx.AsyncClient,
) -> None:
    moderator = await make_user(role="moderator")
    target = await make_member(email="wang.wu@example.cn", name="王五读书")
    other = await make_member(email="li.si@example.cn", name="李四")
    await sign_in(client, moderator.email)

    by_email = await client.get("/admin/board", params={"q": "wang.wu@"})
    assert "王五读书" in by_email.text and "李四" not in by_email.text
    by_name = await client.get("/admin/board", params={"q": "五读"})
    assert "wang.wu@example.cn" in by_name.text and "li.si@example.cn" not in by_name.text
    by_number = await client.get("/admin/board", params={"q": str(target.id)})
    assert "wang.wu@example.cn" in by_number.text
    nobody = await client.get("/admin/board", params={"q": "nobody-here"})
    assert "Nobody matches." in nobody.text or "没有找到匹配的人。" in nobody.text

    # The form in the found person's row bans them: it carries their number, not a typed one.
    assert f'name="user_id" value="{target.id}"' in by_name.text
    banned = await client.post(
        "/admin/board/ban",
        data={
            "csrf_token": csrf_from(by_name.text),
            "user_id": str(target.id),
            "days": "7",
            "reason": "广告",
            "q": "五读",
        },
    )
    assert banned.status_code == 303
    assert await BoardBan.filter(user_id=target.id, until__gt=datetime.now(UTC)).exists()
    assert not await BoardBan.filter(user_id=other.id).exists()

    # Found again, the person shows as banned with a way to lift it; the current bans list them.
    again = await client.get("/admin/board", params={"q": "五读"})
    assert f'name="user_id" value="{target.id}"' in again.text
    assert 'name="days" value="0"' in again.text
    listed = await client.get("/admin/board")
    assert "wang.wu@example.cn" in listed.text and "广告" in listed.text
    lifted = await client.post(
        "/admin/board/ban",
        data={"csrf_token": csrf_from(listed.text), "user_id": str(target.id), "days": "0"},
    )
    assert lifted.status_code == 303 and lifted.headers["location"] == "/admin/board"
    assert not await BoardBan.filter(user_id=target.id, until__gt=datetime.now(UTC)).exists()


async def test_a_staff_member_found_by_the_picker_has_no_ban_form(
    client: httpx.AsyncClient,
) -> None:
    moderator = await make_user(role="moderator")
    colleague = await make_user(role="support", email="helper@example.cn")
    await sign_in(client, moderator.email)
    page = await client.get("/admin/board", params={"q": "helper@"})
    assert "helper@example.cn" in page.text
    assert f'name="user_id" value="{colleague.id}"' not in page.text


# ---------------------------------------------------------------------------------------------
# The audit trail


async def test_writing_editing_and_publishing_a_feed_item_are_audited(
    client: httpx.AsyncClient,
) -> None:
    writer = await make_user(role="admin")
    headers = bearer(await token_for(writer))
    item = (await write_item(client, headers, title="第一稿", keyword="认知")).json()
    created = await the_entry("feed_item.create", item["id"])
    assert created.actor_id == writer.id and created.object_type == "feed_item"
    assert created.before is None
    assert created.after["title"] == "第一稿" and created.after["keyword"] == "认知"
    assert created.after["members_only"] is False and "characters" in created.after["body"]

    await sign_in(client, writer.email)
    edit = await client.get(f"/admin/feed/{item['id']}/edit")
    saved = await client.post(
        f"/admin/feed/{item['id']}/edit",
        data={
            "csrf_token": csrf_from(edit.text),
            "title": "第二稿",
            "body": "今天聊聊**认知**。",
            "keyword": "认知",
            "members_only": "on",
            "publish_at": "",
        },
    )
    assert saved.status_code == 303
    updated = await the_entry("feed_item.update", item["id"])
    assert updated.actor_id == writer.id
    # Only what changed: the title and who may read it; the body is the same text.
    assert updated.before == {"title": "第一稿", "members_only": False}
    assert updated.after == {"title": "第二稿", "members_only": True}

    await client.post(
        f"/admin/feed/{item['id']}/unpublish", data={"csrf_token": csrf_from(edit.text)}
    )
    unpublished = await the_entry("feed_item.unpublish", item["id"])
    assert (unpublished.before, unpublished.after) == (
        {"unpublished": False},
        {"unpublished": True},
    )
    again = await client.post(f"/api/v1/admin/feed-items/{item['id']}/publish", headers=headers)
    assert again.status_code == 200
    published = await the_entry("feed_item.publish", item["id"])
    assert published.actor_id == writer.id
    assert (published.before, published.after) == ({"unpublished": True}, {"unpublished": False})


async def test_an_edit_that_changes_nothing_leaves_no_entry() -> None:
    item = await editing.create_item(
        title="标题", body="正文", keyword="不变", now=datetime.now(UTC)
    )
    await editing.update_item(
        item.id,
        title="标题",
        body="正文",
        keyword="不变",
        members_only=False,
        publish_at=None,
        actor=None,
    )
    assert await entries("feed_item.create") != []
    assert await entries("feed_item.update") == []


async def test_each_moderation_of_a_post_is_audited_with_before_and_after(
    client: httpx.AsyncClient,
) -> None:
    moderator = await make_user(role="moderator")
    headers = bearer(await token_for(moderator))
    post = await a_post()
    flags = {"hide": "hidden", "lock": "locked", "pin": "pinned"}
    for action, field in flags.items():
        undo = f"un{action}"
        for verb, before, after in ((action, False, True), (undo, True, False)):
            done = await client.post(f"/api/v1/admin/board/posts/{post.id}/{verb}", headers=headers)
            assert done.status_code == 200, verb
            entry = await the_entry(f"post.{verb}", post.id)
            assert entry.actor_id == moderator.id and entry.object_type == "post"
            assert (entry.before, entry.after) == ({field: before}, {field: after})
    # Asking for what already is changes nothing and records nothing.
    await client.post(f"/api/v1/admin/board/posts/{post.id}/unpin", headers=headers)
    assert len(await entries("post.unpin")) == 1


async def test_resolving_reports_is_audited_whether_the_post_is_hidden_or_the_reports_dismissed(
    client: httpx.AsyncClient,
) -> None:
    moderator = await make_user(role="moderator")
    now = datetime.now(UTC)
    hidden, kept = await a_post("广告"), await a_post("正常")
    reports = {}
    for post in (hidden, kept):
        reporter = await make_member()
        found = await moderation.report(post.id, reporter=reporter, reason="广告", now=now)
        reports[post.id] = found.id
    await sign_in(client, moderator.email)
    page = await client.get("/admin/board")
    token = csrf_from(page.text)
    await client.post(f"/admin/board/posts/{hidden.id}/hide", data={"csrf_token": token})
    # "Dismiss": the post stays as it is, its reports are answered.
    await client.post(f"/admin/board/posts/{kept.id}/unhide", data={"csrf_token": token})
    assert await moderation.open_reports() == []

    by_hiding = await the_entry("post.resolve_reports", hidden.id)
    assert by_hiding.actor_id == moderator.id
    assert by_hiding.before == {"open_reports": [reports[hidden.id]]}
    assert by_hiding.after == {"open_reports": [], "outcome": "hidden"}
    dismissed = await the_entry("post.resolve_reports", kept.id)
    assert dismissed.after == {"open_reports": [], "outcome": "dismissed"}
    assert not await AuditEntry.filter(action="post.unhide", object_id=str(kept.id)).exists()


async def test_bans_and_lifting_them_are_audited_with_before_and_after(
    client: httpx.AsyncClient,
) -> None:
    moderator = await make_user(role="moderator")
    headers = bearer(await token_for(moderator))
    target = await make_member()
    await client.post(
        "/api/v1/admin/board/bans",
        json={"user_id": target.id, "days": 7, "reason": "刷屏"},
        headers=headers,
    )
    ban = await BoardBan.get(user_id=target.id)
    first = await the_entry("user.ban", target.id)
    assert first.actor_id == moderator.id and first.object_type == "user"
    assert first.before == {"banned_until": None, "reason": None}
    assert first.after["days"] == 7 and first.after["reason"] == "刷屏"
    assert first.after["banned_until"] == ban.until.isoformat().replace("+00:00", "Z")

    await client.post(
        "/api/v1/admin/board/bans", json={"user_id": target.id, "days": 0}, headers=headers
    )
    lifted = await the_entry("user.unban", target.id)
    assert lifted.before == {"banned_until": first.after["banned_until"], "reason": "刷屏"}
    assert lifted.after == {"days": 0, "banned_until": None, "reason": None}


async def test_a_new_category_and_a_changed_setting_are_audited(
    client: httpx.AsyncClient,
) -> None:
    moderator = await make_user(role="moderator")
    await sign_in(client, moderator.email)
    token = csrf_from((await client.get("/admin/board")).text)
    added = await client.post(
        "/admin/board/categories", data={"csrf_token": token, "slug": "events", "name": "活动"}
    )
    assert added.status_code == 303
    category = await BoardCategory.get(slug="events")
    entry = await the_entry("board_category.create", category.id)
    assert entry.actor_id == moderator.id
    assert (entry.before, entry.after) == (None, {"slug": "events", "name": "活动"})

    await client.post(
        "/admin/board/settings", data={"csrf_token": token, "members_only_read": "on"}
    )
    assert await board.members_only_read()
    setting: Any = (await entries("board_settings.update"))[0]
    assert setting.actor_id == moderator.id
    assert (setting.before, setting.after) == (
        {"members_only_read": False},
        {"members_only_read": True},
    )


async def test_a_moderator_deleting_someone_elses_post_is_audited_and_an_author_is_not(
    client: httpx.AsyncClient,
) -> None:
    author = await make_member()
    own, other = await a_post("自己的", author), await a_post("别人的")
    await client.delete(f"/api/v1/board/posts/{own.id}", headers=bearer(await token_for(author)))
    moderator = await make_user(role="moderator")
    deleted = await client.delete(
        f"/api/v1/board/posts/{other.id}", headers=bearer(await token_for(moderator))
    )
    assert deleted.status_code == 204
    entry = await the_entry("post.delete", other.id)
    assert entry.actor_id == moderator.id
    assert (entry.before, entry.after) == ({"deleted": False, "title": "别人的"}, {"deleted": True})
    assert await AuditEntry.filter(action="post.delete").count() == 1

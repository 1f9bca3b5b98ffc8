"""The member board: permissions for every action, XSS, mentions, limits, double submits,
moderation and Chinese search, through the real API and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from accounts.models import Notification, User
from community.board import moderation, replies
from community.board import services as board
from community.board.errors import Banned
from community.board.models import BoardBan, Post, PostRevision
from errors import ValidationError
from ratelimit import MemoryCounter
from tests.factories import (
    bearer,
    csrf_from,
    make_member,
    make_user,
    make_users,
    sign_in,
    token_for,
)

POSTS = "/api/v1/board/posts"


async def member_headers(**kwargs: Any) -> dict[str, str]:
    return bearer(await token_for(await make_member(**kwargs)))


async def write(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> httpx.Response:
    data = {"category": "knowledge", "title": "读书方法", "body": "先读目录。", **fields}
    return await client.post(POSTS, json=data, headers=headers)


async def test_a_member_posts_and_everyone_signed_in_reads(client: httpx.AsyncClient) -> None:
    member = await make_member(name="林夕")
    response = await write(client, bearer(await token_for(member)), body="**先读目录**，再读序言。")
    assert response.status_code == 201
    post = response.json()
    assert set(post) >= {"id", "category", "title", "body_html", "author", "created_at"}
    assert post["author"] == {"id": member.id, "display_name": "林夕"}
    assert post["body_html"] == "<p><strong>先读目录</strong>，再读序言。</p>\n"

    reader = bearer(await token_for(await make_user()))
    listed = (await client.get(POSTS, headers=reader)).json()
    assert [item["id"] for item in listed["items"]] == [post["id"]]
    assert (await client.get(POSTS)).status_code == 401
    assert (await client.get("/board")).status_code == 303  # to the sign-in page


async def test_permissions_on_every_board_action(client: httpx.AsyncClient) -> None:
    author = await member_headers()
    post_id = (await write(client, author)).json()["id"]
    outsider = bearer(await token_for(await make_user()))
    banned_user = await make_member()
    await moderation.ban(banned_user.id, days=3, reason="刷屏", now=datetime.now(UTC), actor=None)
    banned = bearer(await token_for(banned_user))
    admin = bearer(await token_for(await make_user(admin=True)))
    member = await member_headers()

    actions = [
        ("POST", POSTS, {"category": "job", "title": "招人", "body": "正文"}),
        ("POST", f"{POSTS}/{post_id}/replies", {"body": "好文"}),
        ("POST", f"{POSTS}/{post_id}/like", {}),
        ("POST", f"{POSTS}/{post_id}/reports", {"reason": "广告"}),
    ]
    for method, url, body in actions:
        anonymous = await client.request(method, url, json=body)
        assert anonymous.status_code == 401, url
        refused = await client.request(method, url, json=body, headers=outsider)
        assert refused.status_code == 403, url
        assert refused.json()["error"]["code"] == "members_only"
        stopped = await client.request(method, url, json=body, headers=banned)
        assert stopped.status_code == 403, url
        assert stopped.json()["error"]["code"] == "banned"
        for allowed in (member, admin):
            response = await client.request(method, url, json=body, headers=allowed)
            assert response.status_code in (200, 201), (url, response.text)

    # Editing and deleting: the author only (admins moderate instead of editing).
    edit = {"title": "改", "body": "改过"}
    assert (await client.patch(f"{POSTS}/{post_id}", json=edit, headers=member)).status_code == 403
    assert (await client.patch(f"{POSTS}/{post_id}", json=edit, headers=author)).status_code == 200
    assert (await client.delete(f"{POSTS}/{post_id}", headers=outsider)).status_code == 403
    # Moderation: admins only.
    for action in ("hide", "lock", "pin"):
        url = f"/api/v1/admin/board/posts/{post_id}/{action}"
        assert (await client.post(url, headers=member)).status_code == 403
        assert (await client.post(url, headers=admin)).status_code == 200
    assert (await client.get(f"{POSTS}/{post_id}", headers=outsider)).status_code == 404
    assert (await client.get(f"{POSTS}/{post_id}", headers=admin)).status_code == 200


async def test_bad_category_and_empty_title_are_422(client: httpx.AsyncClient) -> None:
    member = await member_headers()
    bad = await write(client, member, category="gossip")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "category"
    empty = await write(client, member, title="   ")
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "title"
    long_body = await write(client, member, body="字" * (board.BODY_MAX + 1))
    assert long_body.status_code == 422
    assert await Post.all().count() == 0


async def test_hidden_posts_vanish_from_lists_and_are_404_for_non_admins(
    client: httpx.AsyncClient,
) -> None:
    author = await member_headers()
    member = await member_headers()
    post_id = (await write(client, author)).json()["id"]
    admin = bearer(await token_for(await make_user(admin=True)))
    hidden = await client.post(f"/api/v1/admin/board/posts/{post_id}/hide", headers=admin)
    assert hidden.status_code == 200
    assert (await client.get(POSTS, headers=member)).json()["items"] == []
    assert (await client.get(f"{POSTS}/{post_id}", headers=member)).status_code == 404
    reply = await client.post(f"{POSTS}/{post_id}/replies", json={"body": "x"}, headers=member)
    assert reply.status_code == 404
    assert [p["id"] for p in (await client.get(POSTS, headers=admin)).json()["items"]] == [post_id]
    # Its author still reads it (and was told why), but it takes no replies.
    assert (await client.get(f"{POSTS}/{post_id}", headers=author)).status_code == 200
    own = await client.post(f"{POSTS}/{post_id}/replies", json={"body": "x"}, headers=author)
    assert own.status_code == 423


async def test_a_hidden_posts_author_is_told_why_and_can_still_read_it(
    client: httpx.AsyncClient,
) -> None:
    author = await make_member(name="林夕")
    post, _ = await board.create_post(
        author=author,
        category="knowledge",
        title="读书会招募",
        body="加我微信。",
        counter=MemoryCounter(),
        now=datetime.now(UTC),
    )
    for name, reason in (("甲", "广告"), ("乙", "广告"), ("丙", "留了联系方式")):
        reporter = await make_member(name=name)
        await moderation.report(post.id, reporter=reporter, reason=reason, now=datetime.now(UTC))
    await moderation.moderate(post.id, "hide", actor=None, now=datetime.now(UTC))
    # Hiding twice tells once.
    await moderation.moderate(post.id, "hide", actor=None, now=datetime.now(UTC))
    told = await Notification.filter(user_id=author.id, kind="post_hidden")
    assert len(told) == 1
    assert told[0].params == {"title": "读书会招募", "reasons": "广告；留了联系方式"}
    assert told[0].link == f"/board/posts/{post.id}"
    await sign_in(client, author.email)
    inbox = await client.get("/account/notifications", headers={"Accept-Language": "zh-CN"})
    assert "管理员隐藏了你的帖子《读书会招募》。成员举报的理由：广告；留了联系方式。" in inbox.text
    page = await client.get(f"/board/posts/{post.id}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert "这篇帖子已被管理员隐藏：只有你和管理员能看到。" in page.text

    quiet = await make_member(name="阿青")
    other, _ = await board.create_post(
        author=quiet,
        category="knowledge",
        title="无人举报",
        body="正文",
        counter=MemoryCounter(),
        now=datetime.now(UTC),
    )
    await moderation.moderate(other.id, "hide", actor=None, now=datetime.now(UTC))
    plain = await Notification.filter(user_id=quiet.id, kind="post_hidden_by_moderator")
    assert [n.params for n in plain] == [{"title": "无人举报"}]


async def test_a_locked_post_takes_no_replies(client: httpx.AsyncClient) -> None:
    member = await member_headers()
    post_id = (await write(client, member)).json()["id"]
    admin = bearer(await token_for(await make_user(admin=True)))
    await client.post(f"/api/v1/admin/board/posts/{post_id}/lock", headers=admin)
    locked = await client.post(
        f"{POSTS}/{post_id}/replies", json={"body": "还能回吗"}, headers=member
    )
    assert locked.status_code == 423
    assert locked.json()["error"]["code"] == "locked"


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<body onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[点我](javascript:alert(1))",
    "[点我](JaVaScRiPt:alert(1))",
    "[点我](  javascript:alert(1))",
    "[点我](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[点我](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<object data="javascript:alert(1)"></object>',
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<style>body{background:red}</style>",
    '<base href="javascript:alert(1)//">',
    "<<script>script>alert(1)<</script>/script>",
    "`<script>`内联代码`</script>`",
    '<img src="x" alt="" onerror="alert(1)"/>',
    '<a href="https://example.com" onclick="alert(1)">x</a>',
]


SAFE_TAGS = {"a", "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul",
             "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr",
             "th", "td", "img"}  # fmt: skip


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def assert_inert(html: str) -> None:
    """What a browser would build from `html` has no script, handler or script URL: payloads
    survive only as escaped text."""
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in SAFE_TAGS, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (name, html)
            if name in ("href", "src"):
                url = (value or "").strip().lower()
                assert url.startswith(("http://", "https://", "mailto:", "/", "#")) or (
                    ":" not in url
                ), (url, html)


async def test_xss_payloads_are_rendered_inert(client: httpx.AsyncClient) -> None:
    assert len(XSS_PAYLOADS) >= 20
    member = await make_member()
    headers = bearer(await token_for(member))
    post_id = (await write(client, headers, title="安全", body="第一帖")).json()["id"]
    writers = await make_users(len(XSS_PAYLOADS), prefix="xss")  # one post each: no rate limit
    await User.filter(id__in=[w.id for w in writers]).update(
        member_until=datetime.now(UTC) + timedelta(days=30)
    )
    for writer, payload in zip(writers, XSS_PAYLOADS, strict=True):
        post = await write(client, bearer(await token_for(writer)), title="试探", body=payload)
        assert post.status_code == 201, payload
        assert_inert(post.json()["body_html"])
        reply = await client.post(
            f"{POSTS}/{post_id}/replies", json={"body": payload}, headers=headers
        )
        assert reply.status_code == 201, payload
        assert_inert(reply.json()["body_html"])
    await sign_in(client, member.email)
    page = await client.get(f"/board/posts/{post_id}")
    thread = page.text[page.text.index('id="replies"') : page.text.index('id="reply-form"')]
    rendered = thread.split('<div class="prose">')[1:]
    assert len(rendered) == len(XSS_PAYLOADS)
    for reply_html in rendered:
        assert_inert(reply_html.split("</div>")[0])
    link = (await write(client, headers, title="链接", body="[书院](https://example.com)")).json()
    assert 'rel="nofollow noopener noreferrer"' in link["body_html"]


async def test_mentions_and_replies_notify_people(client: httpx.AsyncClient) -> None:
    author = await make_member(name="罗胖")
    mentioned = await make_member(name="小雨")
    replier = await make_member(name="陈默")
    post = await write(client, bearer(await token_for(author)), body="请 @小雨 来分享一下")
    post_id = post.json()["id"]
    notices = await Notification.filter(user_id=mentioned.id)
    assert [n.kind for n in notices] == ["mention"]
    assert "罗胖" in notices[0].message and notices[0].link == f"/board/posts/{post_id}"

    await client.post(
        f"{POSTS}/{post_id}/replies",
        json={"body": "同意！@罗胖 @小雨 @不存在的人"},
        headers=bearer(await token_for(replier)),
    )
    author_notices = await Notification.filter(user_id=author.id).order_by("id")
    assert [n.kind for n in author_notices] == ["reply"]  # one notice, not reply + mention
    assert "陈默" in author_notices[0].message
    assert [n.kind for n in await Notification.filter(user_id=mentioned.id).order_by("id")] == [
        "mention",
        "mention",
    ]
    assert await Notification.filter(user_id=replier.id).count() == 0


async def test_posting_and_replying_are_rate_limited(client: httpx.AsyncClient) -> None:
    member = await member_headers()
    statuses = [
        (await write(client, member, title=f"第{n}帖", body=f"内容{n}")).status_code
        for n in range(board.POSTS_PER_MEMBER.attempts + 1)
    ]
    assert statuses == [201] * board.POSTS_PER_MEMBER.attempts + [429]
    other = await member_headers()
    post_id = (await write(client, other)).json()["id"]
    for n in range(board.REPLIES_PER_MEMBER.attempts):
        reply = await client.post(
            f"{POSTS}/{post_id}/replies", json={"body": f"回复{n}"}, headers=member
        )
        assert reply.status_code == 201
    too_many = await client.post(
        f"{POSTS}/{post_id}/replies", json={"body": "再来"}, headers=member
    )
    assert too_many.status_code == 429
    assert int(too_many.headers["Retry-After"]) > 0


async def test_a_double_submit_makes_one_post(client: httpx.AsyncClient) -> None:
    member = await make_member()
    headers = bearer(await token_for(member))
    first, second = await write(client, headers), await write(client, headers)
    assert first.json()["id"] == second.json()["id"]
    keyed = {**headers, "Idempotency-Key": "click-1"}
    a, b = await write(client, keyed, body="甲"), await write(client, keyed, body="甲")
    assert a.json()["id"] == b.json()["id"]
    assert await Post.all().count() == 2

    await sign_in(client, member.email)
    form = await client.get("/board/new")
    data = {"csrf_token": csrf_from(form.text), "submission": "form-token-1",
            "category": "question", "title": "双击", "body": "点了两次"}  # fmt: skip
    one = await client.post("/board/posts", data=data)
    two = await client.post("/board/posts", data=data)
    assert one.status_code == two.status_code == 303
    assert one.headers["location"] == two.headers["location"]
    assert await Post.filter(title="双击").count() == 1


async def test_search_in_chinese(client: httpx.AsyncClient) -> None:
    member = await member_headers()
    await write(
        client, member, title="招聘产品经理", body="我们在北京招聘一位产品经理。", category="hiring"
    )
    await write(client, member, title="读书会", body="本周读《思考，快与慢》。")
    found = (await client.get(POSTS, params={"q": "产品经理"}, headers=member)).json()["items"]
    assert [p["title"] for p in found] == ["招聘产品经理"]
    found = (await client.get(POSTS, params={"q": "北京 招聘"}, headers=member)).json()["items"]
    assert [p["title"] for p in found] == ["招聘产品经理"]
    assert (await client.get(POSTS, params={"q": "上海"}, headers=member)).json()["items"] == []
    hiring = (await client.get(POSTS, params={"category": "hiring"}, headers=member)).json()
    assert [p["title"] for p in hiring["items"]] == ["招聘产品经理"]


async def test_edits_keep_history_and_deleted_posts_are_gone(client: httpx.AsyncClient) -> None:
    member = await member_headers()
    post_id = (await write(client, member, title="初稿", body="第一版")).json()["id"]
    for n in (2, 3):
        edited = await client.patch(
            f"{POSTS}/{post_id}", json={"title": f"第{n}稿", "body": f"第{n}版"}, headers=member
        )
        assert edited.status_code == 200 and edited.json()["edited_at"]
    history = await PostRevision.filter(post_id=post_id).order_by("id").values_list("title", "body")
    assert history == [("初稿", "第一版"), ("第2稿", "第2版")]
    assert (await client.delete(f"{POSTS}/{post_id}", headers=member)).status_code == 204
    assert (await client.get(f"{POSTS}/{post_id}", headers=member)).status_code == 404
    assert (await client.get(POSTS, headers=member)).json()["items"] == []


async def test_reports_reach_the_admin_queue(client: httpx.AsyncClient) -> None:
    post_id = (await write(client, await member_headers())).json()["id"]
    reporter = await member_headers()
    for _ in range(2):  # once per person
        await client.post(f"{POSTS}/{post_id}/reports", json={"reason": "广告"}, headers=reporter)
    empty = await client.post(f"{POSTS}/{post_id}/reports", json={"reason": " "}, headers=reporter)
    assert empty.status_code == 422
    admin = bearer(await token_for(await make_user(admin=True)))
    queue = (await client.get("/api/v1/admin/board/reports", headers=admin)).json()["items"]
    assert [(r["post_id"], r["reason"]) for r in queue] == [(post_id, "广告")]
    await client.post(f"/api/v1/admin/board/posts/{post_id}/hide", headers=admin)
    assert (await client.get("/api/v1/admin/board/reports", headers=admin)).json()["items"] == []


async def test_a_ban_ends_and_can_be_lifted(client: httpx.AsyncClient) -> None:
    user = await make_member()
    headers = bearer(await token_for(user))
    admin = bearer(await token_for(await make_user(admin=True)))
    banned = await client.post(
        "/api/v1/admin/board/bans", json={"user_id": user.id, "days": 7}, headers=admin
    )
    assert banned.status_code == 200
    assert (await write(client, headers)).status_code == 403
    with pytest.raises(Banned):  # the service says the same
        await board.check_can_write(user, datetime.now(UTC))
    await board.check_can_write(user, datetime.now(UTC) + timedelta(days=8))  # over by then
    await client.post(
        "/api/v1/admin/board/bans", json={"user_id": user.id, "days": 0}, headers=admin
    )
    assert (await write(client, headers)).status_code == 201


async def test_most_active_ranks_by_replies_in_the_last_week(client: httpx.AsyncClient) -> None:
    member = await member_headers()
    quiet = (await write(client, member, title="冷帖", body="a")).json()["id"]
    busy = (await write(client, member, title="热帖", body="b")).json()["id"]
    for n in range(3):
        await client.post(f"{POSTS}/{busy}/replies", json={"body": f"顶{n}"}, headers=member)
    await client.post(f"{POSTS}/{quiet}/replies", json={"body": "顶"}, headers=member)
    active = (await client.get(POSTS, params={"sort": "active"}, headers=member)).json()
    assert [p["id"] for p in active["items"]] == [busy, quiet]


async def test_admins_can_make_the_board_members_only_to_read(client: httpx.AsyncClient) -> None:
    await write(client, await member_headers())
    await board.set_members_only_read(True, actor=None)
    outsider = bearer(await token_for(await make_user()))
    refused = await client.get(POSTS, headers=outsider)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "members_only"
    assert (await client.get(POSTS, headers=await member_headers())).status_code == 200


async def test_the_board_pages_work_without_javascript(client: httpx.AsyncClient) -> None:
    author = await make_member(name="作者")
    await sign_in(client, author.email)
    form = await client.get("/board/new")
    created = await client.post(
        "/board/posts",
        data={
            "csrf_token": csrf_from(form.text),
            "submission": "s1",
            "category": "knowledge",
            "title": "无脚本也能用",
            "body": "正文",
        },
    )
    post_url = created.headers["location"]
    page = await client.get(post_url)
    assert "无脚本也能用" in page.text
    token = csrf_from(page.text)
    replied = await client.post(f"{post_url}/replies", data={"csrf_token": token, "body": "自己顶"})
    assert replied.status_code == 303
    liked = await client.post(f"{post_url}/like", data={"csrf_token": token, "liked": "1"})
    assert liked.status_code == 303
    page = await client.get(post_url)
    assert "自己顶" in page.text and 'class="like-count">1<' in page.text

    htmx = {"HX-Request": "true", "X-CSRF-Token": token}
    fragment = await client.post(f"{post_url}/replies", data={"body": "htmx 回复"}, headers=htmx)
    assert (
        fragment.status_code == 200
        and "<html" not in fragment.text
        and "htmx 回复" in fragment.text
    )
    unliked = await client.post(f"{post_url}/like", data={"liked": "0"}, headers=htmx)
    assert 'class="like-count">0<' in unliked.text
    listing = await client.get("/board")
    assert "无脚本也能用" in listing.text


async def test_a_post_id_that_is_not_a_database_id_is_not_found(
    client: httpx.AsyncClient,
) -> None:
    member = await member_headers()
    for url in (
        f"{POSTS}/abc",
        f"{POSTS}/1e3/replies",
        f"{POSTS}/{'9' * 30}",
        f"{POSTS}/2147483648",
        f"{POSTS}/0",
        f"{POSTS}/-1",
    ):
        response = (
            await client.get(url, headers=member)
            if url.count("/") == 5
            else (await client.post(url, json={"body": "x"}, headers=member))
        )
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"


async def test_no_admin_can_ban_themselves_or_another_admin(client: httpx.AsyncClient) -> None:
    first, second = await make_user(admin=True), await make_user(admin=True)
    headers = bearer(await token_for(first))
    for target in (first, second):
        refused = await client.post(
            "/api/v1/admin/board/bans", json={"user_id": target.id, "days": 7}, headers=headers
        )
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "cannot_ban_admin"
    assert not await BoardBan.exists()
    # A ban placed before this rule (or on a member made admin since) can still be lifted.
    await BoardBan.create(user_id=second.id, until=datetime.now(UTC) + timedelta(days=30))
    lifted = await client.post(
        "/api/v1/admin/board/bans", json={"user_id": second.id, "days": 0}, headers=headers
    )
    assert lifted.status_code == 200
    await board.check_can_write(second, datetime.now(UTC))
    # A member is still banned as before.
    member = await make_member()
    banned = await client.post(
        "/api/v1/admin/board/bans", json={"user_id": member.id, "days": 1}, headers=headers
    )
    assert banned.status_code == 200
    assert await BoardBan.filter(user_id=member.id).exists()


async def make_posts(count: int) -> tuple[User, list[int]]:
    """`count` posts by one member, oldest first (each its own counter: no rate limit here)."""
    author = await make_member()
    ids = []
    for n in range(count):
        post, _ = await board.create_post(
            author=author,
            category="knowledge",
            title=f"第{n}帖",
            body=f"正文{n}",
            counter=MemoryCounter(),
            now=datetime.now(UTC),
        )
        ids.append(post.id)
    return author, ids


async def test_newest_pages_through_every_post_with_pinned_ones_on_the_first_page() -> None:
    reader, ids = await make_posts(6)
    await moderation.moderate(ids[0], "pin", actor=None, now=datetime.now(UTC))
    now = datetime.now(UTC)
    first = await board.newest_posts(viewer=reader, now=now, limit=2)
    assert [p.id for p in first.posts] == [ids[0], ids[5], ids[4]]
    second = await board.newest_posts(viewer=reader, now=now, cursor=first.next_cursor, limit=2)
    assert [p.id for p in second.posts] == [ids[3], ids[2]]
    third = await board.newest_posts(viewer=reader, now=now, cursor=second.next_cursor, limit=2)
    assert [p.id for p in third.posts] == [ids[1]] and third.next_cursor is None


async def test_most_active_pages_through_by_offset() -> None:
    reader, ids = await make_posts(4)
    now = datetime.now(UTC)
    for post_id, count in zip(ids[:3], (1, 3, 2), strict=True):
        for n in range(count):
            await replies.reply(
                post_id, author=reader, body=f"顶{n}", counter=MemoryCounter(), now=now
            )
    first = await board.active_posts(viewer=reader, now=now, limit=2)
    assert [p.id for p in first.posts] == [ids[1], ids[2]]
    assert first.next_cursor == "o2"
    second = await board.active_posts(viewer=reader, now=now, cursor=first.next_cursor, limit=2)
    assert [p.id for p in second.posts] == [ids[0]] and second.next_cursor is None


async def test_a_cursor_from_the_other_listing_starts_from_the_top() -> None:
    reader, ids = await make_posts(3)
    now = datetime.now(UTC)
    await replies.reply(ids[0], author=reader, body="顶", counter=MemoryCounter(), now=now)
    newest = await board.newest_posts(viewer=reader, now=now, limit=1)
    assert newest.next_cursor is not None
    active = await board.active_posts(viewer=reader, now=now, cursor=newest.next_cursor)
    assert [p.id for p in active.posts] == [ids[0]]
    again = await board.newest_posts(viewer=reader, now=now, cursor="o1", limit=1)
    assert [p.id for p in again.posts] == [ids[2]]


async def test_a_cursor_no_listing_gave_out_is_refused() -> None:
    reader, _ = await make_posts(1)
    now = datetime.now(UTC)
    with pytest.raises(ValidationError):
        await board.newest_posts(viewer=reader, now=now, cursor="x1")
    with pytest.raises(ValidationError):
        await board.active_posts(viewer=reader, now=now, cursor="x1")


async def test_a_reply_on_the_page_is_held_to_the_same_declared_limits_as_the_apis(
    client: httpx.AsyncClient,
) -> None:
    # The page reads its form through schemas.NewReply, the API's declared reply.
    author = await make_member()
    headers = bearer(await token_for(author))
    post_id = (await write(client, headers)).json()["id"]
    too_long = "字" * (board.REPLY_MAX + 1)
    with_a_bell = "好文\x07"
    for body in (too_long, with_a_bell):
        api = await client.post(f"{POSTS}/{post_id}/replies", json={"body": body}, headers=headers)
        assert api.status_code == 422 and api.json()["error"]["field"] == "body"

    await sign_in(client, author.email)
    page = await client.get(f"/board/posts/{post_id}")
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf_from(page.text)}
    for body in (too_long, with_a_bell):
        refused = await client.post(
            f"/board/posts/{post_id}/replies", data={"body": body}, headers=htmx
        )
        assert refused.status_code == 422, body[:10]
    assert await Post.get(id=post_id).values_list("reply_count", flat=True) == 0
    fits = "字" * board.REPLY_MAX
    accepted = await client.post(
        f"/board/posts/{post_id}/replies", data={"body": fits}, headers=htmx
    )
    assert accepted.status_code == 200


async def test_a_refusal_comes_before_a_bad_text_on_the_page_and_in_the_api_alike(
    client: httpx.AsyncClient,
) -> None:
    post_id = (await write(client, await member_headers())).json()["id"]
    outsider = await make_user()
    api = bearer(await token_for(outsider))
    bad = [
        (POSTS, "/board/posts", {"category": "knowledge", "title": "", "body": ""}),
        (f"{POSTS}/{post_id}/replies", f"/board/posts/{post_id}/replies", {"body": ""}),
        (f"{POSTS}/{post_id}/reports", f"/board/posts/{post_id}/report", {"reason": " "}),
    ]
    await sign_in(client, outsider.email)
    token = csrf_from((await client.get(f"/board/posts/{post_id}")).text)
    as_json = {"Accept": "application/json", "X-CSRF-Token": token}
    for api_url, page_url, body in bad:
        from_api = await client.post(api_url, json=body, headers=api)
        from_page = await client.post(page_url, data=body, headers=as_json)
        assert from_api.status_code == from_page.status_code == 403, page_url
        assert from_api.json()["error"]["code"] == from_page.json()["error"]["code"]
        assert from_page.json()["error"]["code"] == "members_only"


async def test_an_edit_by_someone_else_is_refused_before_its_text_is_read_in_both(
    client: httpx.AsyncClient,
) -> None:
    post_id = (await write(client, await member_headers())).json()["id"]
    other = await make_member()
    bad = {"title": "", "body": ""}
    from_api = await client.patch(
        f"{POSTS}/{post_id}", json=bad, headers=bearer(await token_for(other))
    )
    await sign_in(client, other.email)
    token = csrf_from((await client.get(f"/board/posts/{post_id}")).text)
    from_page = await client.post(
        f"/board/posts/{post_id}/edit",
        data=bad,
        headers={"Accept": "application/json", "X-CSRF-Token": token},
    )
    assert from_api.status_code == from_page.status_code == 403
    assert from_api.json()["error"]["code"] == from_page.json()["error"]["code"] == "not_the_author"

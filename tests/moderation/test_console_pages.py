"""The console's moderation pages: the watched words (added on the form, imported from CSV,
exported, tested, removed; admins only) and the review queue (moderators approve and reject
on the page); and the board page telling a held post's author it awaits review."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx

from accounts.models import Notification
from community.board.models import Post
from moderation import words
from moderation.models import ReviewItem, ReviewStatus, WatchedWord, WordAction
from tests.factories import csrf_from, make_member, make_user, sign_in


async def signed_in(client: httpx.AsyncClient, **kwargs: object) -> str:
    user = await make_user(**kwargs)  # type: ignore[arg-type]
    await sign_in(client, user.email or "")
    page = await client.get("/admin/watched-words" if kwargs.get("admin") else "/admin/review")
    return csrf_from(page.text)


async def test_admins_keep_the_lists_on_the_page(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, admin=True)
    added = await client.post(
        "/admin/watched-words",
        data={"csrf_token": csrf, "action": "block", "words": "法轮\n赌博网站，  \n"},
    )
    assert added.status_code == 303
    assert {w.word for w in await WatchedWord.filter(action=WordAction.BLOCK)} == {
        "法轮",
        "赌博网站",
    }
    upload = "word,action\n代开发票,require_approval\n傻瓜,censor\n加微信\n".encode("utf-8-sig")
    imported = await client.post(
        "/admin/watched-words/import",
        data={"csrf_token": csrf, "action": "flag"},
        files={"file": ("words.csv", upload, "text/csv")},
    )
    assert imported.status_code == 303
    actions = {w.word: w.action for w in await WatchedWord.all()}
    assert actions["代开发票"] == WordAction.REQUIRE_APPROVAL
    assert actions["傻瓜"] == WordAction.CENSOR
    assert actions["加微信"] == WordAction.FLAG  # the form's action for a row without one
    exported = await client.get("/admin/watched-words.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0] == ["word", "action"] and ["法轮", "block"] in rows and len(rows) == 6
    # The test box: what it finds, and the sentence as it would be kept.
    tested = await client.get("/admin/watched-words", params={"text": "你这傻傻瓜瓜，加 微 信"})
    assert "■■■■" in tested.text and "加 微 信" in tested.text
    page = await client.get("/admin/watched-words")
    word = await WatchedWord.get(word="法轮")
    removed = await client.post(
        f"/admin/watched-words/{word.id}/remove", data={"csrf_token": csrf_from(page.text)}
    )
    assert removed.status_code == 303 and not await WatchedWord.exists(word="法轮")
    bad = await client.post(
        "/admin/watched-words/import",
        data={"csrf_token": csrf},
        files={"file": ("words.csv", "没有动作\n".encode("gbk"), "text/csv")},
    )
    assert bad.status_code in (303, 422) and await WatchedWord.all().count() == 4


async def test_moderators_work_the_queue_and_not_the_lists(client: httpx.AsyncClient) -> None:
    await words.add_words("require_approval", ["代开发票"], actor=None, now=datetime.now(UTC))
    author = await make_member(email="writer@example.cn")
    await sign_in(client, "writer@example.cn")
    new = await client.get("/board/new")
    made = await client.post(
        "/board/posts",
        data={
            "csrf_token": csrf_from(new.text),
            "category": "knowledge",
            "title": "发票问题",
            "body": "可以代开发票",
        },
    )
    assert made.status_code == 303
    post = await Post.get(author_id=author.id)
    assert post.pending_review and post.hidden
    own = await client.get(made.headers["location"])
    assert "pending-review" in own.text
    await client.post("/account/logout", data={"csrf_token": csrf_from(own.text)})

    csrf = await signed_in(client, role="moderator")
    assert (await client.get("/admin/watched-words")).status_code == 403
    queue = await client.get("/admin/review")
    assert "可以代开发票" in queue.text and "<mark>代开发票</mark>" in queue.text
    item = await ReviewItem.get(object_id=post.id, kind="post")
    refused = await client.post(
        f"/admin/review/{item.id}/decision", data={"csrf_token": csrf, "decision": "reject"}
    )
    assert refused.status_code in (303, 422)  # a rejection needs its reason
    assert (await ReviewItem.get(id=item.id)).status == ReviewStatus.WAITING
    rejected = await client.post(
        f"/admin/review/{item.id}/decision",
        data={"csrf_token": csrf, "decision": "reject", "note": "请勿发布代开发票信息。"},
    )
    assert rejected.status_code == 303
    assert (await ReviewItem.get(id=item.id)).status == ReviewStatus.REJECTED
    told = await Notification.get(user_id=author.id, kind="review_rejected")
    assert "请勿发布代开发票信息。" in told.message
    assert (
        "Nothing waits for review."
        in (await client.get("/admin/review", headers={"Accept-Language": "en"})).text
    )

"""Watched words in a broadcast (issue 38): never refused (a broadcast is the staff's own
words), but the preview, the broadcast's page and the API's answer list the watched words in
it, each with its action, as a warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from crm.models import Broadcast
from moderation import words
from tests.factories import bearer, csrf_from, make_member, make_user, sign_in, token_for


async def watch(action: str, *found: str) -> None:
    await words.add_words(action, list(found), actor=None, now=datetime.now(UTC))


async def test_the_api_answer_lists_the_watched_words_and_the_broadcast_goes(
    client: httpx.AsyncClient,
) -> None:
    await watch("block", "赌场")
    await watch("flag", "返利")
    await watch("censor", "傻瓜")
    await make_member()
    admin = bearer(await token_for(await make_user(admin=True)))
    answer = await client.post(
        "/api/v1/admin/broadcasts",
        json={
            "title": "周末返利活动",
            "body": "别去賭場，来读书。返利翻倍。",
            "audience": {"kind": "all_members"},
        },
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["watched_words"] == [
        {"word": "返利", "action": "flag"},
        {"word": "赌场", "action": "block"},
    ]
    broadcast = await Broadcast.get(id=answer.json()["id"])
    assert broadcast.body == "别去賭場，来读书。返利翻倍。"  # nothing refused or changed
    clean = await client.post(
        "/api/v1/admin/broadcasts",
        json={
            "title": "书单",
            "body": "读这本。",
            "audience": {"kind": "everyone"},
            "send_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        },
        headers=admin,
    )
    assert clean.status_code == 201 and clean.json()["watched_words"] == []


async def test_the_preview_and_the_broadcasts_page_warn_of_watched_words(
    client: httpx.AsyncClient,
) -> None:
    await watch("require_approval", "代购")
    await make_member()
    admin = await make_user(admin=True)
    await sign_in(client, admin.email)
    form = await client.get("/admin/broadcasts/new")
    fields = {
        "csrf_token": csrf_from(form.text),
        "title": "海外代购",
        "body": "本周代 购清单。",
        "audience": "all_members",
        "when": "now",
    }
    preview = await client.post("/admin/broadcasts/preview", data=fields)
    assert preview.status_code == 200
    warning = preview.text.split('class="flash flash-warning watched-words"', 1)[1]
    warning = warning.split("</section>", 1)[0]
    assert "<mark>代购</mark>" in warning and "需要审核" in warning
    sent = await client.post("/admin/broadcasts", data=fields)
    assert sent.status_code == 303
    page = await client.get(sent.headers["location"])
    assert "<mark>代购</mark>" in page.text
    quiet = await client.post(
        "/admin/broadcasts/preview", data={**fields, "title": "书单", "body": "读这本。"}
    )
    assert "flash-warning watched-words" not in quiet.text

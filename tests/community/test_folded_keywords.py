"""Keywords and search read Traditional characters as Simplified and ignore inner spaces."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import httpx
from tortoise import connections

from community.feed.models import FeedItem
from tests.community.conftest import write_item

fold_migration = importlib.import_module("migrations.community.0004_folded_keywords")


async def test_a_keyword_typed_in_traditional_or_with_spaces_finds_the_item(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    item = (await write_item(client, admin_headers, keyword="终身学习")).json()
    for typed in ("终身学习", "終身學習", "终身 学习", "終身　學習", " 终 身 学 习 "):
        found = await client.get("/api/v1/feed/lookup", params={"keyword": typed})
        assert found.status_code == 200, typed
        assert found.json()["id"] == item["id"]
    time_item = (await write_item(client, admin_headers, keyword="时间", title="时间")).json()
    found = await client.get("/api/v1/feed/lookup", params={"keyword": "時間"})
    assert found.json()["id"] == time_item["id"]


async def test_keywords_are_unique_under_the_same_folding(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await write_item(client, admin_headers, keyword="时间")).status_code == 201
    for clash in ("時間", "时 间"):
        again = await write_item(client, admin_headers, keyword=clash)
        assert again.status_code == 409, clash
        assert again.json()["error"]["code"] == "keyword_taken"


async def test_search_reads_traditional_as_simplified(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await write_item(
        client, admin_headers, title="行为经济学入门", keyword="经济", body="讲经济学。"
    )
    await write_item(client, admin_headers, title="臺灣的書店", keyword="书店", body="繁體寫的。")
    by_traditional = await client.get("/api/v1/feed/search", params={"q": "經濟學"})
    assert [i["title"] for i in by_traditional.json()["items"]] == ["行为经济学入门"]
    by_simplified = await client.get("/api/v1/feed/search", params={"q": "书店"})
    assert [i["title"] for i in by_simplified.json()["items"]] == ["臺灣的書店"]


async def test_the_migration_refolds_keys_and_reports_live_keywords_that_now_clash(
    client: httpx.AsyncClient, admin_headers: dict[str, str], capsys: object
) -> None:
    first = (await write_item(client, admin_headers, keyword="终身学习")).json()
    second = (await write_item(client, admin_headers, keyword="读书")).json()
    # As the old folding stored them: "終身 學習" was a different live keyword then.
    await FeedItem.filter(id=first["id"]).update(keyword_key="x", live_keyword="x")
    await FeedItem.filter(id=second["id"]).update(
        keyword="終身 學習", keyword_key="終身 學習", live_keyword="終身 學習"
    )
    editor = SimpleNamespace(client=connections.get("default"))
    await fold_migration.fold_keywords(None, editor)
    kept = await FeedItem.get(id=first["id"])
    clashing = await FeedItem.get(id=second["id"])
    assert (kept.keyword_key, kept.live_keyword) == ("终身学习", "终身学习")
    assert (clashing.keyword_key, clashing.live_keyword) == ("终身学习", "終身 學習")
    assert f"feed item #{second['id']}" in capsys.readouterr().out  # type: ignore[attr-defined]

"""Keyword box tests: rules written through the real services or API, lookups through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from accounts.models import User
from community.board import services as board
from community.board.models import Post
from community.feed import editing
from community.feed.models import FeedItem
from keywords import rules
from keywords.checks import KeywordInput, ReplyInput
from keywords.memory import KeywordMemory
from keywords.models import AutoReply
from ratelimit import MemoryCounter
from store import services as store
from store.models import Product
from tests.factories import bearer, make_member, make_user, token_for


@pytest.fixture
async def admin() -> User:
    return await make_user(role="admin", name="运营小周")


@pytest.fixture
async def admin_headers(admin: User) -> dict[str, str]:
    return bearer(await token_for(admin))


async def make_rule(
    *keywords: tuple[str, str],
    replies: list[ReplyInput] | None = None,
    mode: str = "all",
    now: datetime | None = None,
    memory: KeywordMemory | None = None,
) -> AutoReply:
    """An auto-reply saved as an admin would save it: keywords as (text, match); an app's
    worker sees it at once when given its `memory` (else within a few seconds)."""
    return await rules.create_rule(
        actor=None,
        keywords=[KeywordInput(text, match) for text, match in keywords],
        replies=replies or [ReplyInput("text", text="一条回复")],
        mode=mode,
        now=now or datetime.now(UTC),
        memory=memory,
    )


def text(words: str) -> ReplyInput:
    return ReplyInput("text", text=words)


async def make_product(title: str = "真丝连衣裙", **fields: Any) -> Product:
    values: dict[str, Any] = {
        "description": "",
        "category": "女装",
        "price_fen": 29_900,
        "stock": 5,
        **fields,
    }
    return await store.create_product(title=title, **values)


async def make_post(title: str = "女装穿搭分享") -> Post:
    author = await make_member(name="林夕")
    post, _ = await board.create_post(
        author=author,
        category="knowledge",
        title=title,
        body="春天的三套搭配。",
        counter=MemoryCounter(),
        now=datetime.now(UTC),
    )
    return post


async def make_item(keyword: str, **fields: Any) -> FeedItem:
    values: dict[str, Any] = {
        "title": "时间的朋友",
        "body": "做时间的朋友。" * 20,
        "publish_at": datetime.now(UTC) - timedelta(minutes=1),
        **fields,
    }
    return await editing.create_item(keyword=keyword, now=datetime.now(UTC), **values)


async def ask(client: httpx.AsyncClient, word: str, **kwargs: Any) -> httpx.Response:
    return await client.get("/api/v1/keyword-replies", params={"keyword": word}, **kwargs)

"""Admins saving one keyword at the same moment: the unique folded key lets exactly one rule
have it, and every other save is refused 409 keyword_taken (never a 500, never two rules)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from keywords.models import AutoReply, AutoReplyKeyword

pytestmark = pytest.mark.postgres_only

SAVES = 12


async def test_of_many_saves_of_one_keyword_at_once_exactly_one_wins(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    spellings = ["女装", "女裝", "女 装", "女\u3000裝"]  # one folded keyword, typed four ways

    async def save(n: int) -> int:
        body = {
            "keywords": [{"text": spellings[n % len(spellings)], "match": "contain"}],
            "replies": [{"kind": "text", "text": f"第 {n} 位管理员的回复"}],
        }
        answer = await client.post("/api/v1/admin/auto-replies", json=body, headers=admin_headers)
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "keyword_taken"
        return answer.status_code

    statuses = await asyncio.gather(*(save(n) for n in range(SAVES)))
    assert sorted(statuses) == [201] + [409] * (SAVES - 1)
    assert await AutoReply.all().count() == 1
    assert await AutoReplyKeyword.filter(key="女装").count() == 1

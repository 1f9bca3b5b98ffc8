"""Feed tests: an admin token, items written through the real API, audio files that play."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from community.feed.audio import silent_mp3
from tests.factories import bearer, make_user, token_for


@pytest.fixture
async def admin_headers() -> dict[str, str]:
    admin = await make_user(admin=True, name="编辑部")
    return bearer(await token_for(admin))


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def write_item(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    audio: bytes | None = None,
    **fields: Any,
) -> httpx.Response:
    """POST /api/v1/admin/feed-items, as JSON, or as multipart when there is audio."""
    data = {"title": "认知升级", "body": "今天聊聊**认知**。", "keyword": "认知", **fields}
    if audio is None:
        return await client.post("/api/v1/admin/feed-items", json=data, headers=headers)
    form = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in data.items()
    }
    return await client.post(
        "/api/v1/admin/feed-items",
        data=form,
        files={"audio": ("voice.mp3", audio, "audio/mpeg")},
        headers=headers,
    )


@pytest.fixture
def mp3() -> bytes:
    return silent_mp3(60)

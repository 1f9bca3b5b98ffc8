"""A drop watched live: the console's stream (server-sent events, through uvicorn) shows a small
rush as it happens, by itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from settings import Settings
from stats import live
from store import services as store
from tests.factories import bearer, make_user, sign_in, token_for
from tests.live import running_server

BUYERS = 6


async def next_state(lines: AsyncIterator[str]) -> dict[str, Any]:
    """The next "state" event's data (pings and other lines skipped)."""
    event = None
    async for line in lines:
        if line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:") and event == "state":
            return dict(json.loads(line.partition(":")[2]))
    raise AssertionError("the stream ended")


@pytest.mark.timeout(90)
async def test_the_live_stream_shows_a_small_rush_as_it_happens(settings: Settings) -> None:
    drop = await store.create_product(
        title="限量笔记本",
        description="",
        category="文具精选",
        price_fen=3_900,
        stock=10,
        sale_starts_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    owner = await make_user(role="owner")
    tokens = [await token_for(await make_user()) for _ in range(BUYERS)]
    states = []
    with running_server(settings) as base_url:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=20) as http,
            httpx.AsyncClient(base_url=base_url, timeout=20) as crowd,
        ):
            await sign_in(http, owner.email)
            path = f"/admin/dashboard/sales/drop/{drop.id}/live"
            async with http.stream("GET", path) as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = stream.aiter_lines()
                states.append(await next_state(lines))  # as the page opens: nothing held
                answers = await asyncio.gather(
                    *(
                        crowd.post(
                            "/api/v1/orders",
                            json={"items": [{"product_id": drop.id, "quantity": 1}]},
                            headers=bearer(token),
                        )
                        for token in tokens
                    )
                )
                assert [answer.status_code for answer in answers] == [201] * BUYERS
                while states[-1]["holds"] < BUYERS and len(states) < 10:
                    states.append(await asyncio.wait_for(next_state(lines), timeout=10))

    first, last = states[0], states[-1]
    assert (first["kind"], first["id"], first["opened"]) == ("drop", drop.id, True)
    assert (first["left"], first["holds"]) == (10, 0)
    # The rush reached the stream within a few of its one-second events, by itself.
    assert (last["left"], last["holds"]) == (10 - BUYERS, BUYERS)
    assert len(states) <= 5
    assert len(last["paid_per_minute"]) == live.PAID_MINUTES
    assert sum(minute["paid"] for minute in last["paid_per_minute"]) == 0  # held, not paid


async def test_a_stream_for_a_sale_that_does_not_exist_is_404_and_staff_only(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_user(role="owner")
    await sign_in(client, owner.email)
    assert (await client.get("/admin/dashboard/sales/drop/4242/live")).status_code == 404
    assert (await client.get("/admin/dashboard/sales/window/4242/live")).status_code == 404
    support = await make_user(role="support")
    await sign_in(client, support.email)
    assert (await client.get("/admin/dashboard/sales/drop/4242/live")).status_code == 403

"""The dashboard's pages through the real app: the range, the sales worth watching, a sale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from stats import rollups
from store import services as store
from tests.factories import make_user, make_window, sign_in


async def test_the_dashboard_lists_the_live_sales_and_a_sale_page_shows_its_funnel(
    client: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC)
    selling = await store.create_product(
        title="正在抢的笔记本",
        description="",
        category="文具精选",
        price_fen=3_900,
        stock=5,
        sale_starts_at=now - timedelta(minutes=3),
    )
    await store.create_product(
        title="上个月的限量",
        description="",
        category="文具精选",
        price_fen=3_900,
        stock=5,
        sale_starts_at=now - timedelta(days=30),
        now=now - timedelta(days=31),
    )
    window = await make_window(now=now - timedelta(minutes=1))
    await rollups.refresh(now=now)
    owner = await make_user(role="owner")
    await sign_in(client, owner.email)

    page = await client.get("/admin/dashboard", params={"from": "2026-11-01", "to": "2026-11-30"})
    assert page.status_code == 200
    live = page.text.split("上个月的限量")[0]  # the live sales come before the recent ones
    assert f"/admin/dashboard/sales/drop/{selling.id}" in live
    assert f"/admin/dashboard/sales/window/{window.id}" in live

    sale = await client.get(f"/admin/dashboard/sales/drop/{selling.id}")
    assert sale.status_code == 200
    assert "正在抢的笔记本" in sale.text
    assert f"/admin/dashboard/sales/drop/{selling.id}/live" in sale.text  # the stream it opens


async def test_a_bad_range_on_the_page_is_a_clear_422(client: httpx.AsyncClient) -> None:
    await sign_in(client, (await make_user(role="admin")).email)
    page = await client.get("/admin/dashboard", params={"from": "2026-03-02", "to": "2026-03-01"})
    assert page.status_code == 422
    support = await make_user(role="support")
    await sign_in(client, support.email)
    assert (await client.get("/admin/dashboard")).status_code == 403

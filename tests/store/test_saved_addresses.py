"""The buyer's page of saved addresses: listed newest used first, each forgotten on its own,
and nobody else's reachable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from accounts.models import User
from store.models import SavedAddress
from tests.factories import csrf_from, make_user, sign_in


async def save_address(user: User, street: str, *, days_ago: int = 0) -> SavedAddress:
    return await SavedAddress.create(
        user_id=user.id,
        key=f"{user.id}-{street}",
        name="王小明",
        phone="13812345678",
        province="浙江省",
        city="杭州市",
        district="西湖区",
        address=street,
        used_at=datetime.now(UTC) - timedelta(days=days_ago),
    )


async def test_the_page_lists_the_buyers_addresses_newest_used_first(
    client: httpx.AsyncClient,
) -> None:
    buyer = await make_user()
    await save_address(buyer, "文三路 1 号", days_ago=3)
    await save_address(buyer, "文三路 2 号")
    await save_address(await make_user(), "别人的路 9 号")
    await sign_in(client, buyer.email)
    page = await client.get("/store/addresses")
    assert page.status_code == 200
    assert page.text.index("文三路 2 号") < page.text.index("文三路 1 号")
    assert "别人的路" not in page.text


async def test_a_forgotten_address_is_gone_and_orders_are_untouched(
    client: httpx.AsyncClient,
) -> None:
    buyer = await make_user()
    kept, forgotten = (
        await save_address(buyer, "留下路 1 号"),
        await save_address(buyer, "忘掉路 2 号"),
    )
    await sign_in(client, buyer.email)
    page = await client.get("/store/addresses")
    done = await client.post(
        f"/store/addresses/{forgotten.id}/forget", data={"csrf_token": csrf_from(page.text)}
    )
    assert (done.status_code, done.headers["location"]) == (303, "/store/addresses")
    after = await client.get("/store/addresses")
    assert "这个地址已删除。" in after.text
    assert "忘掉路" not in after.text and "留下路" in after.text
    assert [a.id for a in await SavedAddress.filter(user_id=buyer.id)] == [kept.id]


async def test_someone_elses_address_cannot_be_forgotten(client: httpx.AsyncClient) -> None:
    theirs = await save_address(await make_user(), "别人的路 9 号")
    await sign_in(client, (await make_user()).email)
    page = await client.get("/account")  # their own list is empty: no form to take a token from
    refused = await client.post(
        f"/store/addresses/{theirs.id}/forget", data={"csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 404
    assert await SavedAddress.filter(id=theirs.id).exists()


async def test_the_page_asks_a_visitor_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/store/addresses")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/account/login")

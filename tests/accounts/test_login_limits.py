"""Failed sign-ins are limited per account and per address; successful ones never are."""

from __future__ import annotations

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette

from accounts import services as accounts
from accounts.models import User
from accounts.services import FAILED_LOGINS_PER_ACCOUNT, FAILED_LOGINS_PER_ADDRESS
from ratelimit import Limit, MemoryCounter, RedisCounter
from tests.factories import PASSWORD, make_user


async def get_token(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/tokens", json={"email": email, "password": password})


def from_address(app: Starlette, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_guesses_from_one_address_are_slowed_there_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="target@example.cn")
    for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts):
        assert (await get_token(client, "target@example.cn", "guess guess")).status_code == 401
    response = await get_token(client, "TARGET@example.cn", "guess again")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


async def test_an_attackers_50_guesses_from_10_addresses_never_keep_the_owner_out(
    app: Starlette,
) -> None:
    await make_user(email="owner@example.cn")
    refused = 0
    for n in range(10):
        async with from_address(app, f"198.51.100.{n + 1}") as attacker:
            for _ in range(5):
                answer = await get_token(attacker, "owner@example.cn", "not the password")
                assert answer.status_code in (401, 429)
                refused += answer.status_code == 429
    assert refused > 0  # the account's failures shrank each address's allowance as they grew
    async with from_address(app, "203.0.113.7") as owner:
        assert (await get_token(owner, "owner@example.cn", PASSWORD)).status_code == 201


def test_an_accounts_allowance_per_address_shrinks_as_its_failures_grow_but_never_to_none() -> None:
    allowances = [accounts.allowed_failures(n) for n in (0, 9, 10, 29, 30, 99, 100, 10_000)]
    assert allowances == sorted(allowances, reverse=True)
    assert allowances[0] == FAILED_LOGINS_PER_ACCOUNT.attempts
    assert allowances[-1] == 1


async def test_slowing_one_account_leaves_others_at_the_same_address_alone(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="target@example.cn")
    await make_user(email="bystander@example.cn")
    for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts):
        await get_token(client, "target@example.cn", "guess guess")
    assert (await get_token(client, "bystander@example.cn", PASSWORD)).status_code == 201


async def test_a_success_clears_the_addresss_earlier_failures(client: httpx.AsyncClient) -> None:
    await make_user(email="forgetful@example.cn")
    for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts - 1):
        await get_token(client, "forgetful@example.cn", "guess guess")
    assert (await get_token(client, "forgetful@example.cn", PASSWORD)).status_code == 201
    for _ in range(FAILED_LOGINS_PER_ACCOUNT.attempts - 1):
        await get_token(client, "forgetful@example.cn", "guess guess")
    assert (await get_token(client, "forgetful@example.cn", PASSWORD)).status_code == 201


async def test_many_accounts_signing_in_from_one_address_are_not_refused(
    client: httpx.AsyncClient,
) -> None:
    # Carrier-grade NAT: far more successful sign-ins from one address than any failure limit.
    count = max(200, FAILED_LOGINS_PER_ADDRESS.attempts + 20)
    # One real argon2 hash shared by all the accounts keeps the setup quick.
    shared_hash = await accounts.hash_password(PASSWORD)
    emails = [f"nat{number}@example.cn" for number in range(count)]
    await User.bulk_create(
        [User(email=email, display_name="同一基站", password_hash=shared_hash) for email in emails]
    )
    statuses = [(await get_token(client, email, PASSWORD)).status_code for email in emails]
    assert statuses == [201] * count


async def test_guessing_across_many_accounts_from_one_address_is_limited(
    client: httpx.AsyncClient,
) -> None:
    await make_user(email="victim@example.cn")
    for number in range(FAILED_LOGINS_PER_ADDRESS.attempts):
        await get_token(client, f"guess{number}@example.cn", "guess guess")
    response = await client.post(
        "/api/v1/tokens",
        json={"email": "victim@example.cn", "password": "another guess"},
        headers={"Accept-Language": "en"},  # the message is translated now: read it in English
    )
    assert response.status_code == 429
    assert "address" in response.json()["error"]["message"]


async def test_memory_counter_counts_within_a_window_and_resets() -> None:
    counter = MemoryCounter()
    limit = Limit(attempts=3, window_seconds=60)
    assert [await counter.hit("k", limit) for _ in range(3)] == [1, 2, 3]
    assert await counter.count("k", limit) == 3
    await counter.reset("k")
    assert await counter.count("k", limit) == 0


@pytest.fixture
async def redis_counter() -> RedisCounter:
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        await client.ping()
    except (OSError, aioredis.ConnectionError):
        pytest.skip("no Redis at 127.0.0.1:6379")
    finally:
        await client.aclose()
    import secrets

    return RedisCounter("redis://127.0.0.1:6379/0", prefix=f"shuyuan-test:{secrets.token_hex(4)}:")


async def test_redis_counter_is_shared_between_counter_instances(
    redis_counter: RedisCounter,
) -> None:
    limit = Limit(attempts=3, window_seconds=60)
    other = RedisCounter("redis://127.0.0.1:6379/0", prefix=redis_counter._prefix)
    try:
        await redis_counter.hit("login:account:a", limit)
        await other.hit("login:account:a", limit)
        assert await redis_counter.count("login:account:a", limit) == 2
        await other.reset("login:account:a")
        assert await redis_counter.count("login:account:a", limit) == 0
    finally:
        await other.aclose()
        await redis_counter.aclose()


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_a_limit_reached_just_before_a_window_boundary_still_holds_after_it() -> None:
    clock = FakeClock(59.9)
    counter = MemoryCounter(clock=clock)
    limit = Limit(attempts=3, window_seconds=60)
    for _ in range(3):
        await counter.hit("k", limit)
    clock.now = 60.1  # a fixed window would have dropped to 0 here
    assert await counter.count("k", limit) == 3
    clock.now = 90.0  # half of the previous window still overlaps the last 60 s
    assert await counter.count("k", limit) == 2
    assert await counter.hit("k", limit) == 3
    clock.now = 180.0
    assert await counter.count("k", limit) == 0


async def test_redis_counter_slides_across_a_window_boundary(redis_counter: RedisCounter) -> None:
    clock = FakeClock(119.9)
    counter = RedisCounter("redis://127.0.0.1:6379/0", prefix=redis_counter._prefix, clock=clock)
    limit = Limit(attempts=3, window_seconds=60)
    try:
        for _ in range(3):
            await counter.hit("boundary", limit)
        clock.now = 120.1
        assert await counter.count("boundary", limit) == 3
        clock.now = 150.0
        assert await counter.hit("boundary", limit) == 3
    finally:
        await counter.aclose()
        await redis_counter.aclose()

"""Every URL for the outside world is built from SHUYUAN_PUBLIC_URL; a Host not served gets 400.

A client chooses its Host header: links, return URLs and feeds built from it would send people
(and an Alipay buyer's client secret) wherever the client said.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from app import create_app
from payments.models import Payment
from settings import Settings, SettingsError
from tests.factories import (
    bearer,
    csrf_from,
    make_user,
    make_window,
    sign_in,
    token_for,
)
from tests.payments.test_wallets import held_order, press

SECOND_HOST = "m.shuyuan.test"  # a second name the operator serves (SHUYUAN_ALLOWED_HOSTS)


@pytest.fixture
async def two_host_app(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(
        dataclasses.replace(settings, allowed_hosts=("testserver", SECOND_HOST)),
        manage_database=False,
        background_tasks=False,
    )
    yield app
    await app.state.counter.aclose()
    await app.state.payments_provider.aclose()


async def test_a_host_that_is_not_served_gets_400(client: httpx.AsyncClient) -> None:
    for path in ("/", "/api/v1/store/products", "/account/login"):
        refused = await client.get(path, headers={"Host": "evil.example"})
        assert refused.status_code == 400, path
    # A load balancer's health check and a scraper reach the app by its address, not its name.
    for probe in ("/healthz", "/metrics"):
        assert (await client.get(probe, headers={"Host": "10.0.0.5:8000"})).status_code == 200


async def test_an_alipay_return_url_on_the_requests_host_is_refused(
    two_host_app: Starlette,
) -> None:
    """A Host the site serves is still not where buyers are sent back: only the public
    address is (before, a return URL on the request's own Host was taken)."""
    buyer = await make_user()
    order = await held_order(buyer)
    path = f"/api/v1/orders/{order.id}/payment"
    headers = bearer(await token_for(buyer))
    transport = httpx.ASGITransport(app=two_host_app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{SECOND_HOST}") as http:
        body = {"method": "alipay", "return_url": f"http://{SECOND_HOST}/store/orders/1/paying"}
        refused = await http.post(path, json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        forged = await http.post(
            path,
            json={"method": "alipay", "return_url": "http://evil.example/x"},
            headers={**headers, "Host": "evil.example"},
        )
        assert forged.status_code == 400  # a Host not served at all
    assert not await Payment.exists()


async def test_pages_on_a_second_host_send_people_to_the_public_address(
    two_host_app: Starlette, settings: Settings
) -> None:
    transport = httpx.ASGITransport(app=two_host_app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{SECOND_HOST}") as http:
        buyer = await make_user()
        window = await make_window(now=datetime.now(UTC), seats=3)
        await sign_in(http, buyer.email)
        page = await http.get("/membership")
        enrolled = await http.post(
            f"/membership/windows/{window.id}/enroll", data={"csrf_token": csrf_from(page.text)}
        )
        checkout_path = enrolled.headers["location"]
        checkout = await http.get(checkout_path)
        answer = await http.post(
            checkout_path,
            data={"csrf_token": csrf_from(checkout.text), "method": "alipay"},
            headers={"Accept": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        # Alipay sends the buyer back to the public address, not to the Host they used.
        back = await press(answer.json()["redirect"], "pay")
        assert back.headers["location"].startswith(f"{settings.public_url}/membership/")
        podcast = await http.get("/feed/podcast")
        assert f"{settings.public_url}/feed/" in podcast.text
        assert SECOND_HOST not in podcast.text


def test_allowed_hosts_default_to_the_public_address_and_localhost_outside_production() -> None:
    key = "k" * 40
    development = Settings(secret_key=key, public_url="https://shuyuan.example.cn")
    assert development.allowed_host_names == ("shuyuan.example.cn", "localhost", "127.0.0.1")
    production = Settings(
        env="production",
        secret_key=key,
        public_url="https://shuyuan.example.cn",
        stripe_secret_key="sk_live_x",
        stripe_webhook_secret="whsec_x",
    )
    assert production.allowed_host_names == ("shuyuan.example.cn",)
    env = {
        "SECRET_KEY": key,
        "SHUYUAN_PUBLIC_URL": "https://m.shuyuan.cn",
        "SHUYUAN_ALLOWED_HOSTS": "shuyuan.cn, *.shuyuan.cn",
    }
    assert Settings.from_env(env).allowed_host_names == ("shuyuan.cn", "*.shuyuan.cn")
    for wrong in ("evil/x", "shuyuan.cn:8000", "shuyuan.cn,other.cn:80", "other.cn"):
        with pytest.raises(SettingsError, match="SHUYUAN_ALLOWED_HOSTS"):
            Settings.from_env({**env, "SHUYUAN_ALLOWED_HOSTS": wrong})

"""Several hosts: nginx (deploy/nginx/) in front of two app processes, PgBouncer in transaction
mode between them and PostgreSQL (DATABASE_URL; DATABASE_DIRECT_URL for LISTEN and the job
queue), and a job worker. A drop rush and an enrollment rush run
through it over HTTPS, paying by card through localstripe (whose webhooks come back through
nginx), and one host is killed (SIGKILL) in the middle. Nothing is oversold, every payment the
provider took is fulfilled exactly once, and the survivor keeps serving."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from accounts import services as accounts
from membership.models import Enrollment, EnrollmentStatus, MembershipGrant
from payments.models import Payment, PaymentStatus
from settings import Settings
from store import services as store
from store.models import Order, OrderEvent, OrderStatus
from tests.deploy.harness import (
    Nginx,
    public_url,
    running_nginx,
    running_pgbouncer,
    self_signed,
)
from tests.factories import SHIPPING, bearer, make_users, make_window
from tests.live import ROOT, free_port, running_server_process, server_environment, stop_group
from tests.payments.conftest import webhook_endpoint

pytestmark = pytest.mark.postgres_only

STOCK, BUYERS = 40, 150
SEATS, ENROLLERS = 30, 100
IN_FLIGHT = 24
KILL_AFTER = 90  # answers seen before one host is killed: the rush is well under way


@contextmanager
def private_localstripe(folder: Path, certificate: Path) -> Iterator[str]:
    """A localstripe of this test's own that trusts nginx's certificate, so its webhooks reach
    the site over HTTPS as Stripe's reach production."""
    port = free_port()
    env = {**os.environ, "SSL_CERT_FILE": str(certificate)}
    with (folder / "localstripe.log").open("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devserver.localstripe", "--port", str(port), "--quiet"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{url}/js.stripe.com/v3/", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("localstripe did not start") from None
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextmanager
def running_worker(settings: Settings, env: dict[str, str], folder: Path) -> Iterator[None]:
    """`shuyuan worker`: the periodic jobs (reconciliation, releasing holds) on PostgreSQL.
    Its log is kept in `folder`, not settings.var_dir: procrastinate logs each job's duration
    with 16 decimals, which the run's secrets check reads as a card number now and then."""
    with (folder / "worker.log").open("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            cwd=ROOT,
            env={**server_environment(settings), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield
        finally:
            stop_group(process, timeout=20)


@dataclasses.dataclass
class Fleet:
    nginx: Nginx
    hosts: list[tuple[str, subprocess.Popen[bytes]]]
    localstripe: str


@contextmanager
def fleet(settings: Settings, folder: Path) -> Iterator[Fleet]:
    """PgBouncer, localstripe, two hosts, a worker and nginx in front, on free ports."""
    ports = (free_port(), free_port())
    certificate, key = self_signed(folder)
    with ExitStack() as stack:
        localstripe = stack.enter_context(private_localstripe(folder, certificate))
        served = dataclasses.replace(
            settings, public_url=public_url(ports[0]), stripe_api_base=localstripe
        )
        # The hosts' queries through PgBouncer; LISTEN, the job queue (the worker's too) on
        # PostgreSQL itself (DATABASE_DIRECT_URL).
        pooled = stack.enter_context(running_pgbouncer(settings.database_url))
        env = {"DATABASE_URL": pooled, "DATABASE_DIRECT_URL": settings.database_url}
        hosts = [stack.enter_context(running_server_process(served, env=env)) for _ in range(2)]
        stack.enter_context(running_worker(served, env, folder))
        nginx = stack.enter_context(
            running_nginx(
                folder,
                [url.removeprefix("http://") for url, _ in hosts],
                ports=ports,
                tls=(certificate, key),
                var_dir=settings.var_dir,
            )
        )
        yield Fleet(nginx, hosts, localstripe)


@dataclasses.dataclass
class Tally:
    """What the crowd saw: every answer's status, and what was paid as far as they know."""

    statuses: Counter[int] = dataclasses.field(default_factory=Counter)
    answers: int = 0
    killed_at: int | None = None
    paid: list[int] = dataclasses.field(default_factory=list)
    after_kill: Counter[int] = dataclasses.field(default_factory=Counter)
    under_way: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def saw(self, status: int) -> None:
        self.statuses[status] += 1
        self.answers += 1
        if self.answers >= KILL_AFTER:
            self.under_way.set()
        if self.killed_at is not None:
            self.after_kill[status] += 1


async def attempt(
    tally: Tally, send: Callable[[], Awaitable[httpx.Response]]
) -> httpx.Response | None:
    """One step of a buyer, tried again once after the answer nobody can read (a host died
    under it: 502/503 from nginx, or the connection lost), as a phone's app does."""
    for _ in range(2):
        try:
            response = await send()
        except httpx.TransportError:
            tally.saw(0)
            await asyncio.sleep(0.2)
            continue
        tally.saw(response.status_code)
        if response.status_code not in (502, 503, 504):
            return response
        await asyncio.sleep(0.2)
    return None


async def one_buyer(
    http: httpx.AsyncClient, tally: Tally, token: str, hold: str, body: dict[str, Any],
    pay: str, pay_body: dict[str, Any], gate: asyncio.Semaphore,
) -> None:  # fmt: skip
    async with gate:
        held = await attempt(tally, lambda: http.post(hold, json=body, headers=bearer(token)))
        if held is None or held.status_code != 201:
            return
        held_id = held.json()["id"]
        paid = await attempt(
            tally,
            lambda: http.post(pay.format(id=held_id), json=pay_body, headers=bearer(token)),
        )
        if paid is not None and paid.status_code == 200 and paid.json()["status"] == "paid":
            tally.paid.append(held_id)


async def kill_in_the_middle(tally: Tally, victim: subprocess.Popen[bytes]) -> None:
    await tally.under_way.wait()
    # The process is left unreaped: running_server_process's own ending signals its group.
    os.killpg(victim.pid, signal.SIGKILL)
    tally.killed_at = tally.answers


async def provider_succeeded(localstripe: str) -> set[str]:
    """The PaymentIntents the provider charged."""
    async with httpx.AsyncClient(base_url=localstripe, timeout=20) as http:
        intents = await http.get(
            "/v1/payment_intents",
            params={"limit": 100},
            headers={"Authorization": "Bearer sk_test_shuyuan_dev"},
        )
    intents.raise_for_status()
    assert intents.json()["has_more"] is False
    return {intent["id"] for intent in intents.json()["data"] if intent["status"] == "succeeded"}


async def settled(localstripe: str, seconds: float) -> set[str]:
    """Until every charged intent is a succeeded payment of ours (the survivor settles those
    the killed host left through their webhooks), or `seconds`; the charged intents."""
    deadline = time.monotonic() + seconds
    while True:
        charged = await provider_succeeded(localstripe)
        ours = {
            str(intent)
            for intent in await Payment.filter(status=PaymentStatus.SUCCEEDED).values_list(
                "provider_intent_id", flat=True
            )
        }
        if charged == ours or time.monotonic() > deadline:
            return charged
        await asyncio.sleep(0.5)


async def oversold(dsn: str, product_id: int, window_id: int) -> dict[str, int]:
    """Units and seats taken, counted in one snapshot with what claims them."""
    connection = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
    try:
        row = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM store_unit WHERE product_id = $1 "
            "        AND order_id IS NOT NULL) AS units, "
            "(SELECT coalesce(sum(quantity), 0) FROM store_order_item i JOIN store_order o "
            " ON o.id = i.order_id WHERE i.product_id = $1 "
            " AND o.status IN ('pending_payment', 'paid')) AS ordered, "
            "(SELECT count(*) FROM membership_seat WHERE window_id = $2 "
            " AND enrollment_id IS NOT NULL) AS seats, "
            "(SELECT count(*) FROM membership_enrollment WHERE window_id = $2 "
            " AND status IN ('pending_payment', 'paid')) AS enrolled",
            product_id,
            window_id,
        )
        return dict(row)
    finally:
        await connection.close()


@pytest.mark.timeout(240)
async def test_a_drop_and_an_enrollment_rush_through_nginx_survive_a_host_killed_midway(
    settings: Settings, tmp_path: Path
) -> None:
    drop = await store.create_product(
        title="逼格工场 · 限量书签",
        description="",
        category="逼格工场",
        price_fen=9_900,
        stock=STOCK,
        per_customer_limit=1,
    )
    window = await make_window(now=datetime.now(UTC), seats=SEATS)
    buyers = await make_users(BUYERS, prefix="rushbuy")
    enrollers = await make_users(ENROLLERS, prefix="rushseat")
    tokens = [await accounts.issue_token(person, name="rush") for person in buyers + enrollers]
    order_body = {"items": [{"product_id": drop.id, "quantity": 1}]}
    tally = Tally()
    with fleet(settings, tmp_path) as hosts:
        async with webhook_endpoint(
            dataclasses.replace(settings, stripe_api_base=hosts.localstripe), hosts.nginx.url
        ):
            limits = httpx.Limits(max_connections=IN_FLIGHT)
            async with httpx.AsyncClient(
                base_url=hosts.nginx.url, verify=hosts.nginx.tls(), timeout=30, limits=limits
            ) as http:
                gate = asyncio.Semaphore(IN_FLIGHT)
                crowd = [
                    one_buyer(http, tally, token, "/api/v1/orders", order_body,
                              "/api/v1/orders/{id}/payment",
                              {"payment_method": "pm_card_visa", "shipping": SHIPPING}, gate)
                    for token in tokens[:BUYERS]
                ] + [
                    one_buyer(http, tally, token,
                              f"/api/v1/enrollment-windows/{window.id}/enrollments", {},
                              "/api/v1/enrollments/{id}/payment",
                              {"payment_method": "pm_card_visa"}, gate)
                    for token in tokens[BUYERS:]
                ]  # fmt: skip
                # The two rushes side by side, in an order mixing them.
                mixed = [
                    c for pair in zip(crowd[:BUYERS], crowd[BUYERS:], strict=False) for c in pair
                ]
                mixed += crowd[ENROLLERS:BUYERS]
                killer = asyncio.create_task(kill_in_the_middle(tally, hosts.hosts[0][1]))
                await asyncio.gather(*mixed)
                await killer
                # The survivor keeps serving: reads, and a new order paid.
                reads = await asyncio.gather(
                    *(http.get(f"/api/v1/products/{drop.id}") for _ in range(20))
                )
                later = await store.create_product(
                    title="精神粮食 · 年度书单", description="", category="精神粮食",
                    price_fen=5_900, stock=5,
                )  # fmt: skip
                ordered = await http.post(
                    "/api/v1/orders",
                    json={"items": [{"product_id": later.id, "quantity": 1}]},
                    headers=bearer(tokens[0]),
                )
                late_paid = await http.post(
                    f"/api/v1/orders/{ordered.json()['id']}/payment",
                    json={"payment_method": "pm_card_visa", "shipping": SHIPPING},
                    headers=bearer(tokens[0]),
                )
            charged = await settled(hosts.localstripe, 30)
        counts = await oversold(settings.database_url, drop.id, window.id)
        survivor_log = settings.var_dir / f"serve-{hosts.hosts[1][0].rsplit(':', 1)[1]}.log"
        killed_log = settings.var_dir / f"serve-{hosts.hosts[0][0].rsplit(':', 1)[1]}.log"
        served = [log.read_text().count('"route": "store.api.create_order"')
                  for log in (killed_log, survivor_log)]  # fmt: skip
        webhooks = (
            (hosts.nginx.prefix / "access.log")
            .read_text()
            .count('"POST /payments/webhook HTTP/1.1" 200')
        )

    assert tally.killed_at is not None
    assert all(count > 0 for count in served), served  # both hosts took orders
    # The provider's word came back through nginx over TLS (those in flight on the killed
    # host were answered 502: Stripe sends them again, localstripe does not).
    assert webhooks >= len(charged) // 2
    # Nothing oversold: units and seats taken, each by exactly one live order or enrollment.
    assert counts["units"] <= STOCK and counts["units"] == counts["ordered"], counts
    assert counts["seats"] <= SEATS and counts["seats"] == counts["enrolled"], counts
    # The crowd was told "sold out" / "full", not errors, apart from the kill's moment.
    assert tally.statuses[409] >= BUYERS - STOCK
    assert tally.statuses[500] == 0
    # Every payment the provider charged is ours, succeeded, and fulfilled exactly once.
    payments = await Payment.filter(provider_intent_id__in=list(charged))
    assert {p.provider_intent_id for p in payments} == charged
    assert all(p.status == PaymentStatus.SUCCEEDED and p.fulfilled_at for p in payments)
    orders = [int(p.subject_id) for p in payments if p.purpose == "order"]
    enrollments = [int(p.subject_id) for p in payments if p.purpose == "membership"]
    assert len(orders) == len(set(orders)) and len(enrollments) == len(set(enrollments))
    assert set(tally.paid) <= set(orders) | set(enrollments)
    assert await Order.filter(id__in=orders, status=OrderStatus.PAID).count() == len(orders)
    paid_events = Counter(
        await OrderEvent.filter(order_id__in=orders, status=OrderStatus.PAID).values_list(
            "order_id", flat=True
        )
    )
    assert set(paid_events.values()) <= {1} and len(paid_events) == len(orders)
    assert await Enrollment.filter(id__in=enrollments, status=EnrollmentStatus.PAID).count() == len(
        enrollments
    )
    assert await MembershipGrant.filter(enrollment_id__in=enrollments).count() == len(enrollments)
    assert len(orders) >= STOCK // 2 and len(enrollments) >= SEATS // 2  # the rushes sold
    # After the kill the survivor answered, and goes on answering.
    assert sum(n for status, n in tally.after_kill.items() if status in (200, 201, 409)) > 50
    assert [read.status_code for read in reads] == [200] * 20
    assert (ordered.status_code, late_paid.status_code) == (201, 200)
    assert late_paid.json()["status"] == "paid"

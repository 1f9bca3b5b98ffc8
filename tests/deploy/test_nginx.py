"""deploy/nginx/shuyuan.conf under Debian's nginx, in front of a real `shuyuan serve`: what the
site promises an operator (TLS only, static files and their lifetimes, the app seeing https and
the caller, body limits, live events unbuffered, the API's error shape with no host)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from community.feed import editing
from community.feed.audio import check_audio, silent_mp3
from settings import Settings
from store import services as store
from store.models import Order
from tests.deploy.harness import (
    SITE,
    Nginx,
    public_url,
    render,
    running_nginx,
    site_values,
    site_values_names,
)
from tests.factories import bearer, make_member, make_user, sign_in, token_for
from tests.live import free_port, running_server_process

pytestmark = pytest.mark.postgres_only
VOICE = silent_mp3(20)


@pytest.fixture(scope="module")
def site(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """nginx with the site (and media.conf), in front of one app host."""
    ports = (free_port(), free_port())
    served = replace(settings, public_url=public_url(ports[0]))
    accel = {"SHUYUAN_ACCEL_REDIRECT": "/_protected/"}  # members' audio handed to nginx
    with running_server_process(served, env=accel) as (host, _):
        folder = tmp_path_factory.mktemp("site")
        hosts = [host.removeprefix("http://")]
        with running_nginx(folder, hosts, ports=ports, var_dir=settings.var_dir) as nginx:
            yield nginx


def over_tls(nginx: Nginx, **options: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=nginx.url, verify=nginx.tls(), timeout=20, **options)  # type: ignore[arg-type]


def test_the_site_leaves_to_the_operator_exactly_what_the_header_says() -> None:
    text = (SITE / "shuyuan.conf").read_text(encoding="utf-8")
    header = text.split("upstream", 1)[0]
    names = site_values_names()
    assert names == set(site_values(Path("/x"), app_servers=[], https_port=1, http_port=2,
                                    certificate=Path("/c"), key=Path("/k")))  # fmt: skip
    assert {name for name in names if f"{name}=" not in header} == set()


@pytest.mark.skipif(shutil.which("envsubst") is None, reason="envsubst (gettext-base) missing")
def test_envsubst_fills_the_site_as_the_tests_do(tmp_path: Path) -> None:
    values = site_values(tmp_path, app_servers=["10.0.0.11:8000", "10.0.0.12:8000"],
                         https_port=443, http_port=80, certificate=Path("/etc/ssl/s.pem"),
                         key=Path("/etc/ssl/s.key"))  # fmt: skip
    template = (SITE / "shuyuan.conf").read_text(encoding="utf-8")
    # The operator's command, from the site's header.
    command = next(x for x in template.splitlines() if x.lstrip("# ").startswith("envsubst "))
    shell_format = command.split('"', 2)[1]
    filled = subprocess.run(
        ["sh", "-c", f'envsubst "{shell_format}"'],
        input=template,
        env={**values, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert filled == render(template, values)
    assert "$host$request_uri" in filled  # nginx's own variables left alone


async def test_plain_http_only_leads_to_https_and_a_stranger_host_gets_nothing(
    site: Nginx,
) -> None:
    async with httpx.AsyncClient(base_url=site.http_url) as http:
        moved = await http.get("/store?page=2", headers={"Host": "localhost"})
        assert moved.status_code == 301
        assert moved.headers["location"] == "https://localhost/store?page=2"
        with pytest.raises(httpx.RemoteProtocolError):  # 444: closed without a word
            await http.get("/", headers={"Host": "shuyuan.evil.example"})


async def test_tls_is_1_2_or_1_3_and_only_for_our_name(site: Nginx) -> None:
    async with over_tls(site) as http:
        assert (await http.get("/healthz")).status_code == 200
    old = site.tls()
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # this client would speak TLS 1.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    async with httpx.AsyncClient(base_url=site.url, verify=old) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/healthz")
    # By address (no SNI): the handshake is refused, no certificate is shown.
    by_address = site.url.replace("localhost", "127.0.0.1")
    async with httpx.AsyncClient(base_url=by_address, verify=site.tls()) as http:
        with pytest.raises(httpx.ConnectError, match="UNRECOGNIZED_NAME"):
            await http.get("/healthz")


async def test_versioned_static_files_live_a_year_and_ours_are_revalidated(site: Nginx) -> None:
    vendor = next((SITE.parent.parent / "static" / "vendor").glob("htmx-*.min.js")).name
    async with over_tls(site) as http:
        htmx = await http.get(f"/static/vendor/{vendor}", headers={"Accept-Encoding": "gzip"})
        assert htmx.status_code == 200
        assert htmx.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert htmx.headers["content-encoding"] == "gzip"
        css = await http.get("/static/css/site.css", headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200
        assert css.headers["cache-control"] == "no-cache"
        assert css.headers["content-encoding"] == "gzip"
        assert css.headers["vary"] == "Accept-Encoding"
        assert css.headers["x-content-type-options"] == "nosniff"
        again = await http.get(
            "/static/css/site.css", headers={"If-None-Match": css.headers["etag"]}
        )
        assert again.status_code == 304


async def test_the_app_behind_sees_https_and_nginx_sets_the_request_id(
    site: Nginx, settings: Settings
) -> None:
    person = await make_user()
    async with over_tls(site) as http:
        page = await http.get("/", headers={"X-Request-ID": "chosen-by-the-caller"})
        assert page.status_code == 200
        # HSTS and the session cookie's Secure are the app's, sent only over https: it
        # trusted nginx's X-Forwarded-Proto.
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert re.fullmatch(r"[0-9a-f]{32}", page.headers["x-request-id"])
        signed_in = await sign_in(http, str(person.email))
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert "Secure" in cookie, cookie


async def test_a_body_over_the_app_limit_is_refused_by_the_app_and_a_huge_one_by_nginx(
    site: Nginx,
) -> None:
    token = await token_for(await make_user())
    async with over_tls(site) as http:
        app_refused = await http.post(
            "/api/v1/orders",
            content=b"{" + b" " * (10 * 1024 * 1024) + b"}",  # under nginx's 12 MiB wall
            headers={**bearer(token), "Content-Type": "application/json"},
        )
        assert app_refused.status_code == 413
        assert app_refused.json()["error"]["code"] == "payload_too_large"
        nginx_refused = await http.post(
            "/api/v1/orders",
            content=b" " * (13 * 1024 * 1024),
            headers={**bearer(token), "Content-Type": "application/json"},
        )
        assert nginx_refused.status_code == 413


@pytest.mark.timeout(60)
async def test_live_events_pass_through_unbuffered(site: Nginx) -> None:
    drop = await store.create_product(
        title="限量笔记本",
        description="",
        category="文具精选",
        price_fen=3_900,
        stock=10,
        sale_starts_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    owner = await make_user(role="owner")
    async with over_tls(site) as http:
        await sign_in(http, str(owner.email))
        path = f"/admin/dashboard/sales/drop/{drop.id}/live"
        async with http.stream("GET", path) as stream:
            assert stream.status_code == 200
            assert stream.headers.get("content-encoding") is None
            started, seen = time.monotonic(), 0
            async for line in stream.aiter_lines():
                if line.startswith("event: state"):
                    seen += 1
                    if seen == 3:
                        break
        # One event a second, each a few hundred bytes: a buffer would have held them.
        assert time.monotonic() - started < 5


async def test_with_no_host_answering_the_api_keeps_its_error_shape(
    tmp_path: Path,
) -> None:
    with running_nginx(tmp_path, [f"127.0.0.1:{free_port()}"]) as nginx:
        async with over_tls(nginx) as http:
            answer = await http.get("/api/v1/products")
            page = await http.get("/")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    assert answer.json()["error"]["code"] == "service_unavailable"
    assert page.status_code == 502  # a page: nginx's own


@pytest.mark.timeout(60)
async def test_a_host_that_dies_is_passed_over_for_reads(
    settings: Settings, tmp_path: Path
) -> None:
    ports = (free_port(), free_port())
    served = replace(settings, public_url=public_url(ports[0]))
    with (
        running_server_process(served) as (first, first_process),
        running_server_process(served) as (second, _),
    ):
        hosts = [first.removeprefix("http://"), second.removeprefix("http://")]
        with running_nginx(tmp_path, hosts, ports=ports, var_dir=settings.var_dir) as nginx:
            async with over_tls(nginx) as http:
                before = [await http.get("/healthz") for _ in range(4)]
                os.killpg(first_process.pid, signal.SIGKILL)
                await asyncio.sleep(0.2)
                after = await asyncio.gather(*(http.get("/api/v1/products") for _ in range(20)))
    assert [r.status_code for r in before] == [200] * 4
    assert [r.status_code for r in after] == [200] * 20


class DyingHost:
    """A host that reads each request whole, then dies on it: closes without an answer, as a
    host killed while working on it does. Counts what it was sent, by method."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.port = free_port()

    async def _take(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *([0-9]+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            self.seen.append(head.split(b" ", 1)[0].decode())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.transport.abort()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._take, "127.0.0.1", self.port)
        return f"127.0.0.1:{self.port}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


@pytest.mark.timeout(60)
async def test_a_read_that_met_a_dying_host_is_retried_and_an_order_never_is(
    site: Nginx, tmp_path: Path
) -> None:
    drop = await store.create_product(
        title="限量书签", description="", category="文具精选", price_fen=900, stock=10
    )
    buyer = await make_user()
    token = await token_for(buyer)
    body = {"items": [{"product_id": drop.id, "quantity": 1}]}
    (host,) = site.app_servers
    dying = DyingHost()
    async with dying as dying_host:
        with running_nginx(tmp_path / "reads", [dying_host, host]) as nginx:
            async with over_tls(nginx) as http:
                reads: list[httpx.Response] = []
                while not dying.seen and len(reads) < 4:
                    reads.append(await http.get(f"/api/v1/products/{drop.id}"))
        assert dying.seen == ["GET"]
        assert [read.status_code for read in reads] == [200] * len(reads)
        with running_nginx(tmp_path / "orders", [dying_host, host]) as nginx:
            async with over_tls(nginx) as http:
                orders: list[httpx.Response] = []
                while dying.seen == ["GET"] and len(orders) < 4:
                    orders.append(
                        await http.post("/api/v1/orders", json=body, headers=bearer(token))
                    )
        assert dying.seen == ["GET", "POST"]
    # The order that reached the dying host is answered "unavailable", not sent on to the
    # other host; only the ones sent to the living host were placed.
    assert orders[-1].status_code == 503
    assert orders[-1].json()["error"]["code"] == "service_unavailable"
    placed = [order for order in orders if order.status_code == 201]
    assert len(placed) == len(orders) - 1
    assert await Order.filter(user_id=buyer.id).count() == len(placed)


async def test_members_audio_is_sent_by_nginx_with_range_after_the_app_said_yes(
    site: Nginx,
) -> None:
    item = await editing.create_item(
        title="会员的早晨",
        body="六十秒。",
        keyword="会员早晨",
        members_only=True,
        audio=check_audio(VOICE),
        now=datetime.now(UTC),
    )
    path = f"/feed/audio/{item.audio_file}"
    member, stranger = await make_member(), await make_user()
    async with over_tls(site) as http:
        await sign_in(http, str(member.email))
        part = await http.get(path, headers={"Range": "bytes=500-1499"})
        assert part.status_code == 206, part.text
        assert part.headers["content-range"] == f"bytes 500-1499/{len(VOICE)}"
        assert part.content == VOICE[500:1500]
        assert "x-accel-redirect" not in part.headers
        assert (await http.get(f"/_protected/local/audio/{item.audio_file}")).status_code == 404
    async with over_tls(site) as http:
        await sign_in(http, str(stranger.email))
        refused = await http.get(path, headers={"Range": "bytes=0-99"})
        assert refused.status_code == 403
        assert VOICE[:100] not in refused.content

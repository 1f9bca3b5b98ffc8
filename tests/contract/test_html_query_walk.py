"""Every HTML page answers hostile query values with a page, never a 500.

Walks every GET route of the HTML app as a signed-in admin who is also a member (so every page
is reachable), with the real ids of things that exist in its path, and feeds each query
parameter that route code reads (found in the source, so a new one is walked too) values a
hostile client would send: too long, NUL and other control characters, huge and negative
numbers, digits of other scripts, malformed cursors, lone surrogates, markup.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import msgspec
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from accounts.models import User
from community.board import services as board
from community.feed import editing as feed_editing
from membership import services as membership
from ratelimit import MemoryCounter
from store import services as store
from tests.factories import make_user, make_window, sign_in
from web.api import Query

pytestmark = [pytest.mark.contract, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES = ("accounts", "community", "membership", "payments", "store", "web")
_READS = re.compile(r"""(?:query_params|params)\.get\(\s*["']([a-z_]+)["']""")

HOSTILE = (
    "x" * 5000,
    "\x00",
    "a\x00b",
    "\x1b[31m\x07",
    "9" * 40,
    "-1",
    "0",
    "2147483648",
    "١٢٣",  # Arabic-Indic digits: int() reads them
    "１２３",  # full-width digits
    "%ZZ",
    "bad==cursor",
    "MTIzOmFiYw",  # base64 of "123:abc"
    "9999999999999999999_9999999999",
    "o99999999",
    "\ud800",
    "<script>alert(1)</script>",
    "../../../etc/passwd",
    "",
)


def query_names() -> list[str]:
    """Every query parameter name that route code reads: the fields of every declared Query,
    and any name read straight from query_params in the source."""
    names: set[str] = set()
    for package in SOURCES:
        for path in (ROOT / package).glob("*.py"):
            names.update(_READS.findall(path.read_text()))
    pending = list(Query.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        names.update(spec.encode_name for spec in msgspec.structs.fields(model))
    assert {"q", "cursor", "next", "category", "before"} <= names  # both searches still work
    return sorted(names)


async def seed() -> tuple[User, dict[str, str]]:
    """An owner (every console page opens) who is a member, and one thing of each kind that
    has a page."""
    now = datetime.now(UTC)
    admin = await make_user(role="owner")
    admin.member_until = now + timedelta(days=10)
    await admin.save(update_fields=["member_until"])
    window = await make_window(now=now, seats=10)
    product = await store.create_product(
        title="笔记本", description="", category="文具", price_fen=990, stock=5, actor=admin
    )
    await store.create_product(  # a drop, for the console's drops page
        title="限量版书签",
        description="",
        category="文具",
        price_fen=1990,
        stock=100,
        per_customer_limit=1,
        sale_starts_at=now + timedelta(days=2),
        member_head_start_minutes=30,
        actor=admin,
    )
    await make_user(role="support")  # for the staff page
    order = await store.place_order(
        buyer=admin,
        items=[store.Wanted(product_id=product.id, quantity=1)],
        now=now,
        counter=MemoryCounter(),
    )
    enrollment = await membership.enroll(window_id=window.id, user=admin, now=now)
    item = await feed_editing.create_item(
        title="今日", body="正文", keyword="走查", author=admin, now=now
    )
    post, _ = await board.create_post(
        author=admin,
        category="knowledge",
        title="读书",
        body="分享",
        counter=MemoryCounter(),
        now=now,
    )
    ids = {
        "/store/products/": str(product.id),
        "/store/orders/": str(order.id),
        "/membership/enrollments/": str(enrollment.id),
        "/membership/windows/": str(window.id),
        "/admin/membership/windows/": str(window.id),
        "/board/posts/": str(post.id),
        "/feed/items/": str(item.id),
        "/admin/feed/": str(item.id),
        "/people/": str(admin.id),
        "/admin/catalogue/products/": str(product.id),
    }
    return admin, ids


def page_paths(app: Starlette, ids: dict[str, str]) -> list[str]:
    """Every GET path of the HTML app, its parameters filled in."""
    paths = []
    for route in app.routes:
        if isinstance(route, Mount) or not isinstance(route, Route):
            continue  # the API (walked by schemathesis), static files, media
        if "GET" not in (route.methods or set()) or route.name.startswith("console.moved"):
            continue  # (the old admin addresses: redirects)
        path = route.path
        for prefix, value in ids.items():
            if path.startswith(prefix):
                path = re.sub(r"\{id(:id)?\}", value, path)
        path = re.sub(r"\{locale\}", "en", path)
        path = re.sub(r"\{[a-z_]+(:[a-z]+)?\}", "walk", path)
        paths.append(path)
    return sorted(set(paths))


async def test_no_html_page_answers_a_hostile_query_value_with_a_server_error(
    app: Starlette,
) -> None:
    admin, ids = await seed()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is a finding
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    assert (await sign_in(client, admin.email)).status_code == 303
    names = query_names()
    paths = page_paths(app, ids)
    assert "/store/products/" + ids["/store/products/"] in paths
    failures = []
    for path in paths:
        for name in names:
            for value in HOSTILE:
                url = f"{path}?{name}={quote(value, safe='', errors='surrogatepass')}"
                response = await client.get(url)
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {url[:120]}")
    await client.aclose()
    assert failures == [], f"{len(failures)} server errors:\n" + "\n".join(failures[:60])

"""Every HTML page answers hostile query values with a page, never a 500.

Walks every GET route of the HTML app as a signed-in admin who is also a member (so every page
is reachable) and has no email (an account made by signing in with a phone number: every page
copes with one, issue 32), with the real ids of things that exist in its path, and feeds each query
parameter that route code reads (found in the source, so a new one is walked too) values a
hostile client would send: too long, NUL and other control characters, huge and negative
numbers, digits of other scripts, malformed cursors, lone surrogates, markup.

Each page is fed the names its own code can read: those read (or declared in a Query it reads)
in its endpoint's module and in every module of ours that module imports, directly or not (the
shared checkout pages, web/'s helpers); a name nothing of the page's can read is ignored by it.
That is a quarter of every name on every page, which took eight minutes on PostgreSQL;
TEST_WALK_ALL=1 feeds every name to every page, as before.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import quote

import httpx
import msgspec
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from accounts import activity, consents, notices
from accounts import services as accounts
from accounts.models import User
from community.board import moderation
from community.board import services as board
from community.feed import analytics as feed_analytics
from community.feed import editing as feed_editing
from community.feed.memory import FeedMemory
from crm import broadcasts, segments
from crm import notes as crm_notes
from crm.broadcasts import Audience
from crm.models import AudienceKind, BroadcastStatus
from keywords import misses as keyword_misses
from keywords import rules as keyword_rules
from keywords.checks import KeywordInput, ReplyInput
from keywords.memory import KeywordMemory
from membership import services as membership
from membership.grants import grant_complimentary
from membership.models import MembershipGrant
from payments.services import PaymentChoice
from ratelimit import MemoryCounter
from stats import rollups
from store import analytics as store_analytics
from store import services as store
from store import staff_orders
from store.models import Product
from support import services as support
from tallies import Tally, flush
from tests.factories import (
    address,
    make_member_without_email,
    make_user,
    make_users,
    make_window,
    session_cookie,
)
from tests.payments.memory_provider import MemoryProvider
from web.api import Query

pytestmark = [pytest.mark.contract, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES = ("accounts", "community", "membership", "payments", "store", "web", "support")
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


def _module_file(name: str) -> Path | None:
    """The file of one of our modules (a package's __init__ too); None for a library's."""
    parts = name.split(".")
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file() and ".venv" not in candidate.parts:
            return candidate
    return None


@cache
def _imports_of(name: str) -> frozenset[str]:
    """The modules of ours `name` imports (function-local imports too)."""
    path = _module_file(name)
    if path is None:
        return frozenset()
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(module for module in found if _module_file(module) is not None)


@cache
def _reads_of(name: str) -> frozenset[str]:
    """The query names one module reads: straight from query_params, or as a Query's fields
    (a Query class it names)."""
    path = _module_file(name)
    if path is None:
        return frozenset()
    source = path.read_text()
    names = set(_READS.findall(source))
    words = set(re.findall(r"[A-Za-z_]+", source))
    pending = list(Query.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.__name__ in words:
            names.update(spec.encode_name for spec in msgspec.structs.fields(model))
    return frozenset(names)


def names_read_by(route: Route) -> list[str]:
    """The query names a page's code can read: its endpoint's module and every module of ours
    that it imports, directly or not."""
    module = getattr(route.endpoint, "__module__", "") or ""
    seen, pending = set(), [module, "web.rendering", "web.auth", "web.decoding"]
    while pending:
        current = pending.pop()
        if current in seen or (current not in sys.modules and _module_file(current) is None):
            continue
        seen.add(current)
        pending.extend(_imports_of(current))
    return sorted(set().union(*(_reads_of(name) for name in seen)))


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
    """An owner (every console page opens) who is a member without an email or a password
    (made by a phone number's sign-in: the walks go through every page as such an account),
    and one thing of each kind that has a page."""
    now = datetime.now(UTC)
    admin = await make_member_without_email(days=10)
    admin.staff_role, admin.admin_flag = "owner", True
    await admin.save(update_fields=["staff_role", "admin_flag"])
    # They pay by card below (Stripe, abroad): the checkout's box, ticked.
    await consents.agree(admin, "cross_border", 1, source="checkout", now=now)
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
    outreach = await seed_outreach(admin, now)
    keyword_rule = await seed_keywords(admin, product.id, post.id, item.id, now)
    provider = MemoryProvider("pays")  # one for the seed: its payment intents are numbered
    ids = {
        **outreach,
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
        "/admin/dashboard/sales/": f"drop/{await seed_numbers(admin, item.id, now, provider)}",
        "/admin/people/": str(await seed_customer(admin, product.id, now, provider)),
        "/admin/keywords/": str(keyword_rule),
    }
    conversation = await seed_support(admin, int(ids["/admin/people/"]), now)
    ids["/contact/"] = ids["/admin/conversations/"] = str(conversation)
    return admin, ids


async def seed_support(admin: User, customer_id: int, now: datetime) -> int:
    """Customer service: the admin's own question, answered by support (the member's pages),
    and the customer's, waiting (the queue, and their person page). Returns the admin's."""
    counter = MemoryCounter()
    own = await support.start(
        admin, body="会员卡可以转给家人吗？", page="/membership", now=now, counter=counter
    )
    staff = await make_user(role="support", name="客服小李")
    await support.write(
        staff, own.id, body="不可以转让，但家人可以陪你参加线下活动。", now=now, counter=counter
    )
    customer = await User.get(id=customer_id)
    await support.start(
        customer, body="地址写错了，能改吗？", page="/store/orders", now=now, counter=counter
    )
    return own.id


async def seed_keywords(
    admin: User, product_id: int, post_id: int, item_id: int, now: datetime
) -> int:
    """An auto-reply answering with one reply of each kind (the keyword box's page shows them
    for "我要笔记本"), and two words nothing answered. Returns the rule's id."""
    rule = await keyword_rules.create_rule(
        actor=admin,
        keywords=[KeywordInput("笔记本", "contain"), KeywordInput("文具", "equal")],
        replies=[
            ReplyInput("text", text="手写读书笔记，就用它。\n工作日发货。"),
            ReplyInput("product", id=product_id),
            ReplyInput("window"),
            ReplyInput("post", id=post_id),
            ReplyInput("feed_item", id=item_id),
        ],
        now=now,
    )
    counted = KeywordMemory()
    for word in ("直播", "直播", "電子書"):
        keyword_misses.record(counted, word, now=now)
    await keyword_misses.flush(counted)
    return rule.id


async def seed_outreach(admin: User, now: datetime) -> dict[str, str]:
    """A segment, a broadcast sent to it (read at /messages/{id}), and one scheduled for
    tomorrow to everyone (its page polls its progress). Returns their pages' ids."""
    segment, _count = await segments.create(
        actor=admin,
        name="本月到期的会员",
        rules=segments.SegmentFilter(membership="member", expires_within_days=30),
        now=now,
    )
    sent = await broadcasts.create(
        actor=admin,
        title="本周书单：三本讲时间的书",
        body="这周读**三本书**：\n\n1. 《时间简史》\n2. 《追忆似水年华》\n3. 《百年孤独》\n\n"
        "[书单全文](https://example.cn/books)",
        audience=broadcasts.Audience(AudienceKind.SEGMENT, segment.id),
        send_at=None,
        now=now,
    )
    while sent.status == BroadcastStatus.SENDING:
        await broadcasts.send_due(now=now)
        await sent.refresh_from_db()
    scheduled = await broadcasts.create(
        actor=admin,
        title="明晚八点：线上读书会",
        body="明晚八点，我们一起读《百年孤独》的第一章。",
        audience=broadcasts.Audience(AudienceKind.EVERYONE),
        send_at=now + timedelta(days=1),
        now=now,
    )
    return {
        "/admin/segments/": str(segment.id),
        "/admin/broadcasts/": str(scheduled.id),
        "/messages/": str(sent.id),
    }


async def seed_customer(
    admin: User, product_id: int, now: datetime, provider: MemoryProvider
) -> int:
    """A member who shops and posts, for the console's page of a person: a card, two paid
    orders (one refunded), an API token, a post reported and a ban, notes for staff and for
    admins, two tags, broadcast mail chosen (a consent) and a broadcast received. Returns
    their id."""
    customer = await make_user(email="zhaoliu@example.cn", name="赵六")
    customer = await grant_complimentary(user_id=customer.id, days=365, now=now, actor=admin)
    await accounts.issue_token(customer, name="读书 App")
    for n in range(2):
        order = await store.place_order(
            buyer=customer,
            items=[store.Wanted(product_id=product_id, quantity=1 + n)],
            now=now,
            counter=MemoryCounter(),
            shipping=address(),
        )
        await store.pay_order(
            provider=provider,
            order_id=order.id,
            user=customer,
            choice=PaymentChoice(payment_method=f"pm_customer_{order.id}"),
            now=now,
        )
    await staff_orders.refund_order(provider=provider, order_id=order.id, now=now, actor=admin)
    post, _ = await board.create_post(
        author=customer,
        category="question",
        title="有没有一起读《史记》的？",
        body="每周读两篇。",
        counter=MemoryCounter(),
        now=now,
    )
    await moderation.report(post.id, reporter=admin, reason="重复发帖", now=now)
    await moderation.ban(customer.id, days=3, reason="一天内重复发帖五次", now=now, actor=admin)
    await crm_notes.add_note(
        author=admin, user_id=customer.id, body="来电说地址写错了，已改为海淀区。", now=now
    )
    await crm_notes.add_note(
        author=admin,
        user_id=customer.id,
        body="退款纠纷处理中，先不要回复。",
        visibility="admins",
        now=now,
    )
    for tag in ("老读者", "线下活动"):
        await crm_notes.add_tag(actor=admin, user_id=customer.id, name=tag, now=now)
    await notices.choose(customer, "broadcast", "inbox_mail", now=now)
    await broadcasts.create(
        actor=admin,
        title="本周读书会",
        body="周六下午三点，[报名](https://example.cn/club)。",
        audience=Audience(AudienceKind.EVERYONE),
        send_at=None,
        now=now,
    )
    while (await broadcasts.send_due(now=now)).delivered:
        pass
    reading = Tally()
    for day in range(0, 12, 3):
        for kind in (activity.FEED_VIEW, activity.FEED_PLAY):
            activity.record(reading, customer.id, kind, now=now - timedelta(days=day))
    await flush(reading)
    return customer.id


async def seed_numbers(
    admin: User, feed_item_id: int, now: datetime, provider: MemoryProvider
) -> int:
    """Three weeks of history for the dashboard (accounts, memberships, feed reading, a drop
    sold nine days ago with one order refunded) and a drop selling since a quarter of an hour
    ago, with views, holds and payments around its opening; the rollups refreshed. Returns
    the selling drop's id."""
    people = await make_users(12, prefix="numbers")
    feed = FeedMemory()
    for n, person in enumerate(people):
        joined = now - timedelta(days=20 - n, hours=n % 5)
        await User.filter(id=person.id).update(created_at=joined)
        if n % 3:
            await grant_complimentary(user_id=person.id, days=30 * (1 + n % 4), now=now)
            await MembershipGrant.filter(user_id=person.id).update(created_at=joined)
        for day in range(0, 20 - n, 2):
            what = ("views", "plays", "lookups")[(day + n) % 3]
            feed_analytics.record(
                feed, feed_item_id, what, user_id=person.id, now=now - timedelta(days=day)
            )
    await flush(feed.tally)
    earlier = await _sold_drop(admin, "上周的周边", people[:6], now - timedelta(days=9), provider)
    await staff_orders.refund_order(
        provider=provider, order_id=earlier[0], now=now - timedelta(days=7), actor=admin
    )
    selling = now - timedelta(minutes=15)
    await _sold_drop(admin, "开售中的限定版", people[6:], selling, provider, unpaid=1)
    drop = await Product.get(title="开售中的限定版")
    await rollups.refresh(now=now)
    return drop.id


async def _sold_drop(
    admin: User,
    title: str,
    buyers: list[User],
    opens_at: datetime,
    provider: MemoryProvider,
    *,
    unpaid: int = 0,
) -> list[int]:
    """A drop opening at `opens_at`, its page read by the buyers around the opening, each of
    them holding an order a few minutes after it and paying a minute later (the last `unpaid`
    do not pay). Returns the orders' ids."""
    drop = await store.create_product(
        title=title,
        description="",
        category="文具",
        price_fen=2990,
        stock=40,
        per_customer_limit=2,
        sale_starts_at=opens_at,
        actor=admin,
    )
    tally = Tally()
    orders = []
    for n, buyer in enumerate(buyers):
        for minute in range(-20, 12, 3):
            store_analytics.count_product_view(
                tally, drop, buyer.id, opens_at + timedelta(minutes=minute + n % 3)
            )
        held_at = opens_at + timedelta(minutes=1 + n % 5)
        order = await store.place_order(
            buyer=buyer,
            items=[store.Wanted(product_id=drop.id, quantity=1 + n % 2)],
            now=held_at,
            counter=MemoryCounter(),
            shipping=address(),
        )
        orders.append(order.id)
        if n < len(buyers) - unpaid:
            await store.pay_order(
                provider=provider,
                order_id=order.id,
                user=buyer,
                choice=PaymentChoice(payment_method=f"pm_seed_{order.id}"),
                now=held_at + timedelta(minutes=1),
            )
    await flush(tally)
    return orders


# A stream of server-sent events is no page: it answers for minutes, and a GET of it would wait.
EVENT_STREAMS = frozenset({"stats.live_events"})


def page_paths(app: Starlette, ids: dict[str, str]) -> dict[str, list[str]]:
    """Every GET path of the HTML app, its parameters filled in, with the query names its
    code can read (every name with TEST_WALK_ALL=1)."""
    every = query_names() if os.environ.get("TEST_WALK_ALL") == "1" else None
    paths: dict[str, list[str]] = {}
    for route in app.routes:
        if isinstance(route, Mount) or not isinstance(route, Route):
            continue  # the API (walked by schemathesis), static files, media
        if "GET" not in (route.methods or set()) or route.name.startswith("console.moved"):
            continue  # (the old admin addresses: redirects)
        if route.name in EVENT_STREAMS:
            continue
        path = route.path
        for prefix, value in ids.items():
            if path.startswith(prefix):  # (a sale's value is its kind and id: "drop/7")
                path = re.sub(r"(\{kind:str\}/)?\{id(:id)?\}", value, path)
        path = re.sub(r"\{locale\}", "en", path)
        path = re.sub(r"\{[a-z_]+(:[a-z]+)?\}", "walk", path)
        paths[path] = sorted(set(paths.get(path, [])) | set(every or names_read_by(route)))
    return dict(sorted(paths.items()))


async def test_no_html_page_answers_a_hostile_query_value_with_a_server_error(
    app: Starlette,
) -> None:
    admin, ids = await seed()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is a finding
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    client.cookies.set(*await session_cookie(admin))  # no email: signed in as a phone would
    assert (await client.get("/account")).status_code == 200
    names = query_names()
    paths = page_paths(app, ids)
    assert "/store/products/" + ids["/store/products/"] in paths
    # A page's own names are found (the board reads its search and its cursor; a waiting
    # page, Alipay's return), and every name some route code reads is walked somewhere.
    assert {"q", "cursor", "category"} <= set(paths["/board"])
    assert "out_trade_no" in paths["/store/orders/" + ids["/store/orders/"] + "/paying"]
    assert set(names) <= set().union(*paths.values())
    failures = []
    for path, read in paths.items():
        for name in read:
            for value in HOSTILE:
                url = f"{path}?{name}={quote(value, safe='', errors='surrogatepass')}"
                response = await client.get(url)
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {url[:120]}")
    await client.aclose()
    assert failures == [], f"{len(failures)} server errors:\n" + "\n".join(failures[:60])

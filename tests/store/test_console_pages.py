"""The store's console pages: the catalogue, a product's page (its form round-trips), drops and
raffles, orders and their CSV; what each staff role sees and may do."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from accounts.models import AuditEntry
from ratelimit import MemoryCounter
from settings import Settings
from store import services as store
from store.models import Order, OrderStatus, Product, RaffleEntry, StockUnit
from tests.factories import address, csrf_from, make_user, paid_order, sign_in

_INPUT = re.compile(r'<input name="([a-z_]+)" type="[a-z-]+" value="([^"]*)"')
_TEXTAREA = re.compile(r'<textarea name="([a-z_]+)"[^>]*>([^<]*)</textarea>')


async def goods(**changes: object) -> Product:
    fields: dict[str, object] = {
        "title": "黄铜书签",
        "description": "手工",
        "category": "逼格工场",
        "price_fen": 9_950,
        "stock": 4,
    }
    return await store.create_product(**(fields | changes))  # type: ignore[arg-type]


async def signed_in_admin(client: httpx.AsyncClient) -> None:
    await make_user(email="boss@example.cn", admin=True)
    await sign_in(client, "boss@example.cn")


def form_values(html: str, action: str) -> dict[str, str]:
    """The fields of the form posting to `action`, as the page filled them."""
    start = html.index(f'action="{action}"')
    form = html[start : html.index("</form>", start)]
    values = dict(_INPUT.findall(form)) | dict(_TEXTAREA.findall(form))
    values["csrf_token"] = csrf_from(form)
    if 'name="shipping_field"' in form:
        values["shipping_field"] = "1"
    return values


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_every_store_console_page_opens_for_an_admin(
    client: httpx.AsyncClient, language: str
) -> None:
    await signed_in_admin(client)
    product = await goods(sale_starts_at=datetime.now(UTC) + timedelta(days=1))
    await goods(title="抽签", raffle_entries_until=datetime.now(UTC) + timedelta(hours=1))
    headers = {"Accept-Language": language}
    for path in (
        "/admin/catalogue",
        f"/admin/catalogue/products/{product.id}",
        "/admin/drops",
        "/admin/orders",
    ):
        page = await client.get(path, headers=headers)
        assert page.status_code == 200, path
        assert 'class="console"' in page.text
        assert 'aria-current="page"' in page.text  # the section is lit
    drops = await client.get("/admin/drops", headers=headers)
    assert 'class="countdown"' in drops.text and "抽签" in drops.text


async def test_the_old_store_admin_address_leads_to_the_catalogue(
    client: httpx.AsyncClient,
) -> None:
    moved = await client.get("/store/admin")
    assert moved.status_code == 301 and moved.headers["location"] == "/admin/catalogue"


async def test_the_edit_form_round_trips_and_saves_only_what_changed(
    client: httpx.AsyncClient,
) -> None:
    await signed_in_admin(client)
    product = await goods(sale_starts_at=datetime(2030, 6, 1, 2, tzinfo=UTC))
    path = f"/admin/catalogue/products/{product.id}"
    page = await client.get(path)
    values = form_values(page.text, path)
    assert values["price_yuan"] == "99.50"
    assert values["sale_starts_at"] == "2030-06-01T10:00"  # Beijing time
    unchanged = await client.post(path, data=values)
    assert unchanged.status_code == 303
    assert await AuditEntry.filter(action="product.update").count() == 0

    values |= {"price_yuan": "120", "sale_ends_at": "2030-06-02T10:00", "title": "铜书签"}
    saved = await client.post(path, data=values)
    assert saved.status_code == 303
    product = await Product.get(id=product.id)
    assert product.price_fen == 12_000 and product.title == "铜书签"
    assert product.sale_ends_at == datetime(2030, 6, 2, 2, tzinfo=UTC)
    entry = await AuditEntry.get(action="product.update")
    assert entry.before == {"title": "黄铜书签", "price_fen": 9_950, "sale_ends_at": None}
    assert entry.after == {
        "title": "铜书签",
        "price_fen": 12_000,
        "sale_ends_at": "2030-06-02T02:00:00Z",
    }
    again = await client.get(path)
    assert form_values(again.text, path)["price_yuan"] == "120"
    assert "an order placed within a second of this edit may keep the old price" in (
        (await client.get(path, headers={"Accept-Language": "en"})).text
    )


async def test_a_refused_edit_shows_every_problem_beside_its_field(
    client: httpx.AsyncClient,
) -> None:
    await signed_in_admin(client)
    product = await goods()
    path = f"/admin/catalogue/products/{product.id}"
    values = form_values((await client.get(path)).text, path)
    values |= {"price_yuan": "九十九", "member_head_start_minutes": "-3", "title": "新标题"}
    refused = await client.post(path, data=values)
    assert refused.status_code == 422
    assert 'id="price_yuan-error"' in refused.text
    assert 'id="member_head_start_minutes-error"' in refused.text
    assert 'value="新标题"' in refused.text  # what was typed is kept
    assert (await Product.get(id=product.id)).title == "黄铜书签"


async def test_sale_times_are_locked_on_the_page_once_the_sale_opened(
    client: httpx.AsyncClient,
) -> None:
    await signed_in_admin(client)
    product = await goods()  # no start time: on sale since it was made
    await store.place_order(
        buyer=await make_user(),
        items=[store.Wanted(product.id, 1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    path = f"/admin/catalogue/products/{product.id}"
    page = await client.get(path, headers={"Accept-Language": "en"})
    assert "The sale has opened: its times can no longer change." in page.text
    assert 'name="sale_starts_at" type="datetime-local" value="" autocomplete="off" readonly' in (
        page.text
    )
    assert 'name="digital"' not in page.text  # shipping is fixed once ordered
    values = form_values(page.text, path) | {"sale_ends_at": "2030-06-02T10:00"}
    refused = await client.post(path, data=values, headers={"Accept-Language": "en"})
    assert refused.status_code == 409
    assert "The sale has opened" in refused.text
    assert 'class="flash flash-error" role="alert"' in refused.text


async def test_stock_publishing_picture_and_delete_from_the_product_page(
    client: httpx.AsyncClient,
) -> None:
    await signed_in_admin(client)
    product = await goods(stock=2)
    path = f"/admin/catalogue/products/{product.id}"
    token = csrf_from((await client.get(path)).text)
    added = await client.post(f"{path}/stock", data={"csrf_token": token, "change": "3"})
    assert added.status_code == 303
    assert await StockUnit.filter(product_id=product.id).count() == 5
    too_many = await client.post(f"{path}/stock", data={"csrf_token": token, "change": "-9"})
    assert too_many.status_code == 409 and 'id="change-error"' in too_many.text
    not_a_number = await client.post(f"{path}/stock", data={"csrf_token": token, "change": "x"})
    assert not_a_number.status_code == 422
    removed = await client.post(f"{path}/stock", data={"csrf_token": token, "change": "-1"})
    assert removed.status_code == 303
    assert (await Product.get(id=product.id)).stock == 4

    down = await client.post(f"{path}/published", data={"csrf_token": token, "published": "0"})
    assert down.status_code == 303
    assert (await Product.get(id=product.id)).published is False
    preview = await client.get(f"/store/products/{product.id}")
    assert preview.status_code == 200  # staff preview it
    assert f'href="{path}"' in preview.text
    up = await client.post(f"{path}/published", data={"csrf_token": token, "published": "1"})
    assert up.status_code == 303 and (await Product.get(id=product.id)).published is True

    bad = await client.post(
        f"{path}/image",
        data={"csrf_token": token},
        files={"image": ("x.jpg", b"not a jpeg", "image/jpeg")},
    )
    assert bad.status_code == 422 and 'id="image-error"' in bad.text

    deleted = await client.post(f"{path}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/admin/catalogue"
    assert not await Product.exists(id=product.id)


async def test_a_product_with_an_order_offers_no_delete_and_refuses_one(
    client: httpx.AsyncClient,
) -> None:
    await signed_in_admin(client)
    product = await goods()
    await store.place_order(
        buyer=await make_user(),
        items=[store.Wanted(product.id, 1)],
        now=datetime.now(UTC),
        counter=MemoryCounter(),
        shipping=address(),
    )
    path = f"/admin/catalogue/products/{product.id}"
    page = await client.get(path)
    assert f'action="{path}/delete"' not in page.text
    refused = await client.post(f"{path}/delete", data={"csrf_token": csrf_from(page.text)})
    assert refused.status_code == 409
    assert await Product.exists(id=product.id)


async def test_a_raffle_is_made_and_drawn_from_the_drops_page(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    page = await client.get("/admin/drops")
    created = await client.post(
        "/admin/drops/raffles",
        data={
            "csrf_token": csrf_from(page.text),
            "title": "限量钢笔",
            "category": "文具精选",
            "price_yuan": "199",
            "stock": "2",
            "per_customer_limit": "1",
            "raffle_entries_until": "2030-06-01T10:00",
            "raffle_purchase_minutes": "30",
        },
    )
    assert created.status_code == 303
    raffle = await Product.get(title="限量钢笔")
    assert raffle.raffle_entries_until == datetime(2030, 6, 1, 2, tzinfo=UTC)
    assert raffle.raffle_purchase_minutes == 30
    missing = await client.post(
        "/admin/drops/raffles",
        data={"csrf_token": csrf_from(page.text), "title": "无截止", "category": "c",
              "price_yuan": "1", "stock": "1"},
    )  # fmt: skip
    assert missing.status_code == 422 and 'id="raffle_entries_until-error"' in missing.text

    for _ in range(3):
        await RaffleEntry.create(product_id=raffle.id, user_id=(await make_user()).id)
    await Product.filter(id=raffle.id).update(
        raffle_entries_until=datetime.now(UTC) - timedelta(minutes=1)
    )
    page = await client.get("/admin/drops")
    assert f'action="/admin/drops/{raffle.id}/draw"' in page.text
    drawn = await client.post(
        f"/admin/drops/{raffle.id}/draw", data={"csrf_token": csrf_from(page.text)}
    )
    assert drawn.status_code == 303
    assert await RaffleEntry.filter(product_id=raffle.id, won=True).count() == 2
    entry = await AuditEntry.get(action="raffle.draw")
    assert entry.after["entries"] == 3 and len(entry.after["winners"]) == 2


async def test_support_reads_orders_but_may_not_ship_refund_export_or_edit(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    product = await goods()
    order = await paid_order(app.state.payments_provider, settings, await make_user(), product.id)
    await make_user(email="help@example.cn", role="support")
    await sign_in(client, "help@example.cn")
    page = await client.get("/admin/orders")
    assert page.status_code == 200 and f">{order.id}<" in page.text
    assert "/ship" not in page.text and "/refund" not in page.text
    assert "orders.csv" not in page.text
    token = csrf_from((await client.get("/account")).text)
    shipped = await client.post(
        f"/admin/orders/{order.id}/ship",
        data={"csrf_token": token, "carrier": "sf", "tracking_number": "SF123456"},
    )
    assert shipped.status_code == 403
    refunded = await client.post(f"/admin/orders/{order.id}/refund", data={"csrf_token": token})
    assert refunded.status_code == 403
    assert (await client.get("/admin/orders.csv")).status_code == 403
    assert (await client.get("/admin/catalogue")).status_code == 403
    assert (await client.get("/admin/drops")).status_code == 403
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID


async def test_the_orders_csv_parses_back_with_a_bom_and_formula_cells_escaped(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    product = await goods(stock=3)
    buyers = [await make_user() for _ in range(2)]
    orders = [
        await paid_order(app.state.payments_provider, settings, buyer, product.id)
        for buyer in buyers
    ]
    await Order.filter(id=orders[0].id).update(ship_name='=HYPERLINK("http://evil","点我")')
    await signed_in_admin(client)
    answer = await client.get("/admin/orders.csv", params={"status": "paid"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["order", "status", "total_yuan"]
    by_id = {row[0]: row for row in rows[1:]}
    assert set(by_id) == {str(order.id) for order in orders}
    assert by_id[str(orders[0].id)][4] == '\'=HYPERLINK("http://evil","点我")'
    assert by_id[str(orders[1].id)][2] == "99.50"
    entry = await AuditEntry.get(action="export.orders")
    assert entry.after == {"filters": {"status": "paid"}}


async def test_the_orders_export_reads_every_order_a_batch_at_a_time(
    client: httpx.AsyncClient,
) -> None:
    product = await goods(stock=5)
    for _ in range(5):
        await store.place_order(
            buyer=await make_user(),
            items=[store.Wanted(product.id, 1)],
            now=datetime.now(UTC),
            counter=MemoryCounter(),
            shipping=address(),
        )
    ids = [order.id async for order in store.all_orders(batch_size=2)]  # three batches
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5
    assert [o.id async for o in store.all_orders("paid", batch_size=2)] == []


def test_every_store_console_route_is_guarded(app: Starlette) -> None:
    """The store's routes under /admin and /api/v1/admin each carry staff_only."""
    from starlette.routing import Mount, Route

    def walk(routes: list, prefix: str = "") -> list[tuple[str, object]]:
        found = []
        for route in routes:
            if isinstance(route, Mount):
                found += walk(route.routes, prefix + route.path)
            elif isinstance(route, Route):
                found.append((prefix + route.path, route.endpoint))
        return found

    store_routes = [
        (path, endpoint)
        for path, endpoint in walk(app.routes)
        if getattr(endpoint, "__module__", "").startswith("store.")
        and path.startswith(("/admin", "/api/v1/admin"))
    ]
    assert len(store_routes) >= 20
    unguarded = [path for path, e in store_routes if not hasattr(e, "staff_capability")]
    assert unguarded == []

"""One rule for bad values: 404 for a path id that cannot be one, 422 naming a bad value, 400
for JSON that is not an object; 503 with Retry-After when the database does not answer; and
after any 4xx the connection goes on serving."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from settings import Settings
from store import services as store
from store.models import Product
from tests.cable import Cable
from tests.conftest import postgres_admin_url
from tests.factories import bearer, make_user, session_cookie, sign_in, token_for
from tests.live import running_server


async def admin_headers() -> dict[str, str]:
    return bearer(await token_for(await make_user(admin=True)))


PRODUCT = {"title": "书", "description": "", "category": "书", "price_fen": 100, "stock": 1}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/products/2147483648",
        "/api/v1/products/99999999999999999999",
        "/api/v1/products/0",
        "/api/v1/products/-1",
        "/api/v1/products/1.5",
        "/api/v1/products/%EF%BC%91",  # a full-width 1
        "/store/products/2147483648",
        "/api/v1/board/posts/abc",
        "/membership/enrollments/0/pay",
    ],
)
async def test_a_path_id_that_cannot_be_a_database_id_is_not_found(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers=await admin_headers())
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "名\x00字"),
        ("title", "\x1b[2J"),
        ("title", "\u0085"),  # C1 control
        ("title", "\uffff"),
        ("description", "line one\x0bline two"),
        ("price_fen", 2**63),
        ("stock", -1),
        ("sale_starts_at", "0001-01-01T00:00:00+08:00"),
        ("sale_starts_at", "9999-12-31T23:59:59-05:00"),
        ("sale_starts_at", "2026-12-01T08:00:00"),  # no offset
        ("category", "x" * 41),
    ],
)
async def test_a_bad_body_value_is_422_naming_it(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    response = await client.post(
        "/api/v1/admin/products", json={**PRODUCT, field: value}, headers=await admin_headers()
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_multi_line_text_keeps_tabs_and_newlines(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/admin/products",
        json={**PRODUCT, "description": "第一行\r\n\t第二行"},
        headers=await admin_headers(),
    )
    assert response.status_code == 201
    assert response.json()["description"] == "第一行\r\n\t第二行"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 1000 + b"]" * 1000,
        b'{"title": ' + b"[" * 100 + b"]" * 100 + b"}",
        b'{"title": "\\ud800"}',  # a lone surrogate
        b"not json",
        b"[1, 2]",
    ],
)
async def test_json_that_is_not_a_shallow_object_is_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(
        "/api/v1/admin/products",
        content=body,
        headers={**await admin_headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_a_form_shows_every_problem_at_once(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/admin/products",
        json={"title": "", "price_fen": "cheap"},
        headers=await admin_headers(),
    )
    assert response.status_code == 422  # the API names the first; read_fields all of them
    from errors import ValidationError
    from store.schemas import NewProduct
    from web.api import read_fields

    with pytest.raises(ValidationError) as caught:
        read_fields({"title": " ", "price_fen": "cheap", "stock": "-3"}, NewProduct)
    named = [name for name, _ in caught.value.errors]
    assert named == ["title", "description", "category", "price_fen", "stock"]


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "9" * 40},
        {"cursor": "MTIzOmFiYw"},
        {"cursor": "١٢٣_1"},
        {"sort": "cheap"},
        {"category": "x" * 41},
    ],
)
async def test_a_bad_query_value_is_422_naming_it(
    client: httpx.AsyncClient, query: dict[str, str]
) -> None:
    response = await client.get("/api/v1/products", params=query)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == next(iter(query))


async def test_a_stored_time_at_the_edge_of_the_calendar_does_not_break_its_page(
    client: httpx.AsyncClient,
) -> None:
    product = await store.create_product(**PRODUCT)  # type: ignore[arg-type]
    await Product.filter(id=product.id).update(
        sale_starts_at=datetime(1, 1, 1, tzinfo=UTC),
        sale_ends_at=datetime(9999, 12, 31, tzinfo=UTC),
    )
    assert (await client.get(f"/store/products/{product.id}")).status_code == 200
    assert (await client.get(f"/api/v1/products/{product.id}")).status_code == 200
    # The console's numbers: the drop's funnel (minutes around an opening in year 1), its page,
    # and the dashboard that lists it; then an opening at the calendar's other end.
    owner = await make_user(role="owner")
    funnel = await client.get(
        f"/api/v1/admin/funnels/drop/{product.id}", headers=bearer(await token_for(owner))
    )
    assert funnel.status_code == 200 and len(funnel.json()["minutes"]) == 120
    await sign_in(client, owner.email)
    assert (await client.get(f"/admin/dashboard/sales/drop/{product.id}")).status_code == 200
    assert (await client.get("/admin/dashboard")).status_code == 200
    await Product.filter(id=product.id).update(
        sale_starts_at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    )
    assert (await client.get(f"/admin/dashboard/sales/drop/{product.id}")).status_code == 200
    assert (await client.get(f"/store/products/{product.id}")).status_code == 200


def _answers_on_one_connection(port: int, requests: list[tuple[str, str, bytes]]) -> list[int]:
    """Each request's status, all sent on one keep-alive connection (which must stay up)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses, sockets = [], set()
    try:
        for method, path, body in requests:
            headers = {"Content-Type": "application/json"} if body else {}
            connection.request(method, path, body=body or None, headers=headers)
            answer = connection.getresponse()
            answer.read()
            statuses.append(answer.status)
            sockets.add(id(connection.sock))
            assert answer.getheader("connection") != "close"
    finally:
        connection.close()
    assert len(sockets) == 1, "the connection was closed between requests"
    return statuses


async def test_after_a_4xx_the_connection_stays_usable(settings: Settings) -> None:
    with running_server(settings) as base_url:
        port = int(base_url.rpartition(":")[2])
        requests = [
            ("POST", "/api/v1/accounts", b'{"a": [}'),
            ("GET", "/healthz", b""),
            ("GET", "/api/v1/products/0", b""),
            ("POST", "/api/v1/accounts", b'{"email": "\\u0000"}'),
            ("GET", "/store?category=" + "x" * 100, b""),
            ("GET", "/healthz", b""),
        ]
        statuses = await asyncio.to_thread(_answers_on_one_connection, port, requests)
        assert statuses == [400, 200, 404, 422, 422, 200]


@pytest.fixture
def cable() -> Iterator[Cable]:
    proxy = Cable(urlsplit(postgres_admin_url()).port or 5432)
    proxy.plug()
    yield proxy
    proxy.close()


@pytest.mark.postgres_only
async def test_a_database_that_does_not_answer_is_503_with_retry_after(
    settings: Settings, cable: Cable
) -> None:
    parts = urlsplit(settings.database_url)
    through_cable = parts._replace(netloc=f"{parts.username}@127.0.0.1:{cable.port}").geturl()
    proxied = replace(settings, database_url=through_cable)
    name, key = await session_cookie(await make_user(name="读者"))
    cookie = {"Cookie": f"{name}={key}"}
    with running_server(proxied) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
            assert (await http.get("/api/v1/products")).status_code == 200
            # A signed-in page reads its session in one round trip (db.AsyncpgClient.read_row).
            assert (await http.get("/", headers=cookie)).status_code == 200
            cable.unplug()
            api = await http.get("/api/v1/products")
            assert api.status_code == 503, api.text
            assert api.json()["error"]["code"] == "service_unavailable"
            assert int(api.headers["retry-after"]) > 0
            page = await http.get("/store")
            assert page.status_code == 503
            assert "Retry-After" in page.headers
            signed_in = await http.get("/", headers=cookie)
            assert signed_in.status_code == 503
            assert "Retry-After" in signed_in.headers
            cable.plug()
            deadline = datetime.now(UTC) + timedelta(seconds=15)
            while (await http.get("/api/v1/products")).status_code != 200:
                assert datetime.now(UTC) < deadline, "never recovered"
                await asyncio.sleep(0.2)

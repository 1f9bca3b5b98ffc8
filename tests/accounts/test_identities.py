"""Look-alike identities are refused; emails read as one are reported; HEAD answers every GET."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from accounts.identities import email_collisions
from tests.contract.test_html_query_walk import page_paths, seed
from tests.factories import PASSWORD, make_user, sign_in


async def register(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    body = {"email": "li@example.cn", "password": PASSWORD, "display_name": "李同学", **fields}
    return await client.post("/api/v1/accounts", json=body)


@pytest.mark.parametrize(
    "email",
    [
        "admin\u200b@shuyuan.test",  # zero-width space
        "ad\u200dmin@shuyuan.test",  # zero-width joiner
        "admin@shuyuan\u202e.test",  # right-to-left override
        "\u2066admin@shuyuan.test",  # left-to-right isolate
        "admin\ufeff@shuyuan.test",  # zero-width no-break space
    ],
)
async def test_an_email_with_invisible_characters_is_refused(
    client: httpx.AsyncClient, email: str
) -> None:
    await make_user(email="admin@shuyuan.test", admin=True)
    response = await register(client, email=email)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "email"


async def test_a_full_width_email_is_the_same_account(client: httpx.AsyncClient) -> None:
    assert (await register(client, email="li@example.cn")).status_code == 201
    again = await register(client, email="ＬＩ@ｅｘａｍｐｌｅ.ｃｎ", display_name="另一个人")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    "name",
    [
        "\u0430dmin",  # Cyrillic a
        "ADMIN",
        "0ff1cial",
        "管理员",
        "书院",
        "Shuyuan",
        "老罗",  # the admin's own name
        "老\u200b罗",  # with a zero-width space
    ],
)
async def test_a_display_name_passing_for_the_site_or_its_staff_is_refused(
    client: httpx.AsyncClient, name: str
) -> None:
    await make_user(email="luo@shuyuan.test", name="老罗", admin=True)
    response = await register(client, display_name=name)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "display_name"


async def test_ordinary_names_in_any_script_are_welcome(client: httpx.AsyncClient) -> None:
    await make_user(email="luo@shuyuan.test", name="老罗", admin=True)
    for number, name in enumerate(["王小波", "Anna", "Дмитрий", "김민지", "罗胖粉丝"]):
        response = await register(client, email=f"p{number}@example.cn", display_name=name)
        assert response.status_code == 201, (name, response.text)


def test_emails_that_now_read_as_one_are_reported_not_changed() -> None:
    groups = email_collisions(
        [
            (1, "li@example.cn"),
            (2, "ＬＩ@example.cn"),
            (3, "wang@example.cn"),
            (4, "zhao\u200b@example.cn"),
        ]
    )
    assert [[account for account, _ in group] for group in groups] == [[1, 2], [4]]


async def test_head_answers_every_get_page_like_get_without_a_body(app: Starlette) -> None:
    admin, ids = await seed()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await sign_in(client, admin.email)
        paths = list(page_paths(app, ids))
        api = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1")
        paths += [
            "/api/v1" + route.path.replace("{id:id}", ids["/store/products/"])
            for route in api.routes
            if isinstance(route, Route)
            and "GET" in (route.methods or set())
            and "{" not in route.path.replace("{id:id}", "")
        ]
        assert "/account/login" in paths and "/api/v1/products" in paths
        for path in paths:
            got = await client.get(path)
            head = await client.head(path)
            assert head.status_code == got.status_code, path
            assert head.content == b"", path
            assert head.headers.get("content-type") == got.headers.get("content-type"), path


async def test_a_long_passphrase_is_estimated_not_refused(client: httpx.AsyncClient) -> None:
    long_phrase = "correct horse battery staple " + "-".join(map(str, range(100)))  # > 72
    response = await register(client, password=long_phrase)
    assert response.status_code == 201

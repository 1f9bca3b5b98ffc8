"""Errors in both languages: the same mistake read in English, then in Chinese, on the API
(Accept-Language, else the account's language) and on a page (the language switch)."""

from __future__ import annotations

import httpx

from accounts.models import User
from tests.factories import bearer, csrf_from, make_user, sign_in, token_for


async def test_an_api_error_names_the_field_and_the_reason_in_the_callers_language(
    client: httpx.AsyncClient,
) -> None:
    body = {"email": "not-an-address", "password": "a long enough passphrase", "display_name": "甲"}
    english = await client.post("/api/v1/accounts", json=body, headers={"Accept-Language": "en"})
    chinese = await client.post("/api/v1/accounts", json=body, headers={"Accept-Language": "zh"})
    assert english.status_code == chinese.status_code == 422
    assert english.json()["error"]["code"] == chinese.json()["error"]["code"] == "invalid_field"
    assert english.json()["error"]["field"] == "email"
    assert english.json()["error"]["message"] == "Email: not a valid email address"
    assert chinese.json()["error"]["message"] == "邮箱：不是有效的邮箱地址"


async def test_without_accept_language_the_api_speaks_the_accounts_language(
    client: httpx.AsyncClient,
) -> None:
    person = await make_user()
    token = await token_for(person)
    too_long = {"bio": "长" * 281}
    chinese = await client.patch("/api/v1/me", json=too_long, headers=bearer(token))
    assert chinese.json()["error"]["message"] == "简介：最多 280 个字符"
    await User.filter(id=person.id).update(locale="en")
    english = await client.patch("/api/v1/me", json=too_long, headers=bearer(token))
    assert english.json()["error"]["message"] == "Short bio: must be at most 280 characters"


async def test_a_form_error_is_shown_in_the_language_switched_to(client: httpx.AsyncClient) -> None:
    await make_user(email="lin@example.cn")
    await sign_in(client, "lin@example.cn")
    for lang, expected in (("en", "must be at most 280 characters"), ("zh_CN", "最多 280 个字符")):
        await client.get(f"/lang/{lang}?next=/account/profile")
        page = await client.get("/account/profile")
        refused = await client.post(
            "/account/profile",
            data={"display_name": "林", "bio": "长" * 281, "csrf_token": csrf_from(page.text)},
        )
        assert refused.status_code == 422
        assert expected in refused.text
        assert "长" * 281 in refused.text  # what was typed is kept

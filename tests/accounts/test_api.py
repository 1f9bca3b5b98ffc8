"""The accounts JSON API: registration, tokens, /me, the inbox, and the one error shape."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate

from accounts import notices
from tests.factories import PASSWORD, bearer, make_user, token_for


async def register(client: httpx.AsyncClient, **fields: object) -> httpx.Response:
    body = {"email": "wang@example.cn", "password": PASSWORD, "display_name": "王小波"}
    body.update(fields)
    return await client.post("/api/v1/accounts", json=body)


async def test_registration_returns_the_new_account(client: httpx.AsyncClient) -> None:
    response = await register(client, email="  Wang@Example.CN ")
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "email": "wang@example.cn", "display_name": "王小波"}
    assert isinstance(body["id"], int)


async def test_registering_a_taken_email_in_any_case_is_409(client: httpx.AsyncClient) -> None:
    assert (await register(client)).status_code == 201
    response = await register(client, email="WANG@example.cn")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": 42}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "1234567"}, "password"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "长" * 41}, "display_name"),
    ],
)
async def test_invalid_registration_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, fields: dict[str, object], field: str
) -> None:
    response = await register(client, **fields)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_field"
    assert error["field"] == field
    label, _, reason = error["message"].partition("：")  # "邮箱：不是有效的邮箱地址"
    assert label and reason


async def test_missing_field_is_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/accounts", json={"email": "a@example.cn"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "password"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"null", "\xff".encode("latin-1")])
async def test_a_body_that_is_not_a_json_object_is_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(
        "/api/v1/accounts", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_an_empty_body_is_an_empty_object_so_the_first_missing_field_is_named(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/accounts", content=b"")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "email"


async def test_token_for_right_credentials_opens_me(client: httpx.AsyncClient) -> None:
    user = await make_user(email="li@example.cn", name="李白")
    response = await client.post(
        "/api/v1/tokens", json={"email": "LI@example.cn", "password": PASSWORD}
    )
    assert response.status_code == 201
    token = response.json()["token"]
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json() == {
        "id": user.id,
        "email": "li@example.cn",
        "display_name": "李白",
        "sign_in_methods": ["password"],
        "is_admin": False,
        "staff_role": None,
        "member_until": None,
        "email_verified": False,
        "locale": None,
        "bio": "",
        "avatar_url": None,
        "ip_region": None,
        "avatar_pending_review": False,
    }


@pytest.mark.parametrize("email", ["li@example.cn", "nobody@example.cn"])
async def test_wrong_credentials_are_401_bad_credentials(
    client: httpx.AsyncClient, email: str
) -> None:
    await make_user(email="li@example.cn")
    response = await client.post(
        "/api/v1/tokens", json={"email": email, "password": "wrong password"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_credentials"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sy_not_a_token"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ],
)
async def test_me_without_a_valid_token_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_a_revoked_token_no_longer_works(client: httpx.AsyncClient) -> None:
    token = await token_for(await make_user())
    assert (await client.delete("/api/v1/tokens/current", headers=bearer(token))).status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_tokens_are_stored_hashed(client: httpx.AsyncClient) -> None:
    from accounts.models import ApiToken

    token = await token_for(await make_user())
    stored = await ApiToken.all().values_list("token_hash", flat=True)
    assert token not in stored
    assert len(stored) == 1 and len(stored[0]) == 64


async def test_an_admin_token_says_is_admin(client: httpx.AsyncClient) -> None:
    token = await token_for(await make_user(admin=True))
    assert (await client.get("/api/v1/me", headers=bearer(token))).json()["is_admin"] is True


async def test_changing_password_revokes_old_tokens_and_returns_a_new_one(
    client: httpx.AsyncClient,
) -> None:
    user = await make_user(email="du@example.cn")
    old = await token_for(user)
    response = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new secret"},
        headers=bearer(old),
    )
    assert response.status_code == 200
    assert (await client.get("/api/v1/me", headers=bearer(old))).status_code == 401
    assert (
        await client.get("/api/v1/me", headers=bearer(response.json()["token"]))
    ).status_code == 200
    relogin = await client.post(
        "/api/v1/tokens", json={"email": "du@example.cn", "password": "a brand new secret"}
    )
    assert relogin.status_code == 201


async def test_changing_password_with_a_wrong_current_one_is_refused(
    client: httpx.AsyncClient,
) -> None:
    token = await token_for(await make_user())
    response = await client.post(
        "/api/v1/me/password",
        json={"current_password": "not it at all", "new_password": "a brand new secret"},
        headers=bearer(token),
    )
    assert response.status_code == 401
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200


async def test_notifications_list_unread_and_mark_read(client: httpx.AsyncClient) -> None:
    user = await make_user()
    token = await token_for(user)
    first = await notices.notify(user.id, kind="welcome", params={"name": "小书"}, link="/")
    await notices.notify(user.id, kind="mention", params={"author": "小雨", "title": "读书会"})
    inbox = (await client.get("/api/v1/notifications", headers=bearer(token))).json()
    assert inbox["unread"] == 2
    assert [n["message"] for n in inbox["items"]] == [
        "小雨 在“读书会”中提到了你",
        "小书，欢迎来到书院。每天早上六点半，一段六十秒语音等你。",
    ]
    assert first is not None
    response = await client.post(f"/api/v1/notifications/{first.id}/read", headers=bearer(token))
    assert response.status_code == 204
    inbox = (await client.get("/api/v1/notifications", headers=bearer(token))).json()
    assert inbox["unread"] == 1
    assert [n["read"] for n in inbox["items"]] == [False, True]


async def test_someone_elses_notification_is_404(client: httpx.AsyncClient) -> None:
    owner = await make_user()
    notification = await notices.notify(owner.id, kind="welcome", params={"name": "hi"})
    assert notification is not None
    intruder_token = await token_for(await make_user())
    response = await client.post(
        f"/api/v1/notifications/{notification.id}/read", headers=bearer(intruder_token)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/no-such-thing", 404, "not_found"),
        ("GET", "/api/v1/accounts", 405, "method_not_allowed"),
        ("POST", "/api/v1/notifications/abc/read", 404, "not_found"),
    ],
)
async def test_api_errors_have_one_shape(
    client: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def test_openapi_document_lists_the_api_from_the_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert set(paths["/api/v1/accounts"]) == {"post"}
    assert set(paths["/api/v1/tokens"]) == {"post"}
    assert set(paths["/api/v1/me"]) == {"get", "patch"}
    registration = paths["/api/v1/accounts"]["post"]["requestBody"]["content"]["application/json"]
    name = registration["schema"]["$ref"].rpartition("/")[2]
    schema = document["components"]["schemas"][name]
    assert schema["required"] == ["email", "password", "display_name"]
    assert schema["properties"]["password"]["minLength"] == 8
    assert "/api/v1/notifications/{id}/read" in paths
    validate(document)  # a valid OpenAPI 3.1 document (openapi-spec-validator)
    for path_item in paths.values():
        for spec in path_item.values():
            assert any(status.startswith("2") for status in spec["responses"]), spec["summary"]
            assert "503" in spec["responses"]  # every operation documents its errors too

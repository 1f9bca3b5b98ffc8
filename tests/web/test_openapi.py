"""The OpenAPI document's shape: one Error component that every error answer refers to, each
answer narrowing it to its own codes; and no two components with one name or title. And the
rules the API enforces, said where a client reads them: the answers its services can give,
lengths, patterns, the forms of a payment, the files an upload takes, rules across fields."""

from __future__ import annotations

from typing import Any

import httpx
from openapi_schema_validator import OAS31Validator


async def test_every_error_answer_refers_to_the_one_error_component(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    seen = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith("2"):
                    continue
                schema = answer["content"]["application/json"]["schema"]
                assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}, (path, method)
                codes = schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
                assert codes and answer["description"] == ", ".join(codes), (path, status)
                seen += 1
    assert seen > 200


async def test_component_names_and_titles_are_unique(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    titles = [schema.get("title", name) for name, schema in schemas.items()]
    assert len(titles) == len(set(titles))
    assert not [name for name in schemas if "." in name]  # a name msgspec had to qualify


async def document_of(client: httpx.AsyncClient) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/api/v1/openapi.json")).json()
    return document


def codes(document: dict[str, Any], path: str, method: str, status: int) -> list[str]:
    answer = document["paths"][path][method]["responses"][str(status)]
    schema = answer["content"]["application/json"]["schema"]
    found: list[str] = schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
    return found


def body_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rpartition("/")[2]
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


async def test_answers_the_services_can_give_are_declared(client: httpx.AsyncClient) -> None:
    document = await document_of(client)
    assert "banned" in codes(document, "/api/v1/board/posts/{id}/reports", "post", 403)
    for path in (
        "/api/v1/admin/orders/{id}/refund",
        "/api/v1/admin/refund-requests/{id}/approve",
        "/api/v1/admin/enrollments/{id}/refund",
    ):  # two full refunds at once: the second finds the money already going back
        assert "refund_too_large" in codes(document, path, "post", 422), path
        assert "payment_not_found" in codes(document, path, "post", 404), path
    assert "not_refundable" in codes(
        document, "/api/v1/admin/refund-requests/{id}/approve", "post", 409
    )


async def test_new_passwords_state_their_lengths_and_the_strength_rule(
    client: httpx.AsyncClient,
) -> None:
    document = await document_of(client)
    for path, field in (
        ("/api/v1/accounts", "password"),
        ("/api/v1/me/password", "new_password"),
        ("/api/v1/password-resets/{token}", "password"),
    ):
        password = body_schema(document, path, "post")["properties"][field]
        assert (password["minLength"], password["maxLength"]) == (8, 1024), path
        assert "zxcvbn" in password["description"], path
        assert "weak_password" in codes(document, path, "post", 422), path


async def test_board_categories_state_their_shape_and_that_no_endpoint_lists_them(
    client: httpx.AsyncClient,
) -> None:
    document = await document_of(client)
    for method in ("post", "patch"):
        path = "/api/v1/board/posts" if method == "post" else "/api/v1/board/posts/{id}"
        category = body_schema(document, path, method)["properties"]["category"]
        if "anyOf" in category:  # optional when editing
            category = category["anyOf"][0]
        assert category["pattern"] == "^[a-z][a-z0-9-]{1,29}$", method
        assert category["maxLength"] == 30, method
        assert "no endpoint" in category["description"], method


async def test_a_time_that_must_come_after_another_is_described_and_its_422_declared(
    client: httpx.AsyncClient,
) -> None:
    document = await document_of(client)
    for path, method, later in (
        ("/api/v1/admin/enrollment-windows", "post", "closes_at must be after opens_at"),
        ("/api/v1/admin/enrollment-windows/{id}", "patch", "closes_at must stay after opens_at"),
        ("/api/v1/admin/products", "post", "sale_ends_at must be after sale_starts_at"),
    ):
        assert later in " ".join(body_schema(document, path, method)["description"].split())
        assert "invalid_field" in codes(document, path, method, 422), path


async def test_paying_asks_for_one_of_three_forms_of_payment_method(
    client: httpx.AsyncClient,
) -> None:
    document = await document_of(client)
    good = [
        {"payment_method": "pm_card_visa"},
        {"method": "card", "payment_method": "pm_card_visa", "return_url": None},
        {"method": "wechat_pay"},
        {"method": "alipay", "return_url": "https://shuyuan.example/orders/1"},
    ]
    bad = [
        {},
        {"method": "card"},
        {"payment_method": "card_visa"},
        {"payment_method": "pm_card_visa", "return_url": "https://shuyuan.example/"},
        {"method": "wechat_pay", "payment_method": "pm_card_visa"},
        {"method": "alipay"},
        {"method": "alipay", "return_url": "https://x.example/", "payment_method": "pm_x"},
        {"method": "paypal"},
    ]
    for path in ("/api/v1/orders/{id}/payment", "/api/v1/enrollments/{id}/payment"):
        assert document["paths"][path]["post"]["requestBody"]["required"] is True
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        validator = OAS31Validator({**body["schema"], "components": document["components"]})
        assert [b for b in good if not validator.is_valid(b)] == [], path
        assert [b for b in bad if validator.is_valid(b)] == [], path
        assert "invalid_field" in codes(document, path, "post", 422), path


async def test_picture_uploads_state_their_types_and_size(client: httpx.AsyncClient) -> None:
    document = await document_of(client)
    for path, part in (
        ("/api/v1/admin/products/{id}/image", "image"),
        ("/api/v1/me/avatar", "avatar"),
    ):
        form = document["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        types = {t.strip() for t in form["encoding"][part]["contentType"].split(",")}
        assert {"image/jpeg", "image/png", "image/webp"} <= types, path
        assert form["schema"]["properties"][part]["maxLength"] > 0, path
        assert "invalid_field" in codes(document, path, "post", 422), path

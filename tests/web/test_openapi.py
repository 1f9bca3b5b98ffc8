"""The OpenAPI document's shape: one Error component that every error answer refers to, each
answer narrowing it to its own codes; and no two components with one name or title. And the
answers its services can give, declared."""

from __future__ import annotations

from typing import Any

import httpx


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

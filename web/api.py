"""The JSON API's plumbing: declared fields, validation naming the field, OpenAPI from routes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.schemas import BaseSchemaGenerator

from errors import InvalidJSON, ValidationError

Endpoint = Callable[[Request], Awaitable[Response]]
MAX_JSON_BYTES = 1_000_000


@dataclass(frozen=True)
class Field:
    """One field of a JSON object: its type, whether it is required, and its limits."""

    type: str  # "string", "integer", "boolean", "datetime", "email", "password", "array"
    required: bool = True
    nullable: bool = False
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        if self.type == "datetime":
            schema = {"type": "string", "format": "date-time"}
        elif self.type in ("email", "password"):
            schema = {"type": "string", "format": self.type}
        elif self.type == "array":
            schema = {"type": "array", "items": {"type": "object"}}
        for key in ("min_length", "max_length"):
            value = getattr(self, key)
            if value is not None:
                schema["minLength" if key == "min_length" else "maxLength"] = value
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.nullable:
            schema["nullable"] = True
        if self.description:
            schema["description"] = self.description
        return schema

    def parse(self, name: str, value: Any) -> Any:
        if value is None:
            if self.nullable or not self.required:
                return None
            raise ValidationError(name, "is required")
        if self.type in ("string", "email", "password"):
            if not isinstance(value, str):
                raise ValidationError(name, "must be a string")
            # Surrounding spaces do not make a title long enough; in a password they count.
            text = value if self.type == "password" else value.strip()
            if self.min_length is not None and len(text) < self.min_length:
                raise ValidationError(name, f"must be at least {self.min_length} characters")
            if self.max_length is not None and len(value) > self.max_length:
                raise ValidationError(name, f"must be at most {self.max_length} characters")
            if self.enum is not None and value not in self.enum:
                raise ValidationError(name, f"must be one of {', '.join(self.enum)}")
            return value
        if self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(name, "must be a whole number")
            if self.minimum is not None and value < self.minimum:
                raise ValidationError(name, f"must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ValidationError(name, f"must be at most {self.maximum}")
            return value
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise ValidationError(name, "must be true or false")
            return value
        if self.type == "datetime":
            return parse_datetime(name, value)
        if self.type == "array":
            if not isinstance(value, list):
                raise ValidationError(name, "must be a list")
            if self.max_length is not None and len(value) > self.max_length:
                raise ValidationError(name, f"must have at most {self.max_length} entries")
            return value
        raise AssertionError(f"unknown field type {self.type}")


def parse_datetime(name: str, value: Any) -> datetime:
    """An ISO 8601 time with an offset, as aware UTC. A time without an offset is refused."""
    if not isinstance(value, str):
        raise ValidationError(name, "must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            name, "must be an ISO 8601 date-time, e.g. 2026-12-01T08:00:00+08:00"
        ) from None
    if parsed.tzinfo is None:
        raise ValidationError(name, "must include a UTC offset, e.g. +08:00 or Z")
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class Schema:
    """A JSON object's fields. Fields not declared are ignored, so clients may send more."""

    fields: Mapping[str, Field]

    def validate(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidJSON()
        parsed: dict[str, Any] = {}
        for name, spec in self.fields.items():
            if name not in data:
                if spec.required:
                    raise ValidationError(name, "is required")
                continue
            parsed[name] = spec.parse(name, data[name])
        return parsed

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {name: spec.json_schema() for name, spec in self.fields.items()},
            "required": [name for name, spec in self.fields.items() if spec.required],
        }


async def read_json(request: Request, schema: Schema) -> dict[str, Any]:
    """The request's JSON object, validated against `schema` (400 invalid_json, 422 a field)."""
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise InvalidJSON("The request body is too large.")
    try:
        data = json.loads(body) if body.strip() else {}  # no body: an empty object
    except (ValueError, UnicodeDecodeError):
        raise InvalidJSON("The request body is not valid JSON.") from None
    return schema.validate(data)


def path_id(request: Request, name: str = "id") -> int:
    """A numeric path parameter; anything else is a 422 naming it (never a 500 or a lookup)."""
    raw = str(request.path_params[name])
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationError(name, "must be a whole number")
    return int(raw)


def iso(moment: datetime | None) -> str | None:
    """A time as ISO 8601 UTC with a Z, the one format the API writes."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers=headers)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The one shape of every error: {"error": {"code", "message", ...}}."""
    return {"error": {"code": code, "message": message, **extra}}


@dataclass(frozen=True)
class Operation:
    summary: str
    body: Schema | None = None
    responses: Mapping[int, str] = field(default_factory=dict)
    auth: str | None = "bearer"  # "bearer", "admin" or None
    tag: str = ""


def operation(
    summary: str,
    *,
    body: Schema | None = None,
    responses: Mapping[int, str] | None = None,
    auth: str | None = "bearer",
    tag: str = "",
) -> Callable[[Endpoint], Endpoint]:
    """Describe an API endpoint for the OpenAPI document; `body` is what read_json validates."""

    def attach(endpoint: Endpoint) -> Endpoint:
        endpoint.__dict__["openapi_operation"] = Operation(
            summary=summary, body=body, responses=responses or {}, auth=auth, tag=tag
        )
        return endpoint

    return attach


_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
            "required": ["code", "message"],
        }
    },
}


class _Generator(BaseSchemaGenerator):
    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for endpoint in self.get_endpoints(routes):
            spec: Operation | None = getattr(endpoint.func, "openapi_operation", None)
            if spec is None:
                continue
            item: dict[str, Any] = {
                "summary": spec.summary,
                "operationId": f"{endpoint.http_method}_{endpoint.func.__name__}",
                "responses": {
                    str(status): (
                        {"description": text}
                        if status < 400
                        else {
                            "description": text,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"}
                                }
                            },
                        }
                    )
                    for status, text in sorted(spec.responses.items())
                },
            }
            if spec.tag:
                item["tags"] = [spec.tag]
            if spec.auth:
                item["security"] = [{"bearer": []}]
            params = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_params(endpoint.path)
            ]
            if params:
                item["parameters"] = params
            if spec.body is not None:
                item["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": spec.body.json_schema()}},
                }
            paths.setdefault(endpoint.path, {})[endpoint.http_method] = item
        return {
            "openapi": "3.1.0",
            "info": {"title": "Shuyuan API", "version": "1"},
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "schemas": {"Error": _ERROR_SCHEMA},
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def openapi_document(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of every route that carries an `operation` description."""
    return _Generator().get_schema(routes)

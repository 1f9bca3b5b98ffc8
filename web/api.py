"""The JSON API's toolkit, as endpoints use it: answers (json_response, iso, error_body), and,
from the modules that hold them, the declarations (web.schemas), reading requests
(web.decoding) and the OpenAPI document (web.openapi)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

from web.decoding import (
    Decoders,
    decode_json,
    decoders_of,
    json_body,
    read_fields,
    read_json,
    read_query,
)
from web.openapi import Operation, openapi_document, operation
from web.schemas import (
    DB_INT_MAX,
    ID_SCHEMA,
    LINE_PATTERN,
    MAX_JSON_DEPTH,
    TEXT_PATTERN,
    Answer,
    Body,
    Endpoint,
    Id,
    Moment,
    Query,
    line,
    text,
    whole,
)

__all__ = [
    "DB_INT_MAX",
    "ID_SCHEMA",
    "LINE_PATTERN",
    "MAX_JSON_DEPTH",
    "TEXT_PATTERN",
    "Answer",
    "Body",
    "Decoders",
    "Endpoint",
    "Id",
    "Moment",
    "Operation",
    "Query",
    "decode_json",
    "decoders_of",
    "json_body",
    "line",
    "openapi_document",
    "operation",
    "read_fields",
    "read_json",
    "read_query",
    "text",
    "whole",
]


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

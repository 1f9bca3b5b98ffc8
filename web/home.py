"""The health check, the favicon, and the API's OpenAPI document with its page
for people (/api/docs)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from tortoise import connections

from web.api import json_response, openapi_document
from web.rendering import render


async def healthz(request: Request) -> Response:
    """200 {"status": "ok"} when the database answers, 503 otherwise."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # any failure to reach the database means unhealthy
        return JSONResponse(
            {
                "status": "unavailable",
                "error": {"code": "database_unavailable", "message": str(exc)[:200]},
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok"})


ICONS = Path(__file__).resolve().parent.parent / "static" / "icons"


async def favicon(request: Request) -> Response:
    """/favicon.ico, which browsers ask for on every site whatever the page links."""
    return FileResponse(
        ICONS / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=604800"},
    )


async def api_docs(request: Request) -> Response:
    """The API's document for people, drawn by the vendored swagger-ui."""
    return await render(request, "api_docs.html")


async def openapi(request: Request) -> Response:
    api_mount = next(
        route for route in request.app.routes if getattr(route, "path", "") == "/api/v1"
    )
    document = openapi_document([api_mount])
    return json_response(document)


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"], name="site.healthz"),
        Route("/favicon.ico", favicon, methods=["GET"], name="site.favicon"),
        Route("/api/docs", api_docs, methods=["GET"], name="site.api_docs"),
    ]


def api_routes() -> list[BaseRoute]:
    return [Route("/openapi.json", openapi, methods=["GET"], name="site.openapi")]

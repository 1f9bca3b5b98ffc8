"""Privacy's JSON API: a member asks for a copy of their data (202: the job writes it, and
they are told where `told_by` says) and lists their copies. The pages (privacy.routes) are its
twins; the download itself is a page (its owner signed in, with the link's token)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from privacy import export
from privacy.models import DataExport
from web.api import Answer, iso, json_response, operation
from web.auth import api_user


class DataExportAnswer(Answer):
    """A copy of the caller's data: pending (the job writes it, within a minute or so), ready
    (told by mail or in the inbox; the link works until expires_at), failed (ask again) or
    expired (its file is deleted)."""

    id: int
    state: Literal["pending", "ready", "failed", "expired"]
    requested_at: str
    ready_at: str | None
    expires_at: str | None
    size_bytes: int
    told_by: Literal["mail", "inbox"]


class DataExportList(Answer):
    items: list[DataExportAnswer]


def export_json(item: DataExport, told_by: str) -> dict[str, object]:
    return {
        "id": item.id,
        "state": item.state.value,
        "requested_at": iso(item.requested_at),
        "ready_at": iso(item.ready_at),
        "expires_at": iso(item.expires_at),
        "size_bytes": item.size_bytes,
        "told_by": told_by,
    }


@operation(
    "Ask for a copy of everything Shuyuan holds about you (a ZIP of JSON files): written by "
    "a job, then a link that expires is sent by mail, or to the inbox without a verified "
    "address. The copy in progress is answered again; one an hour",
    answer=DataExportAnswer,
    status=202,
    tag="privacy",
    errors={429: "export_too_soon"},
)
async def ask_export(request: Request) -> Response:
    user = await api_user(request)
    made = await export.request_export(user, datetime.now(UTC))
    return json_response(export_json(made, export.told_by(user)), 202)


@operation("Your copies of your data, newest first", answer=DataExportList, tag="privacy")
async def list_exports(request: Request) -> Response:
    user = await api_user(request)
    told_by = export.told_by(user)
    items = [export_json(item, told_by) for item in await export.exports_of(user)]
    return json_response({"items": items})


def routes() -> list[BaseRoute]:
    return [
        Route("/me/export", ask_export, methods=["POST"], name="privacy.ask_export"),
        Route("/me/exports", list_exports, methods=["GET"], name="privacy.exports"),
    ]

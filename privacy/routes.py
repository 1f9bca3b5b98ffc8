"""Privacy's pages: "Your data" (/me/data: what a copy holds, asking for one, the latest one's
state and link) and the download (/me/data/exports/{token}: its owner, signed in, with the
link's token). The JSON API (privacy.api) is their twin."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from privacy import export
from privacy.contents import PARTS
from storage import STORAGE
from web.auth import require_user
from web.csrf import read_form
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render
from web.stored import stored_response


async def data_page(request: Request) -> Response:
    user = await require_user(request)
    now = datetime.now(UTC)
    latest = await export.latest_export(user)
    return await render(
        request,
        "privacy/data.html",
        {
            "latest": latest,
            "download_path": export.download_path(latest, now) if latest else None,
            "told_by": export.told_by(user),
            "parts": PARTS,
            "link_hours": request.app.state.settings.export_link_hours,
        },
    )


async def ask(request: Request) -> Response:
    user = await require_user(request)
    await read_form(request)
    on_error_back(request, links.path("privacy.data_page"))
    await export.request_export(user, datetime.now(UTC))
    flash(request, gettext_for(request)("Asked: your copy is being made."), "success")
    return redirect_after_post(request, links.path("privacy.data_page"))


async def download(request: Request) -> Response:
    user = await require_user(request)
    found, key = await export.download(user, request.path_params["token"], datetime.now(UTC))
    day = (found.ready_at or found.requested_at).strftime("%Y%m%d")
    # Read from disk or the bucket here, or by nginx (X-Accel-Redirect), as members' audio is.
    return await stored_response(
        request,
        STORAGE.get(),
        key,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="shuyuan-data-{day}.zip"',
            "Cache-Control": "no-store",
            "X-Robots-Tag": "noindex",
        },
        accel_prefix=request.app.state.settings.accel_redirect,
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/me/data", data_page, methods=["GET"], name="privacy.data_page"),
        Route("/me/data/exports", ask, methods=["POST"], name="privacy.ask"),
        Route("/me/data/exports/{token:str}", download, methods=["GET"], name="privacy.download"),
    ]

"""The console's page of the legal documents (/admin/legal, Capability.LEGAL: owners and
admins): every version of the terms, the privacy policy and the cross-border notice, and the
next version of each published (never an edit: accounts.legal_documents.publish)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts import legal_documents
from accounts.roles import Capability
from web.auth import staff_member, staff_only
from web.csrf import read_form
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render


@staff_only(Capability.LEGAL)
async def legal_page(request: Request) -> Response:
    documents = {
        doc.value: await legal_documents.versions_of(doc.value) for doc in legal_documents.Document
    }
    return await render(
        request,
        "accounts/legal_admin.html",
        {
            "documents": documents,
            "versions": await legal_documents.current_versions(fresh=True),
            "console_section": "legal",
        },
    )


@staff_only(Capability.LEGAL)
async def publish(request: Request) -> Response:
    form = await read_form(request)
    on_error_back(request, links.path("accounts.admin.legal"))
    text = await legal_documents.publish(
        str(form.get("kind", "")),
        str(form.get("title", "")),
        str(form.get("body", "")),
        by=staff_member(request),
        now=datetime.now(UTC),
    )
    _ = gettext_for(request)
    flash(request, _("Version %(version)s is published.") % {"version": text.version}, "success")
    return redirect_after_post(request, links.path("accounts.admin.legal"))


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/legal", legal_page, methods=["GET"], name="accounts.admin.legal"),
        Route("/admin/legal", publish, methods=["POST"], name="accounts.admin.publish_legal"),
    ]

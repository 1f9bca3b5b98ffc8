"""The pages of consent: the legal documents (/legal/terms, /legal/privacy, /legal/cross-border,
the current version or an older one by ?version=n), and a person's consent page (/me/consent):
agreeing to the current terms and privacy policy (and stating their age if they never did),
and each optional use with its own button to give or withdraw it. The rules are
accounts.consents; the API's twin is accounts.api."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import links
from accounts import consents, legal_documents
from accounts.legal_documents import Document
from errors import ValidationError
from web.api import Query, read_query
from web.auth import require_user
from web.csrf import read_form
from web.i18n import choose_locale
from web.rendering import flash, gettext_for, on_error_back, redirect_after_post, render

# The documents' addresses: /legal/<slug>.
SLUGS = {
    "terms": Document.TERMS,
    "privacy": Document.PRIVACY,
    "cross-border": Document.CROSS_BORDER,
}
SLUG_OF = {document: slug for slug, document in SLUGS.items()}


class VersionQuery(Query):
    version: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None


class NextQuery(Query):
    next: Annotated[str, msgspec.Meta(max_length=500)] = ""


def _safe_next(url: str) -> str:
    """Only a path of this site is followed (no open redirect): as accounts.routes.safe_next."""
    if (
        not url.startswith("/")
        or url.startswith("//")
        or "\\" in url
        or not url.isprintable()
        or url.startswith(links.path("accounts.consent_page"))
    ):
        return links.path("site.home")
    return url


async def legal_page(request: Request) -> Response:
    document = SLUGS.get(request.path_params["slug"])
    if document is None:
        raise HTTPException(status_code=404)
    version = read_query(request, VersionQuery).version
    text = await legal_documents.legal_text(document.value, version)
    if text is None:
        raise HTTPException(status_code=404)
    older = await legal_documents.versions_of(document.value)
    return await render(
        request,
        "accounts/legal.html",
        {
            "text": text,
            "current": older[0].version if older else None,
            "versions": older,
            "slug": SLUG_OF[document],
        },
    )


async def consent_page(request: Request) -> Response:
    """What this person is asked, and their answers (GET); agreeing to what is outstanding
    (POST: a box for each, and the age statement when none was ever made)."""
    user = await require_user(request)
    next_url = _safe_next(read_query(request, NextQuery).next)
    versions = await legal_documents.current_versions(fresh=True)
    asked = await consents.outstanding(user, versions)
    outstanding = [doc for doc in legal_documents.REQUIRED if doc.value in asked]
    age_needed = consents.AGE_14 in asked
    if request.method == "POST":
        form = await read_form(request)
        on_error_back(
            request, request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
        missing = [
            doc.value
            for doc in outstanding
            if str(form.get(doc.value, "")) != str(versions.of(doc))
        ]
        if age_needed and str(form.get("age_14", "")) != "true":
            missing.append("age_14")
        if missing:
            raise ValidationError(missing[0], "is required: tick the box to agree")
        locale = choose_locale(request)
        now = datetime.now(UTC)
        for position, doc in enumerate(outstanding):
            await consents.agree(
                user,
                doc.value,
                versions.of(doc),
                source="consent_page",
                now=now,
                locale=locale,
                age_14=age_needed and position == 0,
            )
        if age_needed and not outstanding:
            await consents.state_age(user, source="consent_page", locale=locale, now=now)
        flash(request, gettext_for(request)("Thank you: your agreement is recorded."), "success")
        return redirect_after_post(request, next_url)
    texts = {
        doc: await legal_documents.legal_text(doc.value, versions.of(doc))
        for doc in legal_documents.REQUIRED
    }
    return await render(
        request,
        "accounts/consent.html",
        {
            "versions": versions,
            "outstanding": outstanding,
            "age_needed": age_needed,
            "texts": texts,
            "answers": await consents.answers(user),
            "next_url": next_url,
            "slug_of": {doc.value: slug for doc, slug in SLUG_OF.items()},
            # privacy's pages (a member's copy of their data, leaving), built beside this
            # one: their paths until their routes' names can be used here.
            "data_page": consents.DATA_PAGE,
            "leave_page": consents.LEAVE_PAGE,
        },
    )


async def change_optional(request: Request) -> Response:
    """One optional use given or withdrawn with its own button."""
    user = await require_user(request)
    form = await read_form(request)
    on_error_back(request, links.path("accounts.consent_page"))
    purpose = str(form.get("purpose", ""))
    locale = choose_locale(request)
    now = datetime.now(UTC)
    if str(form.get("answer", "")) == "yes":
        await consents.give(user, purpose, source="consent_page", now=now, locale=locale)
    else:
        await consents.withdraw(user, purpose, source="consent_page", now=now, locale=locale)
    flash(request, gettext_for(request)("Your choice is saved."), "success")
    return redirect_after_post(request, links.path("accounts.consent_page"))


def routes() -> list[BaseRoute]:
    return [
        Route("/legal/{slug:str}", legal_page, methods=["GET"], name="accounts.legal_page"),
        Route(
            "/me/consent",
            consent_page,
            methods=["GET", "POST"],
            name="accounts.consent_page",
        ),
        Route(
            "/me/consent/optional",
            change_optional,
            methods=["POST"],
            name="accounts.change_optional_consent",
        ),
    ]

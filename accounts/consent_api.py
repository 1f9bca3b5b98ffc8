"""Consent over the API: the caller's answers (GET /me/consents), agreeing to the current
version of a document (POST /me/consents), withdrawing an optional one (DELETE
/me/consents/{purpose}), and the documents themselves (GET /legal/{kind}). The rules are
accounts.consents; the pages' twin is accounts.consent_pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts import consents, legal_documents, schemas
from accounts.models import Consent
from translation import supported, translations
from web.api import Query, iso, json_response, operation, read_json, read_query
from web.auth import api_user
from web.i18n import api_locale


class VersionQuery(Query):
    version: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None


def consent_json(consent: Consent) -> dict[str, Any]:
    return {
        "id": consent.id,
        "purpose": consent.purpose,
        "version": consent.version,
        "granted": consent.granted,
        "source": consent.source,
        "wording": consent.wording,
        "at": iso(consent.at),
    }


@operation(
    "The caller's consents, newest first, with what is still to be agreed",
    answer=schemas.Consents,
    tag="accounts",
)
async def list_consents(request: Request) -> Response:
    user = await api_user(request)
    versions = await legal_documents.current_versions()
    return json_response(
        {
            "items": [consent_json(c) for c in await consents.history(user.id)],
            "outstanding": list(await consents.outstanding(user, versions)),
            "current": {
                "terms": versions.terms,
                "privacy": versions.privacy,
                "cross_border": versions.cross_border,
            },
            "age_stated": await consents.age_stated(user.id),
        }
    )


@operation(
    "Agree to the current version of the terms, the privacy policy or the cross-border "
    "notice (`age_14`: also state that you are 14 or older)",
    body=schemas.ConsentGiven,
    answer=schemas.ConsentItem,
    status=201,
    tag="accounts",
    errors={409: "version_not_current"},
)
async def give_consent(request: Request) -> Response:
    user = await api_user(request)
    data = await read_json(request, schemas.ConsentGiven)
    consent = await consents.agree(
        user,
        data.document,
        data.version,
        source="api",
        now=datetime.now(UTC),
        locale=api_locale(request, user),
        age_14=data.age_14,
    )
    return json_response(consent_json(consent), 201)


@operation(
    "Withdraw an optional consent (cross_border, or a notice kind's mail such as broadcast); "
    "the terms and the privacy policy are withdrawn by leaving (409)",
    status=204,
    tag="accounts",
    errors={409: "withdrawing_is_leaving", 422: "invalid_field"},
    path={"purpose": {"type": "string", "pattern": "^[a-z_]{1,40}$"}},
)
async def withdraw_consent(request: Request) -> Response:
    user = await api_user(request)
    await consents.withdraw(
        user,
        request.path_params["purpose"],
        source="api",
        now=datetime.now(UTC),
        locale=api_locale(request, user),
    )
    return Response(status_code=204)


@operation(
    "A legal document: its current version, or an older one (`version`)",
    answer=schemas.LegalDocumentText,
    query=VersionQuery,
    auth="optional",
    tag="accounts",
    path={"kind": {"type": "string", "enum": [doc.value for doc in legal_documents.Document]}},
)
async def legal_document(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in {doc.value for doc in legal_documents.Document}:
        raise HTTPException(status_code=404)
    version = read_query(request, VersionQuery).version
    text = await legal_documents.legal_text(kind, version)
    if text is None:
        raise HTTPException(status_code=404, detail="No such version is published.")
    latest = await legal_documents.versions_of(text.kind.value)
    title, body = text.title, text.body
    if text.translate:  # the built-in cross-border notice, in the caller's language
        _ = translations(supported(api_locale(request))).gettext
        title, body = _(title), _(body)
    return json_response(
        {
            "kind": text.kind.value,
            "version": text.version,
            "title": title,
            "body": body,
            "published_at": iso(text.published_at) if text.published_at else None,
            "current_version": latest[0].version,
        }
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/me/consents", list_consents, methods=["GET"], name="accounts.consents"),
        Route("/me/consents", give_consent, methods=["POST"], name="accounts.give_consent"),
        Route(
            "/me/consents/{purpose:str}",
            withdraw_consent,
            methods=["DELETE"],
            name="accounts.withdraw_consent",
        ),
        Route("/legal/{kind:str}", legal_document, methods=["GET"], name="accounts.legal_document"),
    ]

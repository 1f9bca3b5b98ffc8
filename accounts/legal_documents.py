"""The legal documents staff publish (PIPL arts. 14, 17, 39): the terms, the privacy policy and
the cross-border notice, each in versions never edited once published (a change is the next
version, which everyone is asked to agree to again: accounts.consents), and this worker's
memory of the current versions. The cross-border notice has a built-in first version
(`BUILT_IN_CROSS_BORDER`) until staff publish the next one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.errors import PublishedMeanwhile
from accounts.models import LegalDocument, User
from changes import LEGAL, announce
from errors import ValidationError
from translation import N_
from wiring import Wire


class Document(StrEnum):
    TERMS = "terms"
    PRIVACY = "privacy"
    CROSS_BORDER = "cross_border"


# What every signed-in person must have agreed to (in its current version) once the regime is on.
REQUIRED = (Document.TERMS, Document.PRIVACY)

TITLE_CHARS = 120
BODY_CHARS = 100_000

# The cross-border notice's first version, until staff publish the next (message ids: shown and
# recorded in the reader's language).
BUILT_IN_CROSS_BORDER_TITLE = N_("Notice of personal information sent abroad (card payments)")
BUILT_IN_CROSS_BORDER = N_(
    "The ways of paying that show this notice at the checkout (a bank card; WeChat Pay and "
    "Alipay too where this site takes them through Stripe) are paid through Stripe, Inc. "
    "(United States; Stripe Payments Singapore Pte. Ltd. for Asia), outside mainland China. "
    "Shuyuan sends Stripe: the amount and its currency, and the payment's references (its "
    "number at Shuyuan, what it pays for, an order or a membership, and that one's number). "
    "The card form is Stripe's own (Stripe.js, loaded from Stripe): opening a checkout that "
    "offers a card contacts Stripe, which sees your IP address and your browser's details, "
    "and the card details you type go straight to Stripe, never seen or kept by Shuyuan. "
    "Why: to take the payment and to let Stripe and your bank detect fraud. Stripe keeps "
    "them as its own privacy policy says (stripe.com/privacy); to "
    "exercise your rights over them, write to Shuyuan's customer service or to Stripe at "
    "privacy@stripe.com. If you do not agree, choose a way of paying that does not show "
    "this notice: it is paid in mainland China and nothing is sent abroad for it. Where "
    "every way shows it, paying here needs this consent."
)


@dataclass(frozen=True)
class Versions:
    """The current version of each document; 0: none published."""

    terms: int = 0
    privacy: int = 0
    cross_border: int = 1  # the built-in first version

    @property
    def regime_on(self) -> bool:
        return self.terms > 0 and self.privacy > 0

    def of(self, document: Document) -> int:
        return int(getattr(self, document.value))


class LegalVersions:
    """This worker's memory of the current versions, read again at most once a second (a
    publish in another worker is seen within that), forgotten by a publish in this one; and of
    the people known to have stated they are 14 or older (a statement is never taken back, so
    a remembered yes stays true; a no is never remembered)."""

    AGES_KEPT = 100_000

    def __init__(self, max_age: float = 1.0) -> None:
        self.max_age = max_age
        self.versions: Versions | None = None
        self.read_at = 0.0
        self.age_stated: set[int] = set()

    def forget(self) -> None:
        self.versions = None

    def remember_age(self, user_id: int) -> None:
        if len(self.age_stated) >= self.AGES_KEPT:
            self.age_stated.clear()
        self.age_stated.add(user_id)


LEGAL_VERSIONS: Wire[LegalVersions] = Wire("accounts.legal_versions")


async def _read_versions() -> Versions:
    latest: dict[str, int] = {}
    for kind, version in await LegalDocument.all().values_list("kind", "version"):
        latest[kind] = max(latest.get(kind, 0), version)
    return Versions(
        terms=latest.get(Document.TERMS, 0),
        privacy=latest.get(Document.PRIVACY, 0),
        cross_border=max(latest.get(Document.CROSS_BORDER, 0), 1),
    )


async def current_versions(*, fresh: bool = False) -> Versions:
    """The current version of each document: from this worker's memory unless it is older than
    a second (or `fresh`, which reads the database: agreeing checks against it)."""
    memory = LEGAL_VERSIONS.get()
    now = time.monotonic()
    if fresh or memory.versions is None or now - memory.read_at > memory.max_age:
        memory.versions, memory.read_at = await _read_versions(), now
    return memory.versions


def document_named(value: str, field: str = "document") -> Document:
    try:
        return Document(value)
    except ValueError:
        raise ValidationError(field, "must be terms, privacy or cross_border") from None


@dataclass(frozen=True)
class LegalText:
    """One version of a document as people read it."""

    kind: Document
    version: int
    title: str
    body: str
    published_at: datetime | None  # None: the built-in cross-border notice
    translate: bool = False  # the built-in text: its title and body are message ids


def _built_in() -> LegalText:
    return LegalText(
        Document.CROSS_BORDER, 1, BUILT_IN_CROSS_BORDER_TITLE, BUILT_IN_CROSS_BORDER, None, True
    )


def _text(row: LegalDocument) -> LegalText:
    return LegalText(Document(row.kind), row.version, row.title, row.body, row.published_at)


async def legal_text(kind: str, version: int | None = None) -> LegalText | None:
    """The document `kind` in `version` (default the current one); None when there is none
    (nothing published yet, or no such version). Raises ValidationError for an unknown kind."""
    chosen = document_named(kind, "kind")
    rows = LegalDocument.filter(kind=chosen.value)
    row = await (
        rows.filter(version=version).first()
        if version is not None
        else rows.order_by("-version").first()
    )
    if row is not None:
        return _text(row)
    if chosen == Document.CROSS_BORDER and version in (None, 1):
        return _built_in()
    return None


async def versions_of(kind: str) -> list[LegalText]:
    """Every published version of `kind`, newest first (the cross-border notice's built-in
    first version last)."""
    chosen = document_named(kind, "kind")
    texts = [
        _text(row) for row in await LegalDocument.filter(kind=chosen.value).order_by("-version")
    ]
    if chosen == Document.CROSS_BORDER and not any(text.version == 1 for text in texts):
        texts.append(_built_in())
    return texts


async def publish(kind: str, title: str, body: str, *, by: User | None, now: datetime) -> LegalText:
    """Publish the next version of `kind` (the cross-border notice's first published one is
    version 2: version 1 is built in), with an audit entry in the same transaction; everyone is
    asked to agree to it (terms, privacy: at their next request; cross-border: at their next
    card payment). Never edits a version. Raises ValidationError (kind, title, body) or
    PublishedMeanwhile (the unique (kind, version) refused a racing twin)."""
    chosen = document_named(kind, "kind")
    title, body = title.strip(), body.strip()
    if not title or len(title) > TITLE_CHARS:
        raise ValidationError("title", f"must be 1 to {TITLE_CHARS} characters")
    if not body or len(body) > BODY_CHARS:
        raise ValidationError("body", f"must be 1 to {BODY_CHARS} characters")
    try:
        async with in_transaction():
            latest = await LegalDocument.filter(kind=chosen.value).order_by("-version").first()
            floor = 1 if chosen == Document.CROSS_BORDER else 0
            version = max(latest.version if latest is not None else 0, floor) + 1
            row = await LegalDocument.create(
                kind=chosen.value,
                version=version,
                title=title,
                body=body,
                published_at=now,
                published_by=by,
            )
            await audit.record(
                actor=by,
                action="legal_document.publish",
                object_type="legal_document",
                object_id=row.id,
                after={"kind": chosen.value, "version": version, "title": title},
                now=now,
            )
    except IntegrityError:
        raise PublishedMeanwhile() from None
    LEGAL_VERSIONS.get().forget()
    await announce(LEGAL)
    return _text(row)


async def warn_without_documents(logger: logging.Logger) -> None:
    """At start-up: say in the log when nothing is asked (no terms or privacy policy
    published), as the console's home page does."""
    if not (await current_versions(fresh=True)).regime_on:
        logger.warning(
            "No terms of service or privacy policy is published: nobody is asked to agree "
            "to anything (PIPL art. 14). Publish version 1 of both at /admin/legal."
        )

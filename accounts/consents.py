"""Consent (PIPL arts. 14, 15, 31, 39): the versioned legal documents staff publish (the terms,
the privacy policy, the cross-border notice), a person's agreement to their current versions,
the statement "I am 14 or older", and the one rule every request is held to.

The regime starts when the operator publishes the first version of both the terms and the
privacy policy: with either missing nothing is asked. Once on, a signed-in person who has not
agreed to the current version of each is refused everything but what `EXEMPT_API` and
`EXEMPT_PAGES` list (`required`, handed to web/ by the app factory). The cross-border notice
(a card paid through Stripe sends personal information abroad) has a built-in first version
(`BUILT_IN_CROSS_BORDER`) until staff publish the next one; it is asked before paying a
provider abroad (whether or not the terms are published), never before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from accounts import notices
from accounts.errors import (
    ConsentRequired,
    VersionNotCurrent,
    WithdrawingIsLeaving,
)
from accounts.legal_documents import (
    LEGAL_VERSIONS,
    REQUIRED,
    Document,
    Versions,
    current_versions,
    document_named,
    legal_text,
)
from accounts.models import Consent, NoticeChannel, User
from errors import ValidationError
from translation import DEFAULT_LOCALE, N_, supported, translations

# The statement "I am 14 or older" (PIPL art. 31), recorded as a Consent with this purpose.
AGE_14 = "age_14"

# Paths a person who has not agreed may still reach. The API: agreeing itself, reading the
# documents, their own data's copy and leaving (privacy's), ending their own token and their
# sessions, and changing or resetting their password (keeping the account safe needs no yes).
EXEMPT_API = (
    "/api/v1/me/consents",
    "/api/v1/legal/",
    "/api/v1/me/export",
    "/api/v1/me/deletion",
    "/api/v1/tokens/current",
    "/api/v1/me/sessions",
    "/api/v1/me/password",
    "/api/v1/password-resets",
)
# privacy's pages: a member's copy of their data, and leaving (注销).
DATA_PAGE = "/me/data"
LEAVE_PAGE = "/me/leave"
# Pages: the consent page, the documents, signing out, the language, the data's copy and
# leaving (privacy's pages), signing in with WeChat (a WeChat-only member proves who they are
# there to leave), a mail's unsubscribe link (withdrawing never needs agreeing), ending
# sessions, the password (changed, forgotten, reset), and files.
EXEMPT_PAGES = (
    "/me/consent",
    "/legal/",
    "/account/logout",
    "/lang/",
    DATA_PAGE,
    LEAVE_PAGE,
    "/account/wechat/",
    "/mail/unsubscribe/",
    "/account/sessions/",
    "/account/password",
    "/account/forgot",
    "/account/reset/",
    "/static/",
    "/media/",
    "/favicon.ico",
    "/healthz",
    "/metrics",
)


def agreed_version(user: User, document: Document) -> int:
    """The version of the terms or privacy policy `user` last agreed to (on the user row)."""
    return int(user.agreed_terms if document == Document.TERMS else user.agreed_privacy)


async def outstanding(user: User, versions: Versions | None = None) -> tuple[str, ...]:
    """What `user` must still give before anything else (the one rule of the gate, the API
    and the consent page): each of the terms and the privacy policy they have not agreed to in
    its current version (a version above theirs: a stale memory never asks for an older one),
    and `AGE_14` when they never stated they are 14 or older (PIPL art. 31); nothing while the
    regime is off. accounts/sql/token_owner.sql says the same in SQL. One query at most (the
    age statement, until this worker has seen it), beyond the versions' memory."""
    versions = versions or await current_versions()
    if not versions.regime_on:
        return ()
    missing: list[str] = [
        doc.value for doc in REQUIRED if agreed_version(user, doc) < versions.of(doc)
    ]
    if not await age_stated(user.id):
        missing.append(AGE_14)
    return tuple(missing)


def _exempt(path: str) -> bool:
    return path.startswith(EXEMPT_API) or path.startswith(EXEMPT_PAGES)


async def required(user: User | None, path: str, method: str = "GET") -> ConsentRequired | None:
    """The one rule, for every request (web/ asks through app.state.consent_required): what
    refuses `user`'s request for `path` until they agree to the current terms and privacy
    policy; None when they may go on (nobody signed in, an exempt path, a CORS preflight
    (OPTIONS) which acts on nothing, nothing outstanding)."""
    if user is None or method == "OPTIONS" or _exempt(path):
        return None
    return await refusal(user)


async def refusal(user: User) -> ConsentRequired | None:
    """What refuses `user` everything not exempt (the rule `required` applies to a path, and
    accounts.services.user_for_token_digest to a caller acting in one round trip), or None."""
    missing = await outstanding(user)
    if missing == (AGE_14,):
        return ConsentRequired(AGE_ONLY_MESSAGE, documents=missing)
    return ConsentRequired(documents=missing) if missing else None


AGE_ONLY_MESSAGE = (
    "State that you are 14 or older first: POST /api/v1/me/consents with the current version "
    "of the terms and age_14 true (or open /me/consent in a browser)."
)


def statement(document: Document, title: str, version: int, locale: str | None) -> str:
    """What agreeing to a document says, in `locale` (kept as the consent's wording)."""
    _ = translations(supported(locale or DEFAULT_LOCALE)).gettext
    return _("I have read and agree to “%(title)s” (version %(version)s).") % {
        "title": _(title) if document == Document.CROSS_BORDER and version == 1 else title,
        "version": version,
    }


AGE_STATEMENT = N_("I am 14 or older.")


def age_statement(locale: str | None) -> str:
    return translations(supported(locale or DEFAULT_LOCALE)).gettext(AGE_STATEMENT)


async def state_age(user: User, *, source: str, locale: str | None, now: datetime) -> None:
    """Record `user`'s statement that they are 14 or older (PIPL art. 31)."""
    await Consent.create(
        user_id=user.id,
        purpose=AGE_14,
        granted=True,
        source=source,
        wording=age_statement(locale or user.locale)[:500],
        at=now,
    )


async def agree(
    user: User,
    document: str,
    version: int,
    *,
    source: str,
    now: datetime,
    wording: str | None = None,
    locale: str | None = None,
    age_14: bool = False,
) -> Consent:
    """Record `user`'s agreement to `version` of `document` (and, with `age_14`, their
    statement that they are 14 or older), with the version on the user row for the terms and
    privacy policy, in one transaction. `wording` is what they were shown (by default the
    statement in `locale`). Only the current version may be agreed: VersionNotCurrent (409)
    otherwise (or while none is published); ValidationError for an unknown document."""
    chosen = document_named(document)
    versions = await current_versions(fresh=True)
    current = versions.of(chosen)
    if chosen in REQUIRED and current == 0:
        raise VersionNotCurrent("Nothing of this kind is published yet.", current=0)
    if isinstance(version, bool) or version != current:
        raise VersionNotCurrent(current=current)
    text = await legal_text(chosen.value, current)
    if text is None:
        raise VersionNotCurrent(current=current)
    said = wording or statement(chosen, text.title, current, locale or user.locale)
    async with in_transaction():
        consent = await Consent.create(
            user_id=user.id,
            purpose=chosen.value,
            version=current,
            granted=True,
            source=source[:20],
            wording=said[:500],
            at=now,
        )
        # Never lowered: an agree that read an older version than a racing one recorded
        # leaves the newer on the row (agreed__lt).
        if chosen == Document.TERMS:
            await User.filter(id=user.id, agreed_terms__lt=current).update(agreed_terms=current)
            user.agreed_terms = max(user.agreed_terms, current)
        elif chosen == Document.PRIVACY:
            await User.filter(id=user.id, agreed_privacy__lt=current).update(agreed_privacy=current)
            user.agreed_privacy = max(user.agreed_privacy, current)
        if age_14:
            await state_age(user, source=source[:20], locale=locale, now=now)
    return consent


def optional_kinds() -> list[tuple[str, str]]:
    """The optional uses a person may say yes or no to, with their label (a message id): the
    notice kinds whose mail needs consent (accounts.notices: broadcasts), and paying abroad."""
    seen: set[str] = set()
    kinds: list[tuple[str, str]] = []
    for name, kind in notices.kinds().items():
        if kind.consent and kind.label not in seen:
            seen.add(kind.label)
            kinds.append((name, kind.label))
    kinds.append((Document.CROSS_BORDER.value, CROSS_BORDER_LABEL))
    return kinds


CROSS_BORDER_LABEL = N_("Card payments through Stripe, abroad")


async def latest_answer(user_id: int, purpose: str) -> Consent | None:
    return await Consent.filter(user_id=user_id, purpose=purpose).order_by("-id").first()


async def cross_border_agreed(user_id: int, versions: Versions | None = None) -> bool:
    """Whether the person's current answer to the cross-border notice is yes, to its current
    version."""
    versions = versions or await current_versions()
    latest = await latest_answer(user_id, Document.CROSS_BORDER.value)
    return bool(latest and latest.granted and latest.version == versions.cross_border)


async def cross_border_needed(user_id: int) -> Versions | None:
    """The versions, when the person must agree to the cross-border notice before paying a
    provider abroad (their current answer is not yes to its current version); None when
    nothing is asked. Whether the terms are published does not matter: the notice has its
    built-in first version, and data sent abroad needs its consent (PIPL art. 39) anyway."""
    versions = await current_versions()
    if not await cross_border_agreed(user_id, versions):
        return versions
    return None


async def check_cross_border(user_id: int) -> None:
    """Before a payment whose personal information goes abroad (PIPL art. 39: a card through
    Stripe): raises ConsentRequired unless the person agreed to the current cross-border
    notice, published terms or not."""
    versions = await cross_border_needed(user_id)
    if versions is not None:
        raise ConsentRequired(
            "A card payment is made through Stripe, abroad: agree to the cross-border notice "
            "first (read it at /legal/cross-border, then POST /api/v1/me/consents with "
            "document cross_border and version %(version)s), or pay with WeChat Pay or Alipay.",
            documents=(Document.CROSS_BORDER.value,),
            version=versions.cross_border,
        )


async def withdraw(
    user: User, purpose: str, *, source: str, now: datetime, locale: str | None = None
) -> None:
    """Withdraw `user`'s yes to an optional use, as easily as it was given (PIPL art. 15): the
    cross-border notice (a "no" row: card payments are asked again), or mail of a notice kind
    that needs consent (accounts.notices.choose records it). The terms and the privacy policy
    are not optional: WithdrawingIsLeaving. ValidationError for anything else."""
    if purpose in REQUIRED:
        raise WithdrawingIsLeaving()
    if purpose == Document.CROSS_BORDER:
        versions = await current_versions()
        await Consent.create(
            user_id=user.id,
            purpose=purpose,
            version=versions.cross_border,
            granted=False,
            source=source[:20],
            wording=translations(supported(locale or user.locale or DEFAULT_LOCALE)).gettext(
                WITHDRAW_CROSS_BORDER
            )[:500],
            at=now,
        )
        return
    if purpose not in dict(optional_kinds()):
        raise ValidationError("purpose", "is not an optional use")
    await notices.choose(user, purpose, NoticeChannel.INBOX, source=source, locale=locale, now=now)


async def give(
    user: User, purpose: str, *, source: str, now: datetime, locale: str | None = None
) -> None:
    """Say yes to an optional use: the current cross-border notice (agree), or mail of a notice
    kind that needs consent. ValidationError for anything else."""
    if purpose == Document.CROSS_BORDER:
        versions = await current_versions(fresh=True)
        await agree(user, purpose, versions.cross_border, source=source, now=now, locale=locale)
        return
    if purpose not in dict(optional_kinds()) or purpose in REQUIRED:
        raise ValidationError("purpose", "is not an optional use")
    await notices.choose(
        user, purpose, NoticeChannel.INBOX_AND_MAIL, source=source, locale=locale, now=now
    )


WITHDRAW_CROSS_BORDER = N_("I withdraw my agreement to sending my information abroad to pay.")


@dataclass(frozen=True)
class Answer:
    """A person's current answer to one thing asked, as the consent page lists it."""

    purpose: str
    label: str  # a message id, or a document's title
    granted: bool
    version: int | None  # the version agreed to (documents)
    current: int | None  # the document's current version
    at: datetime | None
    optional: bool

    @property
    def up_to_date(self) -> bool:
        return self.granted and (self.current is None or self.version == self.current)


async def answers(user: User) -> list[Answer]:
    """`user`'s current answer to each thing asked: the terms, the privacy policy, the age
    statement, then each optional use."""
    versions = await current_versions()
    latest: dict[str, Consent] = {}
    for consent in await Consent.filter(user_id=user.id).order_by("id"):
        latest[consent.purpose] = consent
    listed: list[Answer] = []
    for doc, label in ((Document.TERMS, TERMS_LABEL), (Document.PRIVACY, PRIVACY_LABEL)):
        row = latest.get(doc.value)
        agreed = agreed_version(user, doc)
        listed.append(
            Answer(
                doc.value,
                label,
                agreed > 0,
                agreed or None,
                versions.of(doc),
                row.at if row else None,
                False,
            )
        )
    age = latest.get(AGE_14)
    listed.append(
        Answer(AGE_14, AGE_STATEMENT, age is not None, None, None, age.at if age else None, False)
    )
    for purpose, label in optional_kinds():
        row = latest.get(purpose)
        current = versions.cross_border if purpose == Document.CROSS_BORDER else None
        listed.append(
            Answer(
                purpose,
                label,
                bool(row and row.granted),
                row.version if row else None,
                current,
                row.at if row else None,
                True,
            )
        )
    return listed


TERMS_LABEL = N_("Terms of service")
PRIVACY_LABEL = N_("Privacy policy")


async def age_stated(user_id: int) -> bool:
    """Whether the person ever stated they are 14 or older (remembered once seen)."""
    memory = LEGAL_VERSIONS.get()
    if user_id in memory.age_stated:
        return True
    if await Consent.filter(user_id=user_id, purpose=AGE_14, granted=True).exists():
        memory.remember_age(user_id)
        return True
    return False


async def history(user_id: int, limit: int = 200) -> list[Consent]:
    """Every answer `user_id` gave, newest first (the API's list)."""
    return await Consent.filter(user_id=user_id).order_by("-id").limit(limit)


@dataclass(frozen=True)
class SignUpAgreement:
    """What a sign-up form or API registration said yes to: the versions of the terms and
    the privacy policy shown, and the statement "I am 14 or older"."""

    terms: int | None = None
    privacy: int | None = None
    age_14: bool = False


def check_sign_up(agreement: SignUpAgreement, versions: Versions) -> None:
    """While the regime is on, a sign-up must agree to the current terms and privacy policy
    and state that the person is 14 or older (PIPL art. 31: under 14 nobody signs up here).
    Raises ValidationError (terms, privacy, age_14: every one missing) or VersionNotCurrent."""
    if not versions.regime_on:
        return
    problems: list[tuple[str, str]] = []
    if agreement.terms is None:
        problems.append(("terms", "is required: agree to the terms of service"))
    if agreement.privacy is None:
        problems.append(("privacy", "is required: agree to the privacy policy"))
    if not agreement.age_14:
        problems.append(("age_14", "is required: Shuyuan is for people 14 or older"))
    if problems:
        raise ValidationError(problems[0][0], problems[0][1], others=problems)
    if agreement.terms != versions.terms:
        raise VersionNotCurrent(current=versions.terms)
    if agreement.privacy != versions.privacy:
        raise VersionNotCurrent(current=versions.privacy)


async def record_sign_up(
    user: User, versions: Versions, *, source: str, locale: str | None, now: datetime
) -> None:
    """Record a new account's agreements (check_sign_up passed), inside its transaction."""
    if not versions.regime_on:
        return
    for doc in REQUIRED:
        text = await legal_text(doc.value, versions.of(doc))
        title = text.title if text is not None else doc.value
        await Consent.create(
            user_id=user.id,
            purpose=doc.value,
            version=versions.of(doc),
            granted=True,
            source=source[:20],
            wording=statement(doc, title, versions.of(doc), locale)[:500],
            at=now,
        )
    await state_age(user, source=source, locale=locale, now=now)
    await User.filter(id=user.id).update(
        agreed_terms=versions.terms, agreed_privacy=versions.privacy
    )
    user.agreed_terms, user.agreed_privacy = versions.terms, versions.privacy

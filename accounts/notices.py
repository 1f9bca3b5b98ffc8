"""Telling people things: the inbox and mail, in the reader's language, as each person chose.

A notice is stored as its kind plus parameters (Notification.kind, .params) and rendered when it
is shown, inbox or mail, in the language of whoever reads it: switching language changes every
notice at once. Each kind has one sentence (an English message id with %(name)s parameters,
translated in locales/), a mail subject and a default channel; a person may choose, per kind,
inbox only, inbox and mail, or nothing (NoticeChoice). Mail goes only to a verified address
(accounts.verification), through the outbox (so it is written in the caller's transaction and
sent by a job), and reminder-like kinds carry a one-click unsubscribe (RFC 8058).

`notify` is the one call every package uses to tell someone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from tortoise.transactions import in_transaction

import links
from accounts import mail_layout, outbox
from accounts.mail_layout import Row
from accounts.models import Consent, NoticeChannel, NoticeChoice, Notification, User
from accounts.roles import Capability
from errors import ValidationError
from translation import DEFAULT_LOCALE, N_, supported, translations
from wiring import Wire


@dataclass(frozen=True)
class MailExtras:
    """What a kind's mail shows beside its sentence (a Kind's `mail` hook gives it): more
    lines, a receipt's rows, facts, the thing's picture, the button's label, small print."""

    lines: tuple[str, ...] = ()
    rows: tuple[Row, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()
    picture_url: str | None = None  # absolute
    picture_alt: str = ""
    action_label: str | None = None
    after: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (label, absolute URL)


# A kind's mail: what it shows of the notice's thing, in the reader's language (`locale`),
# read when the mail is written (in the notifying transaction); None: the sentence alone.
MailHook = Callable[[Notification, str], Awaitable[MailExtras | None]]


@dataclass(frozen=True)
class Kind:
    sentence: str  # message id, with the notice's %(params)s
    subject: str  # the mail's subject, a message id with the same params
    default: NoticeChannel
    reminder: bool = False  # a reminder-like mail: one-click unsubscribe
    label: str = ""  # what the choice is called on the notices page
    # Mail of this kind is commercial (a broadcast): off by default, and choosing it or
    # leaving it is recorded as consent (accounts.models.Consent) with these words, as shown.
    consent: str = ""
    # A kind for staff only (a Capability): told only to staff whose role grants it, and
    # offered on the notices page only to them.
    staff: str = ""
    mail: MailHook | None = None

    def offered_to(self, user: User) -> bool:
        return not self.staff or user.may(self.staff)


# Phone sign-in's daily SMS budget ran out (accounts.phones): the operators are told, who may
# raise it.
SMS_BUDGET_SPENT = "sms_budget_spent"
SMS_BUDGET_WATCHERS = Capability.JOBS

# WeChat Pay could not send a refund back (payments.notifications): money an operator must
# return by hand. Declared here, with the other kinds the staff are told of.
REFUND_STUCK = "refund_stuck"
REFUND_WATCHERS = Capability.PAYMENTS

# accounts' own kinds; each package above declares its own (its notices.py), and the
# composition root registers them all in the app's NoticeKinds.
KINDS: dict[str, Kind] = {
    "welcome": Kind(
        N_(
            "%(name)s, welcome to Shuyuan. Every morning at 6:30 a sixty-second voice message waits for you."
        ),
        N_("Welcome to Shuyuan"),
        NoticeChannel.INBOX,
        label=N_("Welcome"),
    ),
    # A way in added or removed (accounts.sign_in_methods): the owner learns of it in the
    # inbox, which needs no address, whoever made the change.
    "sign_in_added": Kind(
        N_(
            "A way to sign in was added to your account: %(what)s. If it was not you, remove it on your account page."
        ),
        N_("A way to sign in was added to your account"),
        NoticeChannel.INBOX,
        label=N_("Ways to sign in"),
    ),
    "sign_in_removed": Kind(
        N_(
            "A way to sign in was removed from your account: %(what)s. If it was not you, change your password and look at your account page."
        ),
        N_("A way to sign in was removed from your account"),
        NoticeChannel.INBOX,
        label=N_("Ways to sign in"),
    ),
    SMS_BUDGET_SPENT: Kind(
        N_(
            "Today's %(budget)s text messages are all sent: phone sign-in codes are refused "
            "until midnight (Beijing time). Raise SHUYUAN_SMS_DAILY_BUDGET if this is real use."
        ),
        N_("The SMS budget for today is spent"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("The daily SMS budget running out"),
        staff=SMS_BUDGET_WATCHERS,
    ),
    REFUND_STUCK: Kind(
        N_(
            "WeChat Pay could not send back refund %(refund)s of payment %(payment)s "
            "(%(state)s): the money is still with us. Return it by hand, and note it on the "
            "payment."
        ),
        N_("A refund did not go through"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("A refund that did not go through"),
        staff=REFUND_WATCHERS,
    ),
}
log = logging.getLogger(__name__)
MAX_PARAM = 200  # characters of one parameter (a post title, a name)


@dataclass(frozen=True)
class Letterhead:
    """What a mail needs from the settings: the key that signs its links (links.py builds
    them, on the public address)."""

    secret: str


class NoticeKinds(dict[str, Kind]):
    """Every kind of notice one app sends, in the order the notices page lists them: accounts'
    own and those each package registered (composition.py)."""

    def register(self, kinds: dict[str, Kind]) -> None:
        for name, kind in kinds.items():
            if name in self:
                raise ValueError(f"two packages declare the notice kind {name!r}")
            self[name] = kind


# Where the running app's mails point and the key that signs their links; and its kinds.
LETTERHEAD: Wire[Letterhead] = Wire("accounts.letterhead")
NOTICE_KINDS: Wire[NoticeKinds] = Wire("accounts.notice_kinds")


def letterhead() -> Letterhead:
    return LETTERHEAD.get()


def kinds() -> NoticeKinds:
    return NOTICE_KINDS.get()


def render(kind: str, params: dict[str, Any] | None, locale: str, fallback: str = "") -> str:
    """The notice's sentence in `locale`; `fallback` (a stored text) for a kind or row that
    has no sentence."""
    known = kinds().get(kind)
    if known is None or params is None:
        return fallback
    try:
        return translations(supported(locale)).gettext(known.sentence) % params
    except (KeyError, TypeError, ValueError):
        return fallback


def text_of(notification: Notification, locale: str) -> str:
    return render(notification.kind, notification.params, locale, notification.message)


async def channel_for(user_id: int, kind: str) -> NoticeChannel:
    choice = await NoticeChoice.get_or_none(user_id=user_id, kind=kind)
    return choice.channel if choice is not None else kinds()[kind].default


async def choices(user: User) -> list[tuple[str, Kind, NoticeChannel]]:
    """Every kind a person may choose for, with their current channel, in the app's order (kinds
    sharing a label are chosen together)."""
    chosen = {c.kind: c.channel for c in await NoticeChoice.filter(user_id=user.id)}
    seen: set[str] = set()
    listed = []
    for name, kind in kinds().items():
        if kind.label in seen or not kind.offered_to(user):
            continue
        seen.add(kind.label)
        listed.append((name, kind, chosen.get(name, kind.default)))
    return listed


async def choose(
    user: User,
    kind: str,
    channel: str,
    *,
    source: str = "notices_page",
    locale: str | None = None,
    now: datetime | None = None,
) -> None:
    """Set how `user` is told of `kind` (and of the kinds sharing its label); for a kind whose
    mail needs consent, a change to or from mail is recorded as consent given or withdrawn,
    in the same transaction (`source`: where the person chose; `locale`: the language the
    words were shown in, else the account's). Raises ValidationError for an unknown kind or
    channel."""
    known = kinds()
    if kind not in known:
        raise ValidationError("kind", "is not a kind of notice")
    try:
        wanted = NoticeChannel(channel)
    except ValueError:
        raise ValidationError("channel", "must be inbox, inbox_mail or nothing") from None
    label = known[kind].label
    wording = translations(supported(locale or user.locale or DEFAULT_LOCALE)).gettext
    for name in [n for n, k in known.items() if k.label == label]:
        # Invariant "mail that needs consent goes only with consent on record": the choice
        # and its consent row are written together or not at all.
        async with in_transaction():
            before = await channel_for(user.id, name)
            await NoticeChoice.update_or_create(
                user_id=user.id, kind=name, defaults={"channel": wanted}
            )
            mailed = wanted == NoticeChannel.INBOX_AND_MAIL
            if known[name].consent and mailed != (before == NoticeChannel.INBOX_AND_MAIL):
                await Consent.create(
                    user_id=user.id,
                    purpose=name,
                    granted=mailed,
                    source=source,
                    wording=wording(known[name].consent)[:500],
                    at=now or datetime.now(UTC),
                )


async def choose_each(user: User, wanted: Mapping[str, str], *, locale: str | None = None) -> None:
    """The notices page's form (shown in `locale`): a channel for each kind offered (see
    choices); a kind not given, or given empty, stays as it is. Raises ValidationError for an
    unknown channel."""
    for name, _kind, _channel in await choices(user):
        channel = wanted.get(name)
        if channel:
            await choose(user, name, channel, source="notices_page", locale=locale)


def unsubscribe_token(user_id: int, kind: str) -> str:
    return str(URLSafeSerializer(letterhead().secret, salt="unsubscribe").dumps([user_id, kind]))


def unsubscribe_link(user_id: int, kind: str) -> str:
    return links.absolute_with_token("accounts.unsubscribe", unsubscribe_token(user_id, kind))


def read_unsubscribe(token: str) -> tuple[int, str]:
    """The (user id, kind) a signed unsubscribe link is for. Raises ValidationError."""
    try:
        user_id, kind = URLSafeSerializer(letterhead().secret, salt="unsubscribe").loads(token)
    except (BadSignature, ValueError, TypeError):
        raise ValidationError("token", "is not a valid unsubscribe link") from None
    if not isinstance(user_id, int) or kind not in kinds():
        raise ValidationError("token", "is not a valid unsubscribe link")
    return user_id, kind


async def unsubscribe(token: str) -> tuple[User, str]:
    """A signed link's one click: its kind (and those sharing its label) come to the inbox
    only. Raises ValidationError (a link that is not ours)."""
    user_id, kind = read_unsubscribe(token)
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise ValidationError("token", "is not a valid unsubscribe link")
    await choose(user, kind, NoticeChannel.INBOX.value, source="unsubscribe_link")
    return user, kind


def _bounded(params: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value[:MAX_PARAM] if isinstance(value, str) else value for key, value in params.items()
    }


async def notify(
    user_id: int,
    *,
    kind: str,
    params: dict[str, Any],
    link: str | None = None,
    now: datetime | None = None,
) -> Notification | None:
    """Tell `user_id` of `kind` with `params`: in their inbox, and by mail if they chose so
    and their address is verified (written to the outbox in the caller's transaction).
    Nothing when they chose nothing. Raises KeyError for a kind the app does not know."""
    known = kinds()[kind]
    params = _bounded(params)
    channel = await channel_for(user_id, kind)
    if channel == NoticeChannel.NOTHING:
        return None
    notification = await Notification.create(
        user_id=user_id,
        kind=kind,
        params=params,
        message=render(kind, params, DEFAULT_LOCALE)[:500],
        link=link,
    )
    if channel == NoticeChannel.INBOX_AND_MAIL:
        user = await User.get(id=user_id)
        # An account without an address (made with WeChat or a phone) is told in the inbox
        # only; its mail choice takes effect once an address is added and verified.
        if user.email is not None and user.email_verified_at is not None:
            await _mail(user, notification, known, now or notification.created_at)
    return notification


def mail_footer(
    user_id: int, kind_name: str, locale: str
) -> tuple[mail_layout.Footer, dict[str, str] | None]:
    """What ends every notice mail to `user_id` in `locale`: why they get it and where to
    choose, and for reminder-like kinds a one-click unsubscribe (RFC 8058) with its headers
    (List-Unsubscribe only where the reader can unsubscribe)."""
    _ = translations(locale).gettext
    why = _("You get this mail because you chose to be told of this by mail on Shuyuan.")
    footer = mail_layout.Footer(why=why, choose_url=links.absolute("accounts.notices_page"))
    if not kinds()[kind_name].reminder:
        return footer, None
    unsubscribe = unsubscribe_link(user_id, kind_name)
    # RFC 8058: a mail client may POST "List-Unsubscribe=One-Click" to the https link.
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return mail_layout.Footer(why=why, choose_url=footer.choose_url, stop_url=unsubscribe), headers


async def _extras(kind: Kind, notification: Notification, locale: str) -> MailExtras:
    """What the kind's mail hook adds, read in a savepoint: a hook that fails (a bug, a
    database error) leaves the mail its sentence and never fails the change that notifies,
    a payment's settlement among them."""
    if kind.mail is None:
        return MailExtras()
    try:
        async with in_transaction():
            return await kind.mail(notification, locale) or MailExtras()
    except Exception:
        log.exception("notice %s: its mail's details could not be read", notification.kind)
        return MailExtras()


async def _mail(user: User, notification: Notification, kind: Kind, now: datetime) -> None:
    locale = supported(user.locale)
    _ = translations(locale).gettext
    params = notification.params or {}
    sentence = render(notification.kind, params, locale, notification.message)
    link = links.join(notification.link) if notification.link else links.absolute("site.home")
    footer, headers = mail_footer(user.id, notification.kind, locale)
    extras = await _extras(kind, notification, locale)
    subject = (_(kind.subject) % params)[:200]
    text, body = mail_layout.compose(
        mail_layout.MailContent(
            heading=subject,
            lines=(sentence, *extras.lines),
            picture_url=extras.picture_url,
            picture_alt=extras.picture_alt,
            rows=extras.rows,
            facts=extras.facts,
            action=(extras.action_label or _("Open it on Shuyuan"), link),
            after=extras.after,
            links=extras.links,
            preheader=sentence,
        ),
        footer,
        locale=locale,
        subject=subject,
    )
    assert user.email is not None  # notify mails verified addresses only
    await outbox.enqueue(
        channel="mail",
        recipient=user.email,
        subject=subject,
        text=text,
        html=body,
        headers=headers,
        key=f"notice:{notification.id}",
        now=now,
    )

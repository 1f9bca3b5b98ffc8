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

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from accounts import outbox
from accounts.models import NoticeChannel, NoticeChoice, Notification, User
from errors import ValidationError
from translation import DEFAULT_LOCALE, N_, supported, translations


@dataclass(frozen=True)
class Kind:
    sentence: str  # message id, with the notice's %(params)s
    subject: str  # the mail's subject, a message id with the same params
    default: NoticeChannel
    reminder: bool = False  # a reminder-like mail: one-click unsubscribe
    label: str = ""  # what the choice is called on the notices page


KINDS: dict[str, Kind] = {
    "welcome": Kind(
        N_(
            "%(name)s, welcome to Shuyuan. Every morning at 6:30 a sixty-second voice message waits for you."
        ),
        N_("Welcome to Shuyuan"),
        NoticeChannel.INBOX,
        label=N_("Welcome"),
    ),
    "mention": Kind(
        N_("%(author)s mentioned you in “%(title)s”"),
        N_("%(author)s mentioned you"),
        NoticeChannel.INBOX,
        reminder=True,
        label=N_("Mentions"),
    ),
    "reply": Kind(
        N_("%(author)s replied to your post “%(title)s”"),
        N_("A reply to “%(title)s”"),
        NoticeChannel.INBOX,
        reminder=True,
        label=N_("Replies to my posts"),
    ),
    "order_paid": Kind(
        N_("Order #%(order)s is paid (%(amount)s); it ships soon."),
        N_("Receipt for order #%(order)s"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Receipts"),
    ),
    "order_shipped": Kind(
        N_("Order #%(order)s has shipped; tracking number %(tracking)s."),
        N_("Order #%(order)s has shipped"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Shipping"),
    ),
    "order_delivered": Kind(
        N_("Order #%(order)s was delivered."),
        N_("Order #%(order)s was delivered"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Delivery"),
    ),
    "refund_approved": Kind(
        N_("Your refund for order #%(order)s is approved; the money is on its way back."),
        N_("Order #%(order)s: refund approved"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Refunds"),
    ),
    "refund_refused": Kind(
        N_("Your refund request for order #%(order)s was refused: %(note)s"),
        N_("Order #%(order)s: refund refused"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Refunds"),
    ),
    "order_paid_late": Kind(
        N_(
            "The payment for order #%(order)s arrived after it was cancelled; the items were still there, so the order is back and paid."
        ),
        N_("Order #%(order)s is paid after all"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Late payments"),
    ),
    "order_refunded_late": Kind(
        N_(
            "The payment for order #%(order)s arrived after it was cancelled and the items could not be kept; the money has been refunded in full."
        ),
        N_("Order #%(order)s: your money is refunded"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Late payments"),
    ),
    "membership_granted": Kind(
        N_("Your membership is valid until %(date)s."),
        N_("Your Shuyuan membership"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Receipts"),
    ),
    "renewal_reminder": Kind(
        N_("Your membership ends on %(date)s: renew it."),
        N_("Your membership ends on %(date)s"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Renewal reminders"),
    ),
    "seat_offered": Kind(
        N_("A seat in “%(window)s” is yours for 10 minutes: enroll now."),
        N_("A seat is waiting for you"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Waitlist seats"),
    ),
    "window_open": Kind(
        N_("Enrollment for “%(window)s” is open."),
        N_("Enrollment for “%(window)s” is open"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Enrollment opening"),
    ),
    "enrollment_paid_late": Kind(
        N_(
            "Your payment for “%(window)s” arrived after the seat was released; a seat was still free, so it is yours and your membership is active."
        ),
        N_("Your seat in “%(window)s” is yours after all"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Late payments"),
    ),
    "enrollment_refunded_late": Kind(
        N_(
            "Your payment for “%(window)s” arrived after the seat was released and no seat was left; the money has been refunded in full."
        ),
        N_("“%(window)s”: your money is refunded"),
        NoticeChannel.INBOX_AND_MAIL,
        label=N_("Late payments"),
    ),
    "drop_open": Kind(
        N_("“%(title)s” is on sale now."),
        N_("“%(title)s” is on sale now"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Drop reminders"),
    ),
    "raffle_won": Kind(
        N_("You won the raffle for “%(title)s”: buy before %(time)s (Beijing time)."),
        N_("You won the raffle for “%(title)s”"),
        NoticeChannel.INBOX_AND_MAIL,
        reminder=True,
        label=N_("Raffle results"),
    ),
}
MAX_PARAM = 200  # characters of one parameter (a post title, a name)


@dataclass(frozen=True)
class Letterhead:
    """What a mail needs from the settings: where links point and the key that signs them."""

    public_url: str
    secret: str


_letterhead = Letterhead("http://127.0.0.1:8000", "")


def configure(letterhead: Letterhead) -> None:
    """Set where mails' links point and the signing key (app and worker start-up)."""
    global _letterhead
    _letterhead = letterhead


def letterhead() -> Letterhead:
    return _letterhead


def render(kind: str, params: dict[str, Any] | None, locale: str, fallback: str = "") -> str:
    """The notice's sentence in `locale`; `fallback` (a stored text) for a kind or row that
    has no sentence."""
    known = KINDS.get(kind)
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
    return choice.channel if choice is not None else KINDS[kind].default


async def choices(user: User) -> list[tuple[str, Kind, NoticeChannel]]:
    """Every kind a person may choose for, with their current channel, in KINDS' order (kinds
    sharing a label are chosen together)."""
    chosen = {c.kind: c.channel for c in await NoticeChoice.filter(user_id=user.id)}
    seen: set[str] = set()
    listed = []
    for name, kind in KINDS.items():
        if kind.label in seen:
            continue
        seen.add(kind.label)
        listed.append((name, kind, chosen.get(name, kind.default)))
    return listed


async def choose(user: User, kind: str, channel: str) -> None:
    """Set how `user` is told of `kind` (and of the kinds sharing its label). Raises
    ValidationError for an unknown kind or channel."""
    if kind not in KINDS:
        raise ValidationError("kind", "is not a kind of notice")
    try:
        wanted = NoticeChannel(channel)
    except ValueError:
        raise ValidationError("channel", "must be inbox, inbox_mail or nothing") from None
    label = KINDS[kind].label
    for name in [n for n, k in KINDS.items() if k.label == label]:
        await NoticeChoice.update_or_create(
            user_id=user.id, kind=name, defaults={"channel": wanted}
        )


def unsubscribe_token(user_id: int, kind: str) -> str:
    return str(URLSafeSerializer(_letterhead.secret, salt="unsubscribe").dumps([user_id, kind]))


def unsubscribe_link(user_id: int, kind: str) -> str:
    return (
        f"{_letterhead.public_url.rstrip('/')}/mail/unsubscribe/{unsubscribe_token(user_id, kind)}"
    )


def read_unsubscribe(token: str) -> tuple[int, str]:
    """The (user id, kind) a signed unsubscribe link is for. Raises ValidationError."""
    try:
        user_id, kind = URLSafeSerializer(_letterhead.secret, salt="unsubscribe").loads(token)
    except (BadSignature, ValueError, TypeError):
        raise ValidationError("token", "is not a valid unsubscribe link") from None
    if not isinstance(user_id, int) or kind not in KINDS:
        raise ValidationError("token", "is not a valid unsubscribe link")
    return user_id, kind


async def unsubscribe(token: str) -> tuple[User, str]:
    """A signed link's one click: its kind (and those sharing its label) come to the inbox
    only. Raises ValidationError (a link that is not ours)."""
    user_id, kind = read_unsubscribe(token)
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise ValidationError("token", "is not a valid unsubscribe link")
    await choose(user, kind, NoticeChannel.INBOX.value)
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
    Nothing when they chose nothing. Raises KeyError for a kind that is not in KINDS."""
    known = KINDS[kind]
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
        if user.email_verified_at is not None:
            await _mail(user, notification, known, now or notification.created_at)
    return notification


async def _mail(user: User, notification: Notification, kind: Kind, now: datetime) -> None:
    locale = supported(user.locale)
    _ = translations(locale).gettext
    params = notification.params or {}
    sentence = render(notification.kind, params, locale, notification.message)
    base = _letterhead.public_url.rstrip("/")
    link = f"{base}{notification.link}" if notification.link else base
    settings_link = f"{base}/account/notices"
    why = _("You get this mail because you chose to be told by mail. Choose what you are told:")
    text = f"{sentence}\n\n{link}\n\n--\n{why}\n{settings_link}\n"
    body = (
        f"<p>{html.escape(sentence)}</p>"
        f'<p><a href="{html.escape(link)}">{html.escape(link)}</a></p>'
        f'<hr><p><small>{html.escape(why)} <a href="{settings_link}">{settings_link}</a>'
    )
    headers = None
    if kind.reminder:
        unsubscribe = unsubscribe_link(user.id, notification.kind)
        stop = _("Stop these mails (one click):")
        text += f"{stop}\n{unsubscribe}\n"
        body += f'<br>{html.escape(stop)} <a href="{html.escape(unsubscribe)}">{html.escape(unsubscribe)}</a>'
        # RFC 8058: a mail client may POST "List-Unsubscribe=One-Click" to the https link.
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    body += "</small></p>"
    await outbox.enqueue(
        channel="mail",
        recipient=user.email,
        subject=(_(kind.subject) % params)[:200],
        text=text,
        html=body,
        headers=headers,
        key=f"notice:{notification.id}",
        now=now,
    )

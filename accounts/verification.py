"""Showing that an email address is its owner's: a signed link mailed to it.

The link carries the account and the address it was sent to, signed with the secret key
(itsdangerous), and works for VERIFY_FOR; opening it marks the account (User.email_verified_at),
which lets notices go out by mail (accounts.notices). Nothing else waits on it. A mail is sent
on registration and again on request, at most one per account and hour (the outbox's key).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from tortoise.transactions import in_transaction

import links
from accounts import mail_layout, notices, outbox
from accounts.errors import VerificationExpired, VerificationNotFound
from accounts.models import User
from translation import supported, translations

VERIFY_FOR = timedelta(days=3)
_SALT = "verify-email"


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(notices.letterhead().secret, salt=_SALT)


async def send_verification(user: User, *, now: datetime) -> None:
    """Mail `user` a link that verifies their address (in their language), in the caller's
    transaction; at most one per hour (a second ask within the hour adds nothing)."""
    if user.email is None or user.email_verified_at is not None:
        return  # nothing to verify (an account made with WeChat or a phone has no address)
    token = _signer().dumps([user.id, user.email])
    link = links.absolute_with_token("accounts.verify_email", token)
    _ = translations(supported(user.locale)).gettext
    intro = _("Welcome to Shuyuan. Open this link to show that this address is yours.")
    later = _("The link works for three days. If you did not make an account, ignore this mail.")
    subject = _("Verify your email address")
    text, body = mail_layout.account_mail(
        mail_layout.MailContent(
            heading=subject,
            lines=(intro,),
            action=(_("Verify this address"), link),
            after=(later,),
            preheader=intro,
        ),
        locale=supported(user.locale),
        subject=subject,
    )
    await outbox.enqueue(
        channel="mail",
        recipient=user.email,
        subject=subject,
        text=text,
        html=body,
        key=f"verify:{user.id}:{now:%Y%m%d%H}",
        now=now,
    )


async def resend_verification(user: User, *, now: datetime) -> None:
    """send_verification in a transaction of its own: the "send a new link" of the account
    page and of the API."""
    async with in_transaction():
        await send_verification(user, now=now)


async def verify(token: str, *, now: datetime) -> User:
    """Mark the account of a verification link. Raises VerificationNotFound (not our link),
    VerificationExpired (too old, or for an address the account no longer has)."""
    try:
        user_id, email = _signer().loads(token[:500], max_age=int(VERIFY_FOR.total_seconds()))
    except SignatureExpired:
        raise VerificationExpired() from None
    except (BadSignature, ValueError, TypeError):
        raise VerificationNotFound() from None
    user = await User.get_or_none(id=user_id) if isinstance(user_id, int) else None
    if user is None:
        raise VerificationNotFound()
    if user.email != email:
        raise VerificationExpired()
    if user.email_verified_at is None:
        await User.filter(id=user.id, email_verified_at__isnull=True).update(email_verified_at=now)
        user.email_verified_at = now
    return user

"""A forgotten password: a single-use, expiring link sent by mail, and the new password.

Asking never says whether an account exists: the same answer either way, limits per email and
per address count both, and the request only records the ask, so it takes the same time; a
job looks the account up and mails the link (accounts.requested_mail). The link carries a
random token of which only the digest is kept; it works once, for RESET_FOR. Setting the new
password ends every session and API token of the account: whoever had the old password keeps
no way in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

import links
from accounts import mail_layout, outbox, sessions, sign_in_methods
from accounts.errors import ResetExpired, ResetNotFound
from accounts.models import MailRequest, PasswordReset, User
from accounts.services import hash_password, normalize_email, validate_password
from errors import RateLimited
from ratelimit import Counter, Limit, seconds_left
from translation import supported, translations

RESET_FOR = timedelta(hours=1)
RESETS_PER_EMAIL = Limit(attempts=3, window_seconds=3600)
RESETS_PER_ADDRESS = Limit(attempts=10, window_seconds=3600)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_reset(
    *, email: str, address: str, counter: Counter, locale: str, now: datetime
) -> None:
    """Ask for a reset link by mail (in `locale`). Raises RateLimited past the limits, whether
    or not the account exists. The request only records the ask: a job looks the account up
    and mails it (send_reset_link, through accounts.requested_mail), so the answer takes the
    same time whether or not an account has this email."""
    wanted = normalize_email(email)[:320]
    for key, limit in ((f"reset-email:{wanted}", RESETS_PER_EMAIL),
                       (f"reset-addr:{address}", RESETS_PER_ADDRESS)):  # fmt: skip
        if await counter.hit(key, limit) > limit.attempts:
            raise RateLimited(seconds_left(limit), "Too many reset requests; try again later.")
    await MailRequest.create(kind="reset", email=wanted, locale=locale, created_at=now)


async def send_reset_link(user: User, locale: str, now: datetime) -> None:
    """Mail `user` a new reset link (the job's half of request_reset); nothing for an account
    without an address (the job finds accounts by their address, so only a race gets here),
    nor for one made with WeChat or a phone whose address is not proved yet: whoever has
    that address (a typo's owner) must not get a password to it. Its owner signs in the way
    they made it, and proves the address from the account page."""
    if user.email is None:
        return
    if user.email_verified_at is None and await sign_in_methods.made_with_identity(user):
        return
    token = secrets.token_urlsafe(32)
    link = links.absolute_with_token("accounts.reset_page", token)
    _ = translations(supported(locale)).gettext
    async with in_transaction():
        reset = await PasswordReset.create(
            user_id=user.id, token_hash=_digest(token), expires_at=now + RESET_FOR, created_at=now
        )
        intro = _("Someone asked to set a new password for your Shuyuan account.")
        action = _("Open this link within an hour to choose a new password.")
        ignore = _("If it was not you, ignore this mail; your password stays as it is.")
        subject = _("Set a new Shuyuan password")
        text, body = mail_layout.account_mail(
            mail_layout.MailContent(
                heading=subject,
                lines=(intro, action),
                action=(_("Choose a new password"), link),
                after=(ignore,),
                preheader=intro,
            ),
            locale=supported(locale),
            subject=subject,
        )
        await outbox.enqueue(
            channel="mail",
            recipient=user.email,
            subject=subject,
            text=text,
            html=body,
            key=f"password-reset:{reset.id}",
            now=now,
        )


async def reset_for(token: str, *, now: datetime) -> PasswordReset:
    """The live reset of this token. Raises ResetNotFound (no such link), ResetExpired (used
    or expired)."""
    if not 20 <= len(token) <= 100:
        raise ResetNotFound()
    reset = await PasswordReset.get_or_none(token_hash=_digest(token)).select_related("user")
    if reset is None:
        raise ResetNotFound()
    if reset.used_at is not None or reset.expires_at <= now:
        raise ResetExpired()
    return reset


async def reset_password(*, token: str, password: str, now: datetime) -> User:
    """Set the account's new password through its reset link, once. Raises ResetNotFound,
    ResetExpired, WeakPassword. Every session and API token of the account ends."""
    reset = await reset_for(token, now=now)
    user = reset.user
    validate_password(password, field="password", user_inputs=[user.email or ""])
    password_hash = await hash_password(password)
    async with in_transaction():
        # Invariant "a link works once": only the request that marks it used goes on.
        if not await PasswordReset.filter(id=reset.id, used_at=None).update(used_at=now):
            raise ResetExpired()
        await User.filter(id=user.id).update(password_hash=password_hash)
        await PasswordReset.filter(user_id=user.id, used_at=None).update(used_at=now)
        await sessions.end_all_but(user.id, keep_session_id=None, now=now)
        # The link proves the mailbox. For an account registered with this address and never
        # proved, it is the first proof: the address's owner takes the account as it is,
        # without the ways in added before (who registered an address that was not theirs,
        # then linked their WeChat or phone, keeps nothing); they are told what went. One
        # conditional UPDATE decides, so a verification opened meanwhile keeps them.
        first_proof = (
            user.email_verified_at is None
            and not await sign_in_methods.made_with_identity(user)
            and await User.filter(id=user.id, email_verified_at=None).update(email_verified_at=now)
        )
        if first_proof:
            await sign_in_methods.remove_identities(user.id, now=now)
            user.email_verified_at = now
    user.password_hash = password_hash
    return user

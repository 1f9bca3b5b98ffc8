"""Known devices and one-time sign-in codes: a stranger's guesses cannot lock the owner out.

OWASP's "slow down online guessing attacks with device cookies": a browser or API client that
signed in to an account holds a device token, signed with the secret key, naming the account
(a digest of its email) and a random nonce. A sign-in attempt that presents a valid one is
counted by that device, not by its address, so five wrong passwords from a stranger behind the
owner's carrier NAT, office or campus network do not stop the owner's own browser; a device
that keeps failing is stopped by its own limit. Attempts without one keep the per-address and
per-account limits (accounts.services.authenticate). An untrusted browser refused on a
throttled address may still sign in: it asks for a one-time code, mailed to the account, and
signs in with the code and the password.

The token is not a session: it proves only that this client once knew the password, so it
buys a separate counter, never access. docs: the security part of the README.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from tortoise.transactions import in_transaction

from accounts import outbox
from accounts.models import LoginCode, MailRequest, User
from errors import RateLimited
from ratelimit import Counter, Limit, seconds_left
from translation import supported, translations

DEVICE_FOR = timedelta(days=365)
DEVICE_COOKIE = "sy_device"
FAILED_LOGINS_PER_DEVICE = Limit(attempts=5, window_seconds=15 * 60)
_SALT = "device-token"

CODE_FOR = timedelta(minutes=15)
CODE_DIGITS = 6
CODES_PER_EMAIL = Limit(attempts=3, window_seconds=3600)
CODES_PER_ADDRESS = Limit(attempts=10, window_seconds=3600)
# Wrong codes for one account, from anywhere: a million codes, five tries a quarter hour.
WRONG_CODES_PER_ACCOUNT = Limit(attempts=5, window_seconds=15 * 60)


def _account_digest(normalized_email: str) -> str:
    return hashlib.sha256(normalized_email.encode()).hexdigest()[:32]


def _signer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def issue_device_token(normalized_email: str, *, secret_key: str) -> str:
    """A new device token for the account with this (normalized) email."""
    return _signer(secret_key).dumps([_account_digest(normalized_email), secrets.token_hex(16)])


def device_nonce(token: str | None, normalized_email: str, *, secret_key: str) -> str | None:
    """The device's nonce if `token` is a genuine, unexpired device token of this account."""
    if not token or len(token) > 300:
        return None
    try:
        account, nonce = _signer(secret_key).loads(token, max_age=int(DEVICE_FOR.total_seconds()))
    except (BadSignature, ValueError, TypeError):
        return None
    if account != _account_digest(normalized_email) or not isinstance(nonce, str):
        return None
    return nonce


def _code_digest(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{code}".encode()).hexdigest()


async def request_login_code(
    *, normalized_email: str, address: str, counter: Counter, locale: str, now: datetime
) -> None:
    """Ask for a one-time sign-in code by mail. The same answer, and the same work, whether or
    not an account has this email: the request only records it, and a job looks the account
    up (accounts.requested_mail). Raises RateLimited past the limits per email and address."""
    for key, limit in ((f"code-email:{normalized_email}", CODES_PER_EMAIL),
                       (f"code-addr:{address}", CODES_PER_ADDRESS)):  # fmt: skip
        if await counter.hit(key, limit) > limit.attempts:
            raise RateLimited(seconds_left(limit), "Too many code requests; try again later.")
    await MailRequest.create(
        kind="login_code", email=normalized_email[:320], locale=locale, created_at=now
    )


async def send_login_code(user: User, locale: str, now: datetime) -> None:
    """Mail `user` a new one-time sign-in code (the job's half of request_login_code)."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    _ = translations(supported(locale)).gettext
    intro = _("Someone is signing in to your Shuyuan account from a new browser. The code:")
    ignore = _("It works once, for 15 minutes. If it was not you, ignore this mail.")
    async with in_transaction():
        row = await LoginCode.create(
            user_id=user.id,
            code_hash=_code_digest(user.id, code),
            expires_at=now + CODE_FOR,
            created_at=now,
        )
        await outbox.enqueue(
            channel="mail",
            recipient=user.email,
            subject=_("Your Shuyuan sign-in code: %(code)s") % {"code": code},
            text=f"{intro}\n\n{code}\n\n{ignore}\n",
            html=f"<p>{intro}</p><p><strong>{code}</strong></p><p>{ignore}</p>",
            key=f"login-code:{row.id}",
            now=now,
        )


async def code_is_live(user: User | None, code: str, *, counter: Counter, now: datetime) -> bool:
    """Whether `code` is a live one-time code of `user` (not used, not expired). Wrong codes
    are counted per account; past WRONG_CODES_PER_ACCOUNT every code is refused for a while."""
    key = f"login:wrong-code:{user.id if user else 'none'}"
    if await counter.count(key, WRONG_CODES_PER_ACCOUNT) >= WRONG_CODES_PER_ACCOUNT.attempts:
        raise RateLimited(seconds_left(WRONG_CODES_PER_ACCOUNT), "Too many wrong codes.")
    live = (
        user is not None
        and code.isdigit()
        and len(code) == CODE_DIGITS
        and await LoginCode.filter(
            user_id=user.id,
            code_hash=_code_digest(user.id, code),
            used_at=None,
            expires_at__gt=now,
        ).exists()
    )
    if not live:
        await counter.hit(key, WRONG_CODES_PER_ACCOUNT)
    return live


async def use_code(user: User, code: str, *, now: datetime) -> bool:
    """Spend a live code once (after the password matched). False if another request did."""
    used = await LoginCode.filter(
        user_id=user.id, code_hash=_code_digest(user.id, code), used_at=None, expires_at__gt=now
    ).update(used_at=now)
    return used == 1

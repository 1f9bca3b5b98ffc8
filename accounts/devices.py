"""Known devices and one-time sign-in codes: a stranger's guesses cannot lock the owner out.

OWASP's "slow down online guessing attacks with device cookies": a browser or API client that
signed in to an account holds a device token, signed with the secret key, naming the account
(a digest of its email, or of its number when it has none) and a random nonce. A sign-in
attempt that presents a valid one is counted by that device, not by its address, so five
wrong passwords from a stranger behind the owner's carrier NAT, office or campus network do not
stop the owner's own browser; a device that keeps failing is stopped by its own limit.
Attempts without one keep the per-address and per-account limits
(accounts.services.authenticate). An untrusted browser refused on a throttled address may
still sign in: it asks for a one-time code, mailed to the account, and signs in with the code
and the password.

The token is not a session: it proves only that this client once knew the password, so it
buys a separate counter, never access; a new password (a change, a reset) voids every token
made before it. A code and the password are one credential: a wrong code or a wrong password
get the same answer, a code has CODE_TRIES, and codes are guessed by nobody at scale (wrong
codes are limited per account and address; past WRONG_CODES_PER_ACCOUNT from everywhere, the
account's live codes are cancelled). The reasoning: the security part of the README.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from accounts import mail_layout, outbox
from accounts.identities import normalize_email
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
CODE_TRIES = 3  # attempts that present one live code, right password or not
# Code requests: per account and address (a stranger elsewhere cannot use up the owner's), a
# generous cap per account from everywhere, and per address across accounts.
CODES_PER_PAIR = Limit(attempts=3, window_seconds=3600)
CODES_PER_EMAIL = Limit(attempts=20, window_seconds=3600)
CODES_PER_ADDRESS = Limit(attempts=10, window_seconds=3600)
# Wrong codes: per account and address; from everywhere, past this many the account's live
# codes are cancelled (a million codes, at most a few live: guessing one stays hopeless).
WRONG_CODES_PER_PAIR = Limit(attempts=10, window_seconds=15 * 60)
WRONG_CODES_PER_ACCOUNT = Limit(attempts=50, window_seconds=15 * 60)
WRONG_CODES_PER_ADDRESS = Limit(attempts=100, window_seconds=15 * 60)  # across accounts


def _account_digest(user: User) -> str:
    """Names the account in a token: by its email (so tokens made before accounts could lack
    one stay valid), else by its number (an account made with WeChat or a phone)."""
    name = user.email if user.email is not None else f"user:{user.id}"
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def _password_epoch(password_hash: str) -> str:
    """Changes with the password: a token made before a new password is void."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _signer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def issue_device_token(user: User, *, secret_key: str) -> str:
    """A new device token for `user`, valid until their password changes."""
    return _signer(secret_key).dumps(
        [_account_digest(user), secrets.token_hex(16), _password_epoch(user.password_hash)]
    )


def device_nonce(token: str | None, user: User | None, *, secret_key: str) -> str | None:
    """The device's nonce if `token` is a genuine, unexpired device token of `user` made since
    their password was last set; None otherwise."""
    if not token or len(token) > 300 or user is None:
        return None
    try:
        account, nonce, epoch = _signer(secret_key).loads(
            token, max_age=int(DEVICE_FOR.total_seconds())
        )
    except (BadSignature, ValueError, TypeError):
        return None
    if (
        account != _account_digest(user)
        or epoch != _password_epoch(user.password_hash)
        or not isinstance(nonce, str)
    ):
        return None
    return nonce


def _code_digest(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{code}".encode()).hexdigest()


async def request_login_code(
    *, email: str, address: str, counter: Counter, locale: str, now: datetime
) -> None:
    """Ask for a one-time sign-in code by mail. The same answer, and the same work, whether or
    not an account has this email: the request only records it, and a job looks the account
    up (accounts.requested_mail). Raises RateLimited past the limits per email and address."""
    normalized_email = normalize_email(email)[:320]
    for key, limit in ((f"code-pair:{normalized_email}:{address}", CODES_PER_PAIR),
                       (f"code-email:{normalized_email}", CODES_PER_EMAIL),
                       (f"code-addr:{address}", CODES_PER_ADDRESS)):  # fmt: skip
        if await counter.hit(key, limit) > limit.attempts:
            raise RateLimited(seconds_left(limit), "Too many code requests; try again later.")
    await MailRequest.create(
        kind="login_code", email=normalized_email, locale=locale, created_at=now
    )


async def send_login_code(user: User, locale: str, now: datetime) -> None:
    """Mail `user` a new one-time sign-in code (the job's half of request_login_code, which
    found the account by its email: one without an address is never asked for)."""
    if user.email is None:
        return
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    _ = translations(supported(locale)).gettext
    intro = _("Someone is signing in to your Shuyuan account from a new browser. The code:")
    ignore = _("It works once, for 15 minutes. If it was not you, ignore this mail.")
    subject = _("Your Shuyuan sign-in code: %(code)s") % {"code": code}
    await mail_code(
        user, code, _code_digest(user.id, code), purpose="sign_in", subject=subject,
        intro=intro, ignore=ignore, expires_at=now + CODE_FOR, now=now, locale=locale,
    )  # fmt: skip


async def mail_code(
    user: User,
    code: str,
    code_hash: str,
    *,
    purpose: str,
    subject: str,
    intro: str,
    ignore: str,
    expires_at: datetime,
    now: datetime,
    locale: str,
    only_live: bool = False,
) -> None:
    """Keep the digest of a code mailed to `user` (a LoginCode of `purpose`: "sign_in" here,
    "link" for accounts.link_codes) and put the mail in the outbox, in one transaction.
    `only_live`: the account's earlier live codes of `purpose` are void from now on (its
    row locked first, so two requests at once leave one live code)."""
    text, body = mail_layout.account_mail(
        mail_layout.MailContent(heading=subject, lines=(intro,), code=code, after=(ignore,)),
        locale=supported(locale),
        subject=subject,
    )
    async with in_transaction():
        if only_live:
            await User.select_for_update().get(id=user.id)
            await LoginCode.filter(user_id=user.id, purpose=purpose, used_at=None).update(
                used_at=now
            )
        row = await LoginCode.create(
            user_id=user.id, code_hash=code_hash, purpose=purpose, expires_at=expires_at,
            created_at=now,
        )  # fmt: skip
        await outbox.enqueue(
            channel="mail",
            recipient=user.email or "",
            subject=subject,
            text=text,
            html=body,
            key=f"{'login' if purpose == 'sign_in' else purpose}-code:{row.id}",
            now=now,
        )


async def code_is_live(
    user: User | None,
    code: str,
    *,
    normalized_email: str,
    address: str,
    counter: Counter,
    now: datetime,
) -> bool:
    """Whether `code` is a live one-time code of `user` (not used, not expired, tries left),
    counting this try. Raises RateLimited past WRONG_CODES_PER_PAIR for this account and
    address; past WRONG_CODES_PER_ACCOUNT from everywhere the account's codes are cancelled.
    Counted by email, so an email without an account is answered as one with an account."""
    pair_key = f"login:wrong-code-pair:{normalized_email}:{address}"
    address_key = f"login:wrong-code-address:{address}"
    for key, limit in ((pair_key, WRONG_CODES_PER_PAIR), (address_key, WRONG_CODES_PER_ADDRESS)):
        if await counter.count(key, limit) >= limit.attempts:
            raise RateLimited(seconds_left(limit), "Too many wrong codes.")
    row = None
    if user is not None and code.isdigit() and len(code) == CODE_DIGITS:
        row = await LoginCode.get_or_none(
            user_id=user.id, code_hash=_code_digest(user.id, code), used_at=None, expires_at__gt=now
        )
    if row is not None:
        # Invariant "a code has CODE_TRIES": each try spends one, the right password or not.
        tried = await LoginCode.filter(id=row.id, used_at=None, tries__lt=CODE_TRIES).update(
            tries=F("tries") + 1
        )
        return tried == 1
    await counter.hit(pair_key, WRONG_CODES_PER_PAIR)
    await counter.hit(address_key, WRONG_CODES_PER_ADDRESS)
    wrong = await counter.hit(f"login:wrong-code:{normalized_email}", WRONG_CODES_PER_ACCOUNT)
    if wrong > WRONG_CODES_PER_ACCOUNT.attempts and user is not None:
        await LoginCode.filter(user_id=user.id, used_at=None).update(used_at=now)
    return False


async def use_code(user: User, code: str, *, now: datetime) -> bool:
    """Spend a live code once (after the password matched). False if another request did."""
    used = await LoginCode.filter(
        user_id=user.id, code_hash=_code_digest(user.id, code), used_at=None, expires_at__gt=now
    ).update(used_at=now)
    return used == 1


async def prune_codes(*, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
    """Delete the mailed codes (sign-in and WeChat link codes) that expired more than `keep`
    ago; how many went (the accounts.prune_codes job)."""
    return await LoginCode.filter(expires_at__lt=now - keep).delete()

"""A code mailed to an account, proving its mailbox, so a new way in (WeChat) can be linked to
it by someone who has no password or does not remember it.

Asked for like a sign-in code (accounts.devices.request_login_code): the request only records
the ask (accounts.requested_mail mails it), so its answer and its work are the same whether or
not an account has the email. Only the code's digest is kept,
salted with its purpose (a sign-in code is never a link code); it works once, for LINK_CODE_FOR,
and every wrong code presented for the account spends one of its LINK_CODE_TRIES; an account
has one live link code at a time (a new one voids the last), asked for at most
LINK_CODES_PER_EMAIL times an hour; wrong codes are also limited per email and address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from tortoise.expressions import F

from accounts import devices
from accounts.errors import BadCode
from accounts.identities import normalize_email
from accounts.models import LoginCode, MailRequest, User
from errors import RateLimited
from ratelimit import Counter, Limit, seconds_left
from translation import supported, translations

LINK_CODE_FOR = timedelta(minutes=15)
LINK_CODE_DIGITS = 6
LINK_CODE_TRIES = 3
MAIL_KIND = "link_code"
LINK_CODES_PER_PAIR = Limit(attempts=3, window_seconds=3600)  # per email and address
LINK_CODES_PER_ADDRESS = Limit(attempts=10, window_seconds=3600)
# Per email from everywhere: with one live code at a time and LINK_CODE_TRIES each, at most
# 30 guesses an hour reach an account's codes, however many addresses a guesser has.
LINK_CODES_PER_EMAIL = Limit(attempts=10, window_seconds=3600)
WRONG_LINK_CODES_PER_PAIR = Limit(attempts=10, window_seconds=15 * 60)
WRONG_LINK_CODES_PER_ADDRESS = Limit(attempts=50, window_seconds=15 * 60)


def _digest(user_id: int, code: str) -> str:
    return hashlib.sha256(f"link:{user_id}:{code}".encode()).hexdigest()


async def request_link_code(
    *, email: str, address: str, counter: Counter, locale: str, now: datetime
) -> None:
    """Ask for a code mailed to the account with this email. The same answer and work whether
    or not it exists. Raises RateLimited past the limits per (email, address) and address."""
    normalized = normalize_email(email)[:320]
    for key, limit in (
        (f"link-code-pair:{normalized}:{address}", LINK_CODES_PER_PAIR),
        (f"link-code-email:{normalized}", LINK_CODES_PER_EMAIL),
        (f"link-code-addr:{address}", LINK_CODES_PER_ADDRESS),
    ):
        if await counter.hit(key, limit) > limit.attempts:
            raise RateLimited(seconds_left(limit), "Too many code requests; try again later.")
    await MailRequest.create(kind=MAIL_KIND, email=normalized, locale=locale, created_at=now)


async def send_link_code(user: User, locale: str, now: datetime) -> None:
    """Mail `user` a new link code (accounts.requested_mail's half of request_link_code)."""
    code = f"{secrets.randbelow(10**LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"
    _ = translations(supported(locale)).gettext
    intro = _("Someone is linking a WeChat account to your Shuyuan account. The code:")
    ignore = _("It works once, for 15 minutes. If it was not you, ignore this mail.")
    subject = _("Your Shuyuan code to link WeChat: %(code)s") % {"code": code}
    # One live link code per account (only_live): a new one voids the ones before, so codes
    # asked for from many addresses do not multiply a guess's chances.
    await devices.mail_code(
        user, code, _digest(user.id, code), purpose="link", subject=subject, intro=intro,
        ignore=ignore, expires_at=now + LINK_CODE_FOR, now=now, only_live=True, locale=locale,
    )  # fmt: skip


async def account_with_code(
    *, email: str, code: str, address: str, counter: Counter, now: datetime
) -> User:
    """The account whose mailbox received `code`, the code spent. Raises RateLimited past
    WRONG_LINK_CODES_PER_PAIR or _PER_ADDRESS, BadCode (also for an email nobody has)."""
    normalized = normalize_email(email)[:320]
    pair_key = f"link:wrong-code:{normalized}:{address}"
    address_key = f"link:wrong-code-addr:{address}"
    # Counted before the code is looked at (hit, then check): a burst of guesses sent at once
    # is counted whole. A success forgives this client's own count.
    for key, limit in (
        (pair_key, WRONG_LINK_CODES_PER_PAIR),
        (address_key, WRONG_LINK_CODES_PER_ADDRESS),
    ):
        if await counter.hit(key, limit) > limit.attempts:
            raise RateLimited(seconds_left(limit), "Too many wrong codes.")
    code = code.strip()
    user = await User.get_or_none(email=normalized)
    if user is not None and code.isdigit() and len(code) == LINK_CODE_DIGITS:
        digest = _digest(user.id, code)
        for row in await LoginCode.filter(
            user_id=user.id, purpose="link", used_at=None, expires_at__gt=now
        ):
            if not hmac.compare_digest(row.code_hash, digest):
                continue
            # Invariant "a code works once, within its tries": one conditional UPDATE spends it.
            spent = await LoginCode.filter(
                id=row.id, used_at=None, tries__lt=LINK_CODE_TRIES
            ).update(used_at=now, tries=F("tries") + 1)
            if spent == 1:
                await counter.reset(pair_key)
                await counter.undo(address_key, WRONG_LINK_CODES_PER_ADDRESS)  # not a failure
                return user
    if user is not None:  # a wrong code spends a try of each live link code of the account
        await LoginCode.filter(
            user_id=user.id, purpose="link", used_at=None, expires_at__gt=now
        ).update(tries=F("tries") + 1)
    raise BadCode()

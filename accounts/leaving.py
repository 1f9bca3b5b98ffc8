"""Leaving (注销): a member asks for their account to be erased, proving it is them; every way
in ends at once; a cooling-off follows in which signing in again (or the undo) keeps the
account; after it nobody signs in to it, and the erasure job (privacy.erasure) empties it.

The proof is the password for an account that has one, else a one-time code (a LoginCode of
purpose "leave") mailed to its verified address or texted to its phone number. The API token
that asked keeps working for the cancellation's own endpoints only (to read its state and undo
it): its revoked_at is set to the moment the account is erased, which every other reader of
tokens treats as revoked (accounts.services.user_for_token_digest, accounts_token_owner).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.expressions import F
from tortoise.transactions import in_transaction

import links
from accounts import audit, departures, devices, notices, phones, services
from accounts.errors import (
    AccountClosed,
    AlreadyLeaving,
    NotLeaving,
    NoWayToProve,
    PasswordProves,
    SignInAgain,
    WrongProof,
)
from accounts.models import (
    ApiToken,
    Identity,
    IdentityKind,
    LoginCode,
    NoticeChannel,
    Session,
    User,
)
from accounts.sms import SmsSender
from errors import RateLimited, Unauthorized
from ratelimit import Counter, Limit, seconds_left
from translation import N_, supported, translations

PURPOSE = "leave"  # LoginCode.purpose
CODE_FOR = timedelta(minutes=15)
CODE_DIGITS = 6
CODE_TRIES = 3  # wrong codes a live code survives
CODES_PER_ACCOUNT = Limit(attempts=5, window_seconds=3600)
# Wrong passwords or codes, per account: the caller is signed in already, so this only stops
# someone at an unattended browser from guessing the password.
WRONG_PROOFS_PER_ACCOUNT = Limit(attempts=5, window_seconds=15 * 60)

LEAVING = "leaving"
LEAVING_UNDONE = "leaving_undone"
KINDS: dict[str, notices.Kind] = {
    LEAVING: notices.Kind(
        N_(
            "Your account will be cancelled and its personal data erased on %(date)s "
            "(Beijing time). Every session and app has been signed out. Changed your mind? "
            "Sign in again before then, and nothing is erased."
        ),
        N_("Your Shuyuan account will be cancelled on %(date)s"),
        NoticeChannel.INBOX_AND_MAIL,
    ),
    LEAVING_UNDONE: notices.Kind(
        N_("Your account is no longer being cancelled: welcome back. Nothing was erased."),
        N_("Your Shuyuan account stays"),
        NoticeChannel.INBOX_AND_MAIL,
    ),
}


class Proof(StrEnum):
    """How the owner proves it is them."""

    PASSWORD = "password"  # nosec B105  # a kind of proof
    MAIL = "mail"  # a code mailed to the verified address
    SMS = "sms"  # a code texted to the phone number that signs in
    # A WeChat-only account (no password, address or phone): signing in with WeChat again
    # just now proves it, as WeChat asked the person on their phone (the browser's session or
    # the API token is at most RECENT_SIGN_IN old).
    SIGN_IN = "sign_in"


# How fresh a sign-in proves a WeChat-only account's owner.
RECENT_SIGN_IN = timedelta(minutes=10)


@dataclass(frozen=True)
class ProofWay:
    kind: Proof
    where: str  # the masked address or number a code goes to ("" for the password)


def _masked_email(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


async def proof_way(user: User) -> ProofWay:
    """How `user` proves it is them: the password, else a code by mail to a verified
    address, else by SMS to their phone, else (a WeChat-only account) a fresh sign-in: no
    account is asked to add anything before it may leave (GB/T 35273: no unreasonable
    condition)."""
    if user.has_password:
        return ProofWay(Proof.PASSWORD, "")
    if user.email is not None and user.email_verified_at is not None:
        return ProofWay(Proof.MAIL, _masked_email(user.email))
    phone = await _phone_of(user)
    if phone is not None:
        return ProofWay(Proof.SMS, phones.masked(phone))
    return ProofWay(Proof.SIGN_IN, "")


async def _phone_of(user: User) -> str | None:
    identity = await Identity.filter(user_id=user.id, kind=IdentityKind.PHONE).first()
    return identity.subject if identity else None


def _digest(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{PURPOSE}:{user_id}:{code}".encode()).hexdigest()


async def send_code(
    user: User,
    *,
    now: datetime,
    locale: str,
    counter: Counter,
    sender: SmsSender | None,
    sms_budget: int,
) -> ProofWay:
    """Send `user` a one-time code to prove it is them (one live at a time: a new one voids
    the last), by mail or SMS (proof_way), and say where it went. Raises PasswordProves (an
    account with a password), NoWayToProve, RateLimited past CODES_PER_ACCOUNT or the day's
    SMS budget, SmsUnavailable."""
    way = await proof_way(user)
    if way.kind == Proof.SIGN_IN or (way.kind == Proof.SMS and sender is None):
        raise NoWayToProve()
    if way.kind == Proof.PASSWORD:
        raise PasswordProves()
    key = f"leave-code:{user.id}"
    if await counter.hit(key, CODES_PER_ACCOUNT) > CODES_PER_ACCOUNT.attempts:
        raise RateLimited(
            seconds_left(CODES_PER_ACCOUNT), "Too many codes asked for; wait a while."
        )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    if way.kind == Proof.MAIL:
        _ = translations(supported(locale)).gettext
        await devices.mail_code(
            user, code, _digest(user.id, code), purpose=PURPOSE,
            subject=_("Your Shuyuan code to cancel your account: %(code)s") % {"code": code},
            intro=_("Someone signed in to your account asked to cancel it. The code:"),
            ignore=_("It works once, for 15 minutes. If it was not you, change your password."),
            expires_at=now + CODE_FOR, now=now, locale=locale, only_live=True,
        )  # fmt: skip
        return way
    phone = await _phone_of(user)
    assert phone is not None and sender is not None  # proof_way found it
    async with in_transaction():
        await LoginCode.filter(user_id=user.id, purpose=PURPOSE, used_at=None).update(used_at=now)
        row = await LoginCode.create(
            user_id=user.id, code_hash=_digest(user.id, code), purpose=PURPOSE,
            expires_at=now + CODE_FOR, created_at=now,
        )  # fmt: skip
    try:
        await phones.text_code(phone, code, sender=sender, budget=sms_budget, now=now)
    except Exception:
        await row.delete()  # never sent: it proves nothing
        raise
    return way


async def _code_matches(user: User, code: str, now: datetime) -> bool:
    """Spend `user`'s live leave code if `code` is it; a wrong one spends a try of each."""
    code = code.strip()
    live = LoginCode.filter(
        user_id=user.id, purpose=PURPOSE, used_at=None, expires_at__gt=now, tries__lt=CODE_TRIES
    )
    if code.isdigit() and len(code) == CODE_DIGITS:
        wanted = _digest(user.id, code)
        for row in await live:
            # Invariant "a code works once": one conditional UPDATE spends it.
            if hmac.compare_digest(row.code_hash, wanted) and await LoginCode.filter(
                id=row.id, used_at=None, tries__lt=CODE_TRIES
            ).update(used_at=now, tries=F("tries") + 1):
                return True
    await live.update(tries=F("tries") + 1)
    return False


async def _prove(
    user: User,
    *,
    password: str | None,
    code: str | None,
    signed_in_at: datetime | None,
    counter: Counter,
    now: datetime,
) -> None:
    """Raises RateLimited past WRONG_PROOFS_PER_ACCOUNT, WrongProof, SignInAgain."""
    key = f"leave-wrong:{user.id}"
    if await counter.count(key, WRONG_PROOFS_PER_ACCOUNT) >= WRONG_PROOFS_PER_ACCOUNT.attempts:
        raise RateLimited(seconds_left(WRONG_PROOFS_PER_ACCOUNT), "Too many wrong tries; wait.")
    way = await proof_way(user)
    if way.kind == Proof.PASSWORD:
        proven = await services.password_is(user, password or "")
    elif way.kind == Proof.SIGN_IN:
        if signed_in_at is None or now - signed_in_at > RECENT_SIGN_IN:
            raise SignInAgain()  # not a wrong guess: nothing counted
        proven = True
    else:
        proven = bool(code) and await _code_matches(user, code or "", now)
    if not proven:
        await counter.hit(key, WRONG_PROOFS_PER_ACCOUNT)
        raise WrongProof()
    await counter.reset(key)


async def ask_to_leave(
    user: User,
    *,
    password: str | None,
    code: str | None,
    now: datetime,
    days: int,
    counter: Counter,
    keep_token_digest: str | None = None,
    signed_in_at: datetime | None = None,
) -> datetime:
    """Cancel `user`'s account once the password (or, without one, a code from send_code; for a
    WeChat-only account, `signed_in_at`: when the asking session or token began, at most
    RECENT_SIGN_IN ago) proves it is them: it is erased `days` days from `now`
    (settings.leaving_days), the moment returned. At once, in one transaction: every session is
    ended and every API token revoked, but the token `keep_token_digest` (the API caller's),
    which keeps working for the cancellation's endpoints only until then; an audit entry of ids;
    the owner told (inbox, and mail to a verified address) of the date and how to undo it.
    Raises WrongProof, NoWayToProve, RateLimited, AlreadyLeaving (or AccountClosed)."""
    _check_open(user, now)
    if user.erase_after is not None:
        raise AlreadyLeaving()
    if signed_in_at is None and keep_token_digest is not None:
        token = await ApiToken.filter(user_id=user.id, token_hash=keep_token_digest).first()
        signed_in_at = token.created_at if token else None
    await _prove(
        user, password=password, code=code, signed_in_at=signed_in_at, counter=counter, now=now
    )
    erase_after = now + timedelta(days=days)
    async with in_transaction():
        # Invariant "asked once": of two requests at once, one UPDATE finds it unasked.
        if not await User.filter(id=user.id, erase_after=None, erased_at=None).update(
            erase_after=erase_after
        ):
            raise AlreadyLeaving()
        await Session.filter(user_id=user.id).delete()
        tokens = ApiToken.filter(user_id=user.id, revoked_at=None)
        if keep_token_digest is not None:
            tokens = tokens.exclude(token_hash=keep_token_digest)
            # Revoked at the erasure: until then it opens the cancellation's endpoints only.
            await ApiToken.filter(
                user_id=user.id, token_hash=keep_token_digest, revoked_at=None
            ).update(revoked_at=erase_after)
        await tokens.update(revoked_at=now)
        await audit.record(
            actor=user.id, action="account.leave", object_type="user", object_id=user.id,
            after={"erase_after": erase_after}, now=now,
        )  # fmt: skip
        await notices.notify(
            user.id, kind=LEAVING, params={"date": _shown_date(erase_after)},
            link=links.path("accounts.login_page"), now=now,
        )  # fmt: skip
    user.erase_after = erase_after
    # Beside the database, so that a restore of it cannot forget this (accounts.departures).
    await departures.asked_to_leave(user.id, erase_after)
    return erase_after


def _shown_date(moment: datetime) -> str:
    return moment.astimezone(phones.SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _check_open(user: User, now: datetime) -> None:
    if user.is_closed(now):
        raise AccountClosed()


async def undo_leaving(user: User, *, now: datetime, keep_token_digest: str | None = None) -> None:
    """Keep `user`'s account during its cooling-off: nothing will be erased. The token
    `keep_token_digest` (the API caller undoing it) works again everywhere; any other token
    kept for the cancellation ends. Raises NotLeaving, AccountClosed."""
    _check_open(user, now)
    async with in_transaction():
        # Invariant "undone only before the erasure": the guard is the UPDATE's.
        if not await User.filter(id=user.id, erased_at=None, erase_after__gt=now).update(
            erase_after=None
        ):
            raise NotLeaving()
        kept = ApiToken.filter(user_id=user.id, revoked_at__gt=now)
        if keep_token_digest is not None:
            await kept.filter(token_hash=keep_token_digest).update(revoked_at=None)
            kept = kept.exclude(token_hash=keep_token_digest)
        await kept.update(revoked_at=now)
        await audit.record(
            actor=user.id, action="account.stay", object_type="user", object_id=user.id,
            before={"erase_after": user.erase_after}, now=now,
        )  # fmt: skip
        await notices.notify(user.id, kind=LEAVING_UNDONE, params={}, now=now)
    user.erase_after = None
    await departures.stayed(user.id)


async def come_back(user: User, *, now: datetime) -> bool:
    """What every way of signing in does before it lets `user` in: refused (AccountClosed)
    once the account is closed; during the cooling-off, the cancellation is undone (True:
    the caller says so)."""
    _check_open(user, now)
    if user.erase_after is None:
        return False
    try:
        await undo_leaving(user, now=now)
    except NotLeaving:  # undone by another sign-in just now
        return False
    return True


async def leaving_caller(token: str | None, *, now: datetime) -> User:
    """The owner of `token` for the cancellation's own endpoints: any live token, and the one
    a cancelled account kept. Raises Unauthorized, SessionEnded."""
    user = await services.user_for_token(token, now=now, leaving=True) if token else None
    if user is None:
        raise Unauthorized()
    return user

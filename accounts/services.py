"""Accounts' rules: registration, sign-in with failure limits, API tokens, notifications."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from accounts import (
    consents,
    devices,
    identities,
    legal_documents,
    passwords,
    profile_review,
    sessions,
    staff,
    verification,
)
from accounts.errors import (
    AccountLeaving,
    BadCredentials,
    ConsentRequired,
    EmailTaken,
    NotificationNotFound,
    SessionEnded,
    WeakPassword,
)
from accounts.models import ApiToken, Notification, User
from accounts.roles import StaffRole
from db import fetch_one, for_dialect, from_row, python_value, read_sql
from errors import DomainError, RateLimited, Unauthorized, ValidationError
from ratelimit import Counter, Limit, seconds_left
from translation import SUPPORTED_LOCALES

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_DISPLAY_NAME_LENGTH = 40
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
# The same, as the API's contract states it: spaces around are allowed (they are stripped),
# control characters nowhere.
_NOT_IN_EMAIL = r"@\s\x00-\x1f\x7f-\x9f\ufffe\uffff"
EMAIL_INPUT_PATTERN = rf"^ *[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\.[^{_NOT_IN_EMAIL}.]{{2,}} *$"
# A display name has a visible character and no control characters.
_CONTROL = r"\x00-\x1f\x7f-\x9f\ufffe\uffff"
DISPLAY_NAME_PATTERN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"

# Failed sign-ins only. Successful sign-ins are never counted, so thousands of people behind one
# carrier-grade NAT address can sign in; the per-address limit is high for the same reason and
# only slows down someone guessing passwords for many accounts from one place.
FAILED_LOGINS_PER_ACCOUNT = Limit(attempts=5, window_seconds=15 * 60)  # per account+address
# (the account's failures from every address, up to) -> failures one address may make
ACCOUNT_FAILURE_STEPS = ((10, 5), (30, 3), (100, 2))
FAILED_LOGINS_PER_ADDRESS = Limit(attempts=100, window_seconds=15 * 60)
# Sign-ups that reach the question "is this email taken?", per address: learning who has an
# account costs what guessing a password costs. High, for a campus or carrier NAT address.
SIGNUPS_PER_ADDRESS = Limit(attempts=20, window_seconds=15 * 60)

# Touching last_used_at on every API call would turn each read into a write.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


normalize_email = identities.normalize_email


def validate_email(email: str) -> str:
    """Return the normalized email or raise ValidationError("email"): also for one that holds
    characters nobody sees (zero-width, bidi controls), which would pass for another."""
    normalized = normalize_email(email)
    if identities.invisible_characters(normalized):
        raise ValidationError("email", "must not contain invisible characters")
    if len(normalized) > 254 or not EMAIL_PATTERN.match(normalized):
        raise ValidationError("email", "not a valid email address")
    return normalized


def validate_password(
    password: str, field: str = "password", *, user_inputs: list[str] | None = None
) -> str:
    """The password, if it is long enough and strong enough (accounts.passwords): raises
    ValidationError for its length, WeakPassword (with the reason) for its strength."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(field, f"must be at most {MAX_PASSWORD_LENGTH} characters")
    reason = passwords.weakness(password, user_inputs=user_inputs)
    if reason is not None:
        raise WeakPassword(field, reason)
    return password


def validate_display_name(display_name: str) -> str:
    """The display name, NFKC-normalised with its spaces collapsed; ValidationError when it
    is empty, too long or holds invisible characters. (check_display_name also refuses one
    that passes for someone else.)"""
    if identities.invisible_characters(display_name.replace(" ", "")):
        raise ValidationError("display_name", "must not contain invisible characters")
    name = " ".join(unicodedata.normalize("NFKC", display_name).split())
    if not name:
        raise ValidationError("display_name", "must not be empty")
    if len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise ValidationError(
            "display_name", f"must be at most {MAX_DISPLAY_NAME_LENGTH} characters"
        )
    return name


async def check_display_name(display_name: str, *, user_id: int | None = None) -> str:
    """validate_display_name, and refused when it passes for an admin's name, the site's name
    or a reserved word (by its confusable skeleton: "аdmin" in Cyrillic is "admin")."""
    name = validate_display_name(display_name)
    admins = (
        await User.filter(staff_role__isnull=False)
        .exclude(id=user_id or 0)
        .values_list("display_name", flat=True)
    )
    if identities.impersonates(name, [str(admin) for admin in admins]):
        raise ValidationError(
            "display_name", "looks like a name reserved for the site or its staff"
        )
    return name


# A new account made by WeChat or a phone number, whose name is not usable, is "书友" (fellow
# reader) and four random digits (never part of the number: the name is public).
FALLBACK_NAME = "书友"


async def new_display_name(wanted: str | None = None) -> str:
    """`wanted` when it may be a display name (check_display_name), else FALLBACK_NAME and four
    random digits; the person changes it on their profile."""
    if wanted:
        try:
            return await check_display_name(wanted)
        except ValidationError:
            pass
    return f"{FALLBACK_NAME}{secrets.randbelow(10**4):04d}"


async def hash_password(password: str) -> str:
    # argon2 takes tens of milliseconds of CPU by design; keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def _password_matches(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


async def password_is(user: User, password: str) -> bool:
    """Whether `password` is `user`'s (never for an account without one), for a step that
    asks the signed-in person to prove it is them (accounts.leaving)."""
    if not user.has_password or not password:
        return False
    return await _password_matches(user.password_hash, password)


async def register(
    *,
    email: str,
    password: str,
    display_name: str,
    locale: str | None = None,
    now: datetime | None = None,
    address: str | None = None,
    counter: Counter | None = None,
    agreement: consents.SignUpAgreement | None = None,
    source: str = "sign_up",
) -> User:
    """Create an account (speaking `locale`) and mail a link to verify its address. Once the
    terms and the privacy policy are published, `agreement` must agree to their current
    versions and state the person is 14 or older (accounts.consents.check_sign_up), recorded
    with the account (`source`: the form or "api"). The
    display name goes through the watched words as a profile's does (accounts.profile_review:
    refused, censored, or kept and queued for a look). Raises ValidationError (email,
    password, display_name), BlockedWords or WordsNeedApproval (display_name), RateLimited,
    or EmailTaken.

    A sign-up from the web (`address` and `counter` given) is limited per address once its
    fields are valid (SIGNUPS_PER_ADDRESS), so asking whether emails are taken is slow.
    The email's uniqueness is enforced by the database, so two registrations racing for one
    address end with one account and one EmailTaken.
    """
    normalized = validate_email(email)
    versions = await legal_documents.current_versions(fresh=True)
    consents.check_sign_up(agreement or consents.SignUpAgreement(), versions)
    name = await check_display_name(display_name)
    validate_password(password, user_inputs=[normalized, normalized.partition("@")[0], name])
    if address is not None and counter is not None:
        key = f"signup:address:{address}"
        if await counter.hit(key, SIGNUPS_PER_ADDRESS) > SIGNUPS_PER_ADDRESS.attempts:
            raise RateLimited(
                seconds_left(SIGNUPS_PER_ADDRESS),
                "Too many sign-ups from this address; try again later.",
            )
    # After the limit: a refusal names the watched words, which must not be listed for free.
    checked = await profile_review.check({"display_name": name})
    name = checked.texts["display_name"]
    if await User.filter(email=normalized).exists():
        raise EmailTaken()
    password_hash = await hash_password(password)
    try:
        async with in_transaction():
            user = await User.create(
                email=normalized,
                display_name=name,
                password_hash=password_hash,
                locale=locale if locale in SUPPORTED_LOCALES else None,
            )
            await verification.send_verification(user, now=now or datetime.now(UTC))
            await profile_review.flag_if_needed(user.id, checked, now=now or datetime.now(UTC))
            await consents.record_sign_up(
                user, versions, source=source, locale=locale, now=now or datetime.now(UTC)
            )
    except IntegrityError:
        raise EmailTaken() from None
    return user


def allowed_failures(account_failures: int) -> int:
    """Failed sign-ins one address may make for an account before it must wait: fewer as the
    account's failures from everywhere grow (a guesser spread over many addresses slows down),
    never none (its owner, from an address that has not failed, always gets a try)."""
    for threshold, allowed in ACCOUNT_FAILURE_STEPS:
        if account_failures < threshold:
            return allowed
    return 1


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, and the device token their client keeps for next time."""

    user: User
    device_token: str


async def authenticate(
    *,
    email: str,
    password: str,
    address: str,
    counter: Counter,
    secret_key: str,
    device_token: str | None = None,
    login_code: str | None = None,
    now: datetime | None = None,
) -> SignedIn:
    """The user whose email and password these are, and a device token for their client.

    Failures slow guessers down without locking the owner out (accounts.devices):
    - a client with a valid device token for the account is counted by that device only
      (FAILED_LOGINS_PER_DEVICE), never by its address;
    - a client without one is counted per account and address (allowed_failures, which
      shrinks as the account's failures from every address grow) and per address (across
      accounts);
    - with a one-time code mailed to the account, the code and the password are one
      credential, checked past those two limits: a wrong code and a wrong password get the
      same answer (BadCredentials), and the code has a few tries (devices.code_is_live).
    Successes are never counted, so a carrier NAT address of many people signing in is never
    refused. A closed account (cancelled, accounts.leaving) is refused as a wrong password
    is. Raises RateLimited (checked before the password, so a throttled client cannot
    probe) or BadCredentials.
    """
    now = now or datetime.now(UTC)
    normalized = normalize_email(email)
    keys = _LoginKeys.of(normalized, address)
    user = await User.get_or_none(email=normalized)
    device = devices.device_nonce(device_token, user, secret_key=secret_key)
    code = (login_code or "").strip() or None
    if device is not None:
        device_key = f"login:device:{device}"
        if await counter.count(device_key, devices.FAILED_LOGINS_PER_DEVICE) >= (
            devices.FAILED_LOGINS_PER_DEVICE.attempts
        ):
            raise RateLimited(
                seconds_left(devices.FAILED_LOGINS_PER_DEVICE),
                "Too many failed sign-ins from this device; try again later.",
            )
    elif code is None:
        await _check_untrusted(keys, counter)

    # The password is always checked, so a code's answer takes the same time either way.
    matches = await _password_matches(user.password_hash if user else _DUMMY_HASH, password)
    code_live = (
        code is not None
        and device is None
        and await devices.code_is_live(
            user, code, normalized_email=normalized, address=address, counter=counter, now=now
        )
    )
    # A cancelled account past its cooling-off (or erased) answers as a wrong password would:
    # whether an email had an account is not told (accounts.leaving).
    closed = user is not None and user.is_closed(now)
    if (
        user is None
        or not matches
        or closed
        or (code is not None and device is None and not code_live)
    ):
        await counter.hit(keys.account, FAILED_LOGINS_PER_ACCOUNT)
        if device is not None:
            await counter.hit(f"login:device:{device}", devices.FAILED_LOGINS_PER_DEVICE)
        else:
            await counter.hit(keys.pair, FAILED_LOGINS_PER_ACCOUNT)
            await counter.hit(keys.address, FAILED_LOGINS_PER_ADDRESS)
        if code is not None and device is None:
            raise BadCredentials("Wrong code or password.")
        raise BadCredentials()
    if code_live:
        await devices.use_code(user, code or "", now=now)
    # A success forgives the failures of the client that succeeded, and only those: a known
    # device's own, or this address's when nothing else got it past the address's limit (a
    # code does not lift the throttle for whoever else is behind the address).
    if device is not None:
        await counter.reset(f"login:device:{device}")
    elif code is None:
        await counter.reset(keys.pair)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
        await user.save(update_fields=["password_hash"])
    token = device_token if device is not None and device_token else None
    return SignedIn(user, token or devices.issue_device_token(user, secret_key=secret_key))


@dataclass(frozen=True)
class _LoginKeys:
    """The counters a sign-in attempt from an untrusted client is held to."""

    account: str
    pair: str
    address: str

    @classmethod
    def of(cls, normalized_email: str, address: str) -> _LoginKeys:
        return cls(
            account=f"login:account:{normalized_email}",
            pair=f"login:pair:{normalized_email}:{address}",
            address=f"login:address:{address}",
        )


async def _check_untrusted(keys: _LoginKeys, counter: Counter) -> None:
    """The limits of a sign-in from a client that is not a known device of the account. Both
    refusals offer a code by mail (`code_by_mail`): with one, the owner gets past them."""
    if await counter.count(keys.address, FAILED_LOGINS_PER_ADDRESS) >= (
        FAILED_LOGINS_PER_ADDRESS.attempts
    ):
        raise RateLimited(
            seconds_left(FAILED_LOGINS_PER_ADDRESS),
            "Too many failed sign-ins from this address; try again later.",
            code_by_mail=True,
        )
    account_failures = await counter.count(keys.account, FAILED_LOGINS_PER_ACCOUNT)
    if await counter.count(keys.pair, FAILED_LOGINS_PER_ACCOUNT) >= allowed_failures(
        account_failures
    ):
        raise RateLimited(
            seconds_left(FAILED_LOGINS_PER_ACCOUNT),
            "Too many failed sign-ins for this account from here; try again later.",
            code_by_mail=True,
        )


async def change_password(
    user: User,
    *,
    current_password: str,
    new_password: str,
    now: datetime,
    keep_session_id: int | None = None,
) -> User:
    """Set a new password. Raises BadCredentials if `current_password` is wrong, WeakPassword.

    Every other session is ended and every API token revoked (the session `keep_session_id`,
    the one changing it, stays): whoever learnt the old password must not keep a way in.
    """
    if not await _password_matches(user.password_hash, current_password):
        raise BadCredentials("The current password is wrong.")
    validate_password(new_password, field="new_password", user_inputs=[user.email or ""])
    user.password_hash = await hash_password(new_password)
    await user.save(update_fields=["password_hash"])
    await sessions.end_all_but(user.id, keep_session_id=keep_session_id, now=now)
    return user


async def create_admin(*, email: str, password: str, display_name: str = "管理员") -> User:
    """Create an owner's account (the command line's first staff member), or make an existing
    account an owner and set its password; the audit log records it, actor None."""
    normalized = validate_email(email)
    validate_password(password)
    user = await User.get_or_none(email=normalized)
    password_hash = await hash_password(password)
    if user is None:
        user = await User.create(
            email=normalized,
            display_name=validate_display_name(display_name),
            password_hash=password_hash,
        )
    else:
        user.password_hash = password_hash
        await user.save(update_fields=["password_hash"])
        await sessions.end_all_but(user.id, keep_session_id=None, now=datetime.now(UTC))
    return await staff.set_role(actor=None, user_id=user.id, role=StaffRole.OWNER)


def token_digest(token: str) -> str:
    """What is stored of a bearer token (its SHA-256, hex): the database never sees the token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(user: User, *, name: str = "") -> str:
    """Create an API token for `user` and return it; only its hash is stored."""
    token = "sy_" + secrets.token_urlsafe(32)
    await ApiToken.create(user=user, token_hash=token_digest(token), name=name[:80])
    return token


# The bearer token's owner in one statement, built straight into a User: every API call asks
# this, and building the ORM query each time cost more CPU than the database's answer.
_TOKEN_USER = read_sql(Path(__file__).resolve().parent / "sql" / "token_user.sql")


async def user_for_token(token: str, *, now: datetime, leaving: bool = False) -> User | None:
    """The user a bearer token belongs to, or None for an unknown token. Raises SessionEnded
    for a token that was revoked (signed out, ended, or by a password change), AccountLeaving
    for the token a cancelled account kept (accounts.leaving) unless `leaving` (its own
    endpoints) lets it in."""
    return await user_for_token_digest(token_digest(token), now=now, leaving=leaving)


async def user_for_token_digest(
    digest: str, *, now: datetime, leaving: bool = False, consented: bool = False
) -> User | None:
    """user_for_token for the stored digest of a token. With `consented` (a caller acting in
    its own round trip, past the gate: holding stock or a seat) it also raises ConsentRequired
    while its owner has something outstanding (accounts.consents.refusal, the gate's rule).
    The same rule, for PostgreSQL statements that find a caller in their own round trip, is
    accounts/sql/token_owner.sql (tests/store/test_hold_engines.py holds the two to the same
    answers; there the token a cancelled account kept is revoked, as it is here outside its
    own endpoints, and the owner of a person with consent outstanding is nobody)."""
    connection = connections.get("default")
    sql = for_dialect(_TOKEN_USER, connection.capabilities.dialect)
    _, rows = await connection.execute_query(sql, [digest])
    if not rows:
        return None
    row = dict(rows[0])
    revoked = python_value(ApiToken, "revoked_at", row.pop("token_revoked__"))
    if revoked is not None:
        # Revoked in the future: the token a cancelled account keeps until its erasure.
        if revoked > now:
            row.pop("token_id__"), row.pop("token_used__")
            user = from_row(User, **row)
            if user.erase_after is not None and not user.is_closed(now):
                if leaving:
                    return user
                raise AccountLeaving()
        raise SessionEnded()
    token_id = row.pop("token_id__")
    last_used = python_value(ApiToken, "last_used_at", row.pop("token_used__"))
    user = from_row(User, **row)
    if user.erase_after is not None:
        # A live token of an account being cancelled: one a sign-in made in the instant the
        # cancellation ended every other (its owner acts again only by signing in again).
        if user.is_closed(now):
            raise SessionEnded()
        if not leaving:
            raise AccountLeaving()
    if last_used is None or now - last_used > TOKEN_TOUCH_INTERVAL:
        await ApiToken.filter(id=token_id).update(last_used_at=now)
    if consented:
        refused = await consents.refusal(user)
        if refused is not None:
            raise refused
    return user


async def refused_token(digest: str, *, now: datetime) -> DomainError:
    """Why a statement that acts for a caller in one round trip (accounts_token_owner) found
    no owner for this token digest, as user_for_token_digest says it: SessionEnded (revoked),
    AccountLeaving (an account being cancelled), ConsentRequired (its owner has something to
    agree to first), else Unauthorized (never issued)."""
    try:
        await user_for_token_digest(digest, now=now, consented=True)
    except (SessionEnded, AccountLeaving, ConsentRequired) as refused:
        return refused
    return Unauthorized()


async def revoke_token(token: str, *, now: datetime) -> bool:
    """Revoke a bearer token; True if it was live."""
    revoked = await ApiToken.filter(token_hash=token_digest(token), revoked_at=None).update(
        revoked_at=now
    )
    return revoked > 0


async def list_notifications(
    user: User, *, limit: int = 30, before_id: int | None = None
) -> list[Notification]:
    """The newest notifications first, `limit` at a time, older than `before_id` if given."""
    query = Notification.filter(user_id=user.id)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return await query.order_by("-id").limit(limit)


_UNREAD_COUNT = read_sql(Path(__file__).resolve().parent / "sql" / "unread_count.sql")


async def unread_count(user: User) -> int:
    """How many of the user's notifications are unread: on every page. A user loaded with a
    browser's session brought the count along (accounts/sql/session_user.sql: one round trip
    for the page, not two); anyone else, or once a notice was read in this request, asks
    here (a statement of ours: building the ORM's count cost more CPU than the answer)."""
    if user.unread_at_load is not None:
        return user.unread_at_load
    row = await fetch_one(_UNREAD_COUNT, [user.id])
    return int(row["unread"]) if row else 0


def forget_unread(user: User) -> None:
    """After marking `user`'s notices read: the count their session brought is no longer true
    (the page this request renders asks again)."""
    user.unread_at_load = None


async def mark_read(user: User, notification_id: int, *, now: datetime) -> None:
    """Mark one of the user's notifications read. Raises NotificationNotFound for others'."""
    if not await Notification.filter(id=notification_id, user_id=user.id).exists():
        raise NotificationNotFound()
    await Notification.filter(id=notification_id, user_id=user.id, read_at=None).update(read_at=now)
    forget_unread(user)


async def mark_all_read(user: User, *, now: datetime) -> int:
    marked = await Notification.filter(user_id=user.id, read_at=None).update(read_at=now)
    forget_unread(user)
    return marked

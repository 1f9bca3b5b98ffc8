"""Signing in with a mainland mobile number and a 6-digit code sent by SMS.

A code works once, for CODE_FOR, with CODE_TRIES guesses from the address that asked for it;
only its HMAC (keyed with the secret key) is stored, compared in constant time.

Sending costs money and reaches a stranger's phone, so it is limited four ways (why: the
docs, phone-sign-in.md):
- per (number, address): a stranger cannot flood one phone, and cannot spend the owner's
  sends: addresses that signed in to the number before (PhoneAddress) and clients holding a
  device token of its account are exempt from this pair limit and from the number's cap, and
  held to a gentler limit of their own;
- per address across numbers: one place cannot text thousands of numbers;
- per number from unknown addresses, generous: many addresses cannot flood one phone;
- a global budget a day (Asia/Shanghai), shared by every worker through one conditional
  UPDATE of SmsDay: SMS pumping stops there, and the staff are told once that day.

Guessing is limited with the device tokens of accounts.devices, so the owner is never locked
out by strangers: a client with a valid device token of the number's account is counted by
its device only; one at an address that signed in to the number before, per (number,
address) only; anyone else per (number, address), per number and per address.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from accounts import devices, notices, services, sign_in_methods
from accounts.errors import BadCode, PhoneTaken
from accounts.models import (
    Identity,
    IdentityKind,
    PhoneAddress,
    PhoneCode,
    SmsDay,
    User,
)
from accounts.roles import roles_that_may
from accounts.sms import SmsSender, SmsUnavailable
from errors import RateLimited, ValidationError
from ratelimit import Counter, Limit, seconds_left

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
# What the API's contract states (ASCII digits, spaces and hyphens): every such number is
# accepted by normalize_phone, which also reads full-width digits and brackets from forms.
PHONE_INPUT_PATTERN = r"^ *(\+86|0086|86)?[ -]?1[3-9][0-9]([ -]?[0-9]){8} *$"
CODE_FOR = timedelta(minutes=5)
CODE_DIGITS = 6
CODE_TRIES = 3  # wrong guesses from the address that asked for a code, then it is void

# Sends. Strangers: per (number, address), one a minute and five an hour.
SENDS_PER_PAIR = (Limit(attempts=1, window_seconds=60), Limit(attempts=5, window_seconds=3600))
# An address that signed in to the number before (or the account's device): its own limit.
SENDS_PER_KNOWN_PAIR = Limit(attempts=10, window_seconds=3600)
# One address across numbers (high: a campus or carrier NAT is many people).
SENDS_PER_ADDRESS = Limit(attempts=30, window_seconds=3600)
# One number from every unknown address together: generous, against a flood from many places.
SENDS_PER_NUMBER = Limit(attempts=10, window_seconds=3600)

# Wrong codes: a known device, per (number, address), per number from unknown clients, and
# per address across numbers.
WRONG_PER_DEVICE = Limit(attempts=10, window_seconds=15 * 60)
WRONG_PER_PAIR = Limit(attempts=5, window_seconds=15 * 60)
WRONG_PER_NUMBER = Limit(attempts=20, window_seconds=15 * 60)
WRONG_PER_ADDRESS = Limit(attempts=50, window_seconds=15 * 60)

SMS_BUDGET_SPENT = notices.SMS_BUDGET_SPENT
# Who is told the day's budget ran out: the operators, who may raise it.
BUDGET_WATCHERS = notices.SMS_BUDGET_WATCHERS


def normalize_phone(phone: str) -> str:
    """A mainland mobile number as stored: "+86" and 11 digits, from what people type
    ("13800138000", "+86 138 0013 8000", "86-138...", full-width digits). Raises
    ValidationError("phone") for anything else."""
    text = unicodedata.normalize("NFKC", phone[:40])
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith(("+86", "0086")):
        digits = digits.removeprefix("+86").removeprefix("0086")
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    # "+1 415 555 0100" is 11 digits starting 14 once its "+" is gone: a "+" is +86 or refused.
    if not digits.isascii() or not MAINLAND_MOBILE.fullmatch(digits):
        raise ValidationError("phone", "must be a mainland China mobile number (11 digits)")
    return f"+86{digits}"


def masked(phone: str) -> str:
    """What pages show of a number: 138****0000."""
    local = phone.removeprefix("+86")
    return f"{local[:3]}****{local[-4:]}"


def _address_digest(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


def _counted_as(number: str, secret_key: str) -> str:
    """How the rate counters (in Redis when configured) name a number: keyed with the secret
    key, so a counter's name does not give the number away."""
    digest = hmac.new(secret_key.encode(), f"counter:{number}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def _code_digest(phone: str, code: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


async def _phone_owner(phone: str) -> User | None:
    identity = await Identity.get_or_none(kind=IdentityKind.PHONE, subject=phone)
    return await User.get_or_none(id=identity.user_id) if identity else None


async def _is_known(phone: str, address_hash: str, device: str | None) -> bool:
    """An address that signed in to `phone` before, or a device of its account."""
    if device is not None:
        return True
    return await PhoneAddress.exists(phone=phone, address_hash=address_hash)


async def _over(counter: Counter, key: str, limit: Limit, message: str) -> None:
    if await counter.hit(key, limit) > limit.attempts:
        raise RateLimited(seconds_left(limit), message)


async def request_code(
    phone: str,
    *,
    address: str,
    counter: Counter,
    sender: SmsSender,
    secret_key: str,
    now: datetime,
    device_token: str | None = None,
    budget: int,
    browser: str | None = None,
) -> None:
    """Text a new sign-in code to `phone` (whether or not an account has it). Raises
    ValidationError("phone"), RateLimited past the send limits or the day's budget (the staff
    told the first time that day), or SmsUnavailable when the gateway refuses (nothing spent)."""
    number = normalize_phone(phone)
    address_hash = _address_digest(address)
    counted = _counted_as(number, secret_key)
    owner = await _phone_owner(number)
    device = devices.device_nonce(device_token, owner, secret_key=secret_key)
    wait = "Too many codes asked for; please wait and try again."
    if await _is_known(number, address_hash, device):
        await _over(counter, f"sms:known:{counted}:{address_hash}", SENDS_PER_KNOWN_PAIR, wait)
    else:
        for limit in SENDS_PER_PAIR:
            key = f"sms:pair{limit.window_seconds}:{counted}:{address_hash}"
            await _over(counter, key, limit, wait)
        await _over(counter, f"sms:number:{counted}", SENDS_PER_NUMBER, wait)
    await _over(counter, f"sms:address:{address_hash}", SENDS_PER_ADDRESS, wait)
    day = await _spend_budget(budget, now)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = await PhoneCode.create(
        phone=number,
        code_hash=_code_digest(number, code, secret_key),
        address_hash=_address_digest(browser or address),  # who may use it: _spend_code
        expires_at=now + CODE_FOR,
        created_at=now,
    )
    try:
        await sender.send_code(number, code)
    except SmsUnavailable:
        await row.delete()
        await SmsDay.filter(day=day, sent__gt=0).update(sent=F("sent") - 1)  # not charged
        raise


async def text_code(
    number: str, code: str, *, sender: SmsSender, budget: int, now: datetime
) -> None:
    """Text `code` to `number` (+86 and 11 digits, already proven the account's) within the
    day's budget, for a code kept elsewhere (accounts.leaving's). Raises RateLimited past the
    budget, SmsUnavailable when the gateway refuses (then not charged)."""
    day = await _spend_budget(budget, now)
    try:
        await sender.send_code(number, code)
    except SmsUnavailable:
        await SmsDay.filter(day=day, sent__gt=0).update(sent=F("sent") - 1)
        raise


def _shanghai_day(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


async def _spend_budget(budget: int, now: datetime) -> date:
    """One message of today's budget, or RateLimited (and the staff told once that day)."""
    day = _shanghai_day(now)
    if not await SmsDay.exists(day=day):
        with contextlib.suppress(IntegrityError):  # another request made today's row first
            await SmsDay.create(day=day)
    # Invariant "at most `budget` messages a day, across every worker": the guard is in SQL.
    if await SmsDay.filter(day=day, sent__lt=budget).update(sent=F("sent") + 1) == 1:
        return day
    await SmsDay.filter(day=day).update(refused=F("refused") + 1)
    # Only the request that sets alerted_at tells the staff: once a day, however many race.
    if await SmsDay.filter(day=day, alerted_at=None).update(alerted_at=now) == 1:
        async with in_transaction():
            watchers = await User.filter(staff_role__in=roles_that_may(BUDGET_WATCHERS))
            for person in watchers:
                await notices.notify(
                    person.id, kind=SMS_BUDGET_SPENT, params={"budget": budget}, now=now
                )
    midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI)
    raise RateLimited(
        max(1, int((midnight - now).total_seconds())),
        "No more text messages can be sent today; please sign in another way or try tomorrow.",
    )


async def _spend_code(
    number: str,
    code: str,
    *,
    address: str,
    counter: Counter,
    secret_key: str,
    device: str | None,
    now: datetime,
    browser: str | None = None,
) -> None:
    """Use a live code of `number` once, within the guessing limits. Raises RateLimited
    (checked before the code, so a throttled client cannot probe) or BadCode.

    A code belongs to who asked for it: the browser (`browser`, its session's token, for the
    pages: it stays when the phone moves from Wi-Fi to mobile data) or else the address (an
    app). A guess is compared with the codes its asker asked for (a device of the number's
    account: with all of the number's), never with a code asked for elsewhere: codes strangers
    ask for do not multiply a guess's chances, and their guesses cannot touch the owner's."""
    address_hash = _address_digest(address)
    asker = _address_digest(browser or address)
    counted = _counted_as(number, secret_key)
    if device is not None:
        keys = [(f"phone:wrong-device:{device}", WRONG_PER_DEVICE)]
    elif await PhoneAddress.exists(phone=number, address_hash=address_hash):
        keys = [(f"phone:wrong-pair:{counted}:{address_hash}", WRONG_PER_PAIR)]
    else:
        keys = [
            (f"phone:wrong-pair:{counted}:{address_hash}", WRONG_PER_PAIR),
            (f"phone:wrong-number:{counted}", WRONG_PER_NUMBER),
            (f"phone:wrong-address:{address_hash}", WRONG_PER_ADDRESS),
        ]
    # Counted before the code is looked at (hit, then check): guesses sent all at once are
    # each counted, so a burst cannot pass a limit that a check-then-count would let through.
    # A success takes its count back (below): only failures stay counted.
    over = [limit for key, limit in keys if await counter.hit(key, limit) > limit.attempts]
    if over:
        raise RateLimited(seconds_left(over[0]), "Too many wrong codes; please wait.")
    wanted = _code_digest(number, code.strip(), secret_key)
    live_codes = PhoneCode.filter(
        phone=number, used_at=None, expires_at__gt=now, tries__lt=CODE_TRIES
    )
    if device is None:
        live_codes = live_codes.filter(address_hash=asker)
    live = await live_codes.order_by("-id").limit(50)  # a handful: the send limits
    match = None
    for row in live:  # every candidate compared, in constant time each
        if hmac.compare_digest(row.code_hash, wanted):
            match = row
    # Invariant "a code is used once": of two requests racing with it, one UPDATE wins.
    if match is not None and await PhoneCode.filter(
        id=match.id, used_at=None, tries__lt=CODE_TRIES, expires_at__gt=now
    ).update(used_at=now):
        # The number's other live codes (a "send again") are of no more use to anyone.
        await PhoneCode.filter(phone=number, used_at=None).update(used_at=now)
        await counter.reset(keys[0][0])  # the client that succeeded is forgiven its failures
        for key, limit in keys[1:]:
            await counter.undo(key, limit)  # and the others count failures only
        return
    # A wrong guess spends a try of the codes its asker asked for (CODE_TRIES each).
    await PhoneCode.filter(
        phone=number, address_hash=asker, used_at=None, expires_at__gt=now
    ).update(tries=F("tries") + 1)
    raise BadCode()


async def _remember_address(number: str, address: str, now: datetime) -> None:
    address_hash = _address_digest(address)
    if await PhoneAddress.filter(phone=number, address_hash=address_hash).update(last_at=now):
        return
    with contextlib.suppress(IntegrityError):  # recorded by a sign-in from there just now
        await PhoneAddress.create(phone=number, address_hash=address_hash, last_at=now)


async def _account_for(number: str, *, locale: str | None, now: datetime) -> User:
    """The account `number` signs in to, made now (with its Identity, in one transaction) if
    it has none. Two first sign-ins racing end in one account: (kind, subject) is unique."""
    owner = await _phone_owner(number)
    if owner is not None:
        await Identity.filter(kind=IdentityKind.PHONE, subject=number).update(last_used_at=now)
        return owner
    return await sign_in_methods.create_account(
        IdentityKind.PHONE,
        number,
        masked(number),
        display_name=await services.new_display_name(),  # never the number's digits: public
        locale=locale,
        now=now,
    )


async def sign_in_with_code(
    phone: str,
    code: str,
    *,
    address: str,
    counter: Counter,
    secret_key: str,
    now: datetime,
    device_token: str | None = None,
    locale: str | None = None,
    browser: str | None = None,
) -> services.SignedIn:
    """The account `phone` signs in to (a new one, speaking `locale`, for a number never seen)
    once `code` proves it, and a device token for the client. Raises ValidationError("phone"),
    RateLimited past the guessing limits, or BadCode (wrong, expired, used or out of tries)."""
    number = normalize_phone(phone)
    owner = await _phone_owner(number)
    device = devices.device_nonce(device_token, owner, secret_key=secret_key)
    await _spend_code(
        number,
        code,
        address=address,
        counter=counter,
        secret_key=secret_key,
        device=device,
        now=now,
        browser=browser,
    )
    user = await _account_for(number, locale=locale, now=now)
    await _remember_address(number, address, now)
    token = device_token if device is not None and device_token else None
    return services.SignedIn(user, token or devices.issue_device_token(user, secret_key=secret_key))


async def add_phone(
    user: User,
    phone: str,
    code: str,
    *,
    address: str,
    counter: Counter,
    secret_key: str,
    now: datetime,
    browser: str | None = None,
) -> Identity:
    """Let `phone` sign in to `user`'s account once `code` proves it is theirs. Raises
    ValidationError("phone"), RateLimited, BadCode, or PhoneTaken when the number signs in
    to another account."""
    number = normalize_phone(phone)
    # The code first: whether a number has an account is told only to whoever holds it.
    await _spend_code(
        number, code, address=address, counter=counter, secret_key=secret_key,
        device=None, now=now, browser=browser,
    )  # fmt: skip
    owner = await _phone_owner(number)
    if owner is not None and owner.id != user.id:
        raise PhoneTaken()
    await _remember_address(number, address, now)
    existing = await Identity.get_or_none(kind=IdentityKind.PHONE, subject=number)
    if existing is not None and existing.user_id == user.id:
        return existing
    try:
        async with in_transaction():
            identity = await Identity.create(
                user=user,
                kind=IdentityKind.PHONE,
                subject=number,
                label=masked(number),
                created_at=now,
                last_used_at=now,
            )
            await sign_in_methods.tell_added(
                user.id, sign_in_methods.PHONE, masked(number), now=now
            )
    except IntegrityError:
        raise PhoneTaken() from None
    return identity


async def has_verified_mobile(user: User) -> bool:
    """Whether `user`'s account has a verified mainland mobile number: a phone Identity, which
    only a texted code proves (sign_in_with_code makes one with the account, add_phone links
    one to it), and which is always +86 and 11 digits (normalize_phone)."""
    return await Identity.filter(user_id=user.id, kind=IdentityKind.PHONE).exists()


# Spent and expired codes are kept a day (what happened to a number's codes stays readable
# for a while), then deleted by the accounts.prune_codes job: a digest of a dead code is of
# no use to anyone, and a row per number and address is personal data.
KEEP_CODES = timedelta(days=1)


async def prune_codes(*, now: datetime) -> int:
    """Delete the phone codes that expired more than KEEP_CODES ago; how many went."""
    return await PhoneCode.filter(expires_at__lt=now - KEEP_CODES).delete()

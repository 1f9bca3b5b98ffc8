"""Who referred whom: visits through share links, the referrer each person has now, and the
sign-ups and purchases they referred.

**Last touch, within the window.** A visit through a share link names its sharer as the
visitor's referrer for settings.referral_days (7 by default); a later visit through someone
else's link replaces them. Last touch because a reward is for the friend whose share brought
the purchase about: the one who sent the link someone opened before paying today, not the one
who sent another link weeks ago. (The window keeps an old link from earning forever; first
touch would hand every later purchase to whoever shared first, however long ago.)

Where it is kept. A visitor who is not signed in carries it in a cookie (signed, so its
visit time cannot be moved; it lives as long as the window); a signed-in visitor's is a row,
Touch. On signing in (or up), the cookie's visit becomes the account's Touch, unless the
account has a later one; an account made after the visit is a referred sign-up (Referral,
kind "signup"). A purchase is referred by the buyer's Touch at the moment it is paid
(referrals.rewards).

Refused: a visit through one's own link (self-referral), and one through the link of someone
whom the visitor referred (a sign-up or a purchase of theirs), or who has the visitor up their
chain of referrers now (a loop: A names B, B names A): both leave the visitor's referrer as it
was. Visits are counted all the same (the sharer's numbers
say how often their link was opened), in memory, and written in batches (tallies.flush):
nothing is written on the request path for a visitor who is not signed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from accounts.models import User
from referrals.models import Referral, ReferredKind, ShareLink, Source, Touch
from tallies import Tally, TallyTable, shanghai_day

COOKIE = "shuyuan_ref"
LINK_DAYS = TallyTable("referrals_link_day", keys=("link_id", "day", "source"), counts=("visits",))
LOOP_DEPTH = 20  # how far up a chain of referrers a loop is looked for
SIGNUP_JUST_NOW = timedelta(minutes=10)


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="shuyuan-referral")


def cookie_value(secret_key: str, link: ShareLink, source: Source) -> str:
    """The cookie a visit leaves: the link's code and source, signed with the visit's time."""
    return str(_serializer(secret_key).dumps([link.code, source.value]))


@dataclass(frozen=True)
class CookieVisit:
    code: str
    source: Source
    at: datetime


def read_cookie(
    value: str | None, secret_key: str, *, days: int, now: datetime
) -> CookieVisit | None:
    """The visit a cookie records, if it is ours, intact and within the window."""
    if not value or len(value) > 200:
        return None
    try:
        payload, signed_at = _serializer(secret_key).loads(
            value, max_age=days * 86400, return_timestamp=True
        )
        code, source = payload
        at = signed_at.replace(tzinfo=UTC) if signed_at.tzinfo is None else signed_at
        if at > now + timedelta(minutes=5):
            return None
        return CookieVisit(str(code)[:12], Source(source), at)
    except (BadSignature, ValueError, TypeError):
        return None


def count_visit(tally: Tally, link: ShareLink, source: Source, now: datetime) -> None:
    """Count one visit through `link` (written by tallies.flush)."""
    tally.add(LINK_DAYS, (link.id, shanghai_day(now), source.value), "visits")


async def referrer_now(user_id: int, *, at: datetime, days: int) -> Touch | None:
    """The person's last touch, if it still names their referrer at `at`."""
    touch = await Touch.get_or_none(user_id=user_id)
    if touch is None or touch.touched_at + timedelta(days=days) < at:
        return None
    return touch


async def _refers(referrer_id: int, visitor_id: int, *, at: datetime, days: int) -> bool:
    """Whether `visitor_id` is up the chain of `referrer_id`'s referrers (their referrer now,
    else who referred their sign-up), so naming referrer_id would close a loop."""
    seen = {referrer_id}
    current = referrer_id
    for _ in range(LOOP_DEPTH):
        touch = await referrer_now(current, at=at, days=days)
        if touch is not None:
            above: int | None = touch.referrer_id
        else:
            signup = await Referral.get_or_none(kind=ReferredKind.SIGNUP, subject_id=current)
            above = signup.referrer_id if signup is not None else None
        if above is None or above in seen:
            return False
        if above == visitor_id:
            return True
        seen.add(above)
        current = above
    return False


async def may_refer(link: ShareLink, visitor_id: int, *, at: datetime, days: int) -> bool:
    """Whether the link's sharer may become the visitor's referrer: never their own link, nor a
    link whose sharer they referred (a loop)."""
    if link.sharer_id == visitor_id:
        return False
    if await Referral.exists(referrer_id=visitor_id, referred_id=link.sharer_id):
        return False  # the visitor referred the sharer's sign-up or a purchase of theirs
    return not await _refers(link.sharer_id, visitor_id, at=at, days=days)


async def touch(user_id: int, link: ShareLink, source: Source, *, at: datetime, days: int) -> bool:
    """The visit at `at` through `link` names its sharer as the person's referrer, unless it is
    refused (may_refer) or the person has a later touch already. True when it does."""
    if not await may_refer(link, user_id, at=at, days=days):
        return False
    # Last touch wins: replace only an earlier one (a cookie read at sign-in may be older
    # than a visit made signed in since).
    if await Touch.filter(user_id=user_id, touched_at__lte=at).update(
        link_id=link.id, referrer_id=link.sharer_id, source=source.value, touched_at=at
    ):
        return True
    if await Touch.exists(user_id=user_id):
        return False  # a later touch stands
    try:
        async with in_transaction():
            await Touch.create(
                user_id=user_id,
                link_id=link.id,
                referrer_id=link.sharer_id,
                source=source.value,
                touched_at=at,
            )
    except IntegrityError:  # the same person's other visit at the same moment wrote it
        return False
    return True


async def record(
    kind: ReferredKind,
    subject_id: int,
    *,
    referred_id: int,
    link_id: int,
    referrer_id: int,
    source: str,
    at: datetime,
    payment_id: int | None = None,
    amount_fen: int = 0,
) -> Referral:
    """Who referred the sign-up, order or enrollment `subject_id`: written once (the first
    answer stands; UNIQUE kind, subject)."""
    found = await Referral.get_or_none(kind=kind, subject_id=subject_id)
    if found is not None:
        return found
    try:
        async with in_transaction():
            return await Referral.create(
                kind=kind,
                subject_id=subject_id,
                referred_id=referred_id,
                link_id=link_id,
                referrer_id=referrer_id,
                source=source,
                payment_id=payment_id,
                amount_fen=amount_fen,
                created_at=at,
            )
    except IntegrityError:
        found = await Referral.get_or_none(kind=kind, subject_id=subject_id)
        if found is None:
            raise  # not the same thing recorded at the same moment: a person or link gone
        return found


async def visited(
    link: ShareLink,
    source: Source,
    user: User | None,
    *,
    tally: Tally,
    now: datetime,
    days: int,
) -> None:
    """A visit through `link`: counted, and for a signed-in visitor, their touch."""
    count_visit(tally, link, source, now)
    if user is not None:
        await touch(user.id, link, source, at=now, days=days)


async def signed_in(request: Request, user: User) -> None:
    """What a browser's earlier visit means once it signs in as `user` (the app's sign-in
    hook, accounts.sign_in_hooks): its cookie's visit becomes the account's touch, and an
    account made after that visit is a sign-up it referred."""
    settings = request.app.state.settings
    now = datetime.now(UTC)
    visit = read_cookie(
        request.cookies.get(COOKIE), settings.secret_key, days=settings.referral_days, now=now
    )
    if visit is None:
        return
    link = await ShareLink.get_or_none(code=visit.code)
    if link is None:
        return
    if not await may_refer(link, user.id, at=now, days=settings.referral_days):
        return
    # A sign-up the visit referred: the account was made after the visit, just now (this
    # sign-in is its first: registration, or a first WeChat or phone sign-in), not an older
    # account signing in on a browser that followed a link.
    if visit.at <= user.created_at and now - user.created_at <= SIGNUP_JUST_NOW:
        await record(
            ReferredKind.SIGNUP,
            user.id,
            referred_id=user.id,
            link_id=link.id,
            referrer_id=link.sharer_id,
            source=visit.source.value,
            at=user.created_at,
        )
    await touch(user.id, link, visit.source, at=visit.at, days=settings.referral_days)

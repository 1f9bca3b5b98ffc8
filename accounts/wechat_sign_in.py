"""Signing in with WeChat: where to send the browser, what its return means, and the first
sign-in's two ends (a new account, or linking an account the person proves is theirs).

Rules:
- Inside WeChat's browser the official account is asked first with snsapi_base (silent: the
  openid only); a person it does not know is asked again with snsapi_userinfo (WeChat's consent
  page) for their unionid, nickname and avatar. Elsewhere, the website app's QR login.
- `state` is random, kept in this browser's session with what it is for (sign in, or link to
  the signed-in account), where to go next, which app, and when it expires; the callback pops
  it, so a forged, replayed, expired or another browser's state is refused.
- A person is found by their openid in that app, else by their unionid; an account is linked
  to the unionid when WeChat gives one, else to "openid:<appid>:<openid>". Every app's openid
  is kept (the official account's is what paying inside WeChat needs: official_openid).
- A person nobody knows waits in the session (never the URL) until they create an account or
  prove an existing one; the unique (kind, subject) of an Identity makes two racing first
  sign-ins end in one account.

Services take the browser session's data (a plain dict) and plain values; no HTTP objects.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import links
from accounts import profile_review, profiles, services, sign_in_methods
from accounts.errors import (
    WechatNotSetUp,
    WechatPendingMissing,
    WechatStateRefused,
    WechatTaken,
)
from accounts.models import Identity, IdentityKind, User, WechatOpenid
from accounts.services import check_display_name
from accounts.wechat import (
    OFFICIAL,
    SNSAPI_BASE,
    SNSAPI_LOGIN,
    SNSAPI_USERINFO,
    WEBSITE,
    WechatClient,
    in_wechat,
)
from errors import DomainError
from pictures import PicturePool
from ratelimit import Counter

STATE_FOR = timedelta(minutes=10)
PENDING_FOR = timedelta(minutes=15)
MAX_STATES = 5  # a few tabs may each be on their way through WeChat
STATES_KEY = "wechat_states"
PENDING_KEY = "wechat_pending"
log = logging.getLogger(__name__)


class Purpose(StrEnum):
    SIGN_IN = "sign_in"
    LINK = "link"  # to the account signed in when it began
    PAY = "pay"  # only the official account's openid, to pay inside WeChat (JSAPI)


@dataclass(frozen=True)
class GoToWechat:
    """Send the browser (back) to WeChat: the consent page for a person met silently."""

    url: str


@dataclass(frozen=True)
class SignedIn:
    user: User
    next_path: str


@dataclass(frozen=True)
class Linked:
    user: User
    next_path: str
    already: bool  # it was linked to this account before


@dataclass(frozen=True)
class FirstSignIn:
    """Nobody has this WeChat person yet: they wait in the session (Pending)."""

    next_path: str


@dataclass(frozen=True)
class PayerKnown:
    """The signed-in account's openid in the official account is known for paying."""

    next_path: str


@dataclass(frozen=True)
class Declined:
    """The person said no on WeChat's consent page."""

    purpose: Purpose
    next_path: str


Outcome = GoToWechat | SignedIn | Linked | FirstSignIn | PayerKnown | Declined
PAYING_OPENID_KEY = "wechat_paying_openid"


@dataclass(frozen=True)
class Pending:
    """A WeChat person met for the first time, waiting to create or link an account."""

    app_id: str
    openid: str
    unionid: str | None
    nickname: str
    headimgurl: str
    next_path: str
    expires_at: float

    @property
    def subject(self) -> str:
        return subject_for(self.app_id, self.openid, self.unionid)


def subject_for(app_id: str, openid: str, unionid: str | None) -> str:
    """The Identity subject of a WeChat person: the unionid, else the app's openid."""
    return unionid or f"openid:{app_id}:{openid}"


def start(
    session: dict[str, Any],
    client: WechatClient,
    *,
    user_agent: str,
    next_path: str,
    now: datetime,
    link_to: User | None = None,
) -> str:
    """The WeChat URL that begins signing in (or, with `link_to`, adding WeChat to that
    account): the official account silently inside WeChat, else the website's QR login.
    Raises WechatNotSetUp (neither app is set, or only the official account outside WeChat)."""
    if in_wechat(user_agent) and client.apps[OFFICIAL]:
        kind, scope = OFFICIAL, SNSAPI_BASE
    elif client.apps[WEBSITE]:
        kind, scope = WEBSITE, SNSAPI_LOGIN
    elif client.apps[OFFICIAL]:
        raise WechatNotSetUp("Signing in with WeChat works inside WeChat: open this page there.")
    else:
        raise WechatNotSetUp()
    entry = {
        "purpose": Purpose.LINK if link_to else Purpose.SIGN_IN,
        "next": next_path,
        "app": kind,
        "scope": scope,
        "user_id": link_to.id if link_to else None,
    }
    return _authorisation(session, client, entry, now)


def start_for_paying(
    session: dict[str, Any], client: WechatClient, *, user: User, next_path: str, now: datetime
) -> str:
    """The WeChat URL of a silent authorisation (snsapi_base: no consent page) that learns the
    signed-in account's openid in the official account, only to pay inside WeChat (JSAPI): the
    account is not linked to WeChat by it. Raises WechatNotSetUp without an official account."""
    if not client.apps[OFFICIAL]:
        raise WechatNotSetUp("Paying inside WeChat needs the official account.")
    entry = {
        "purpose": Purpose.PAY,
        "next": next_path,
        "app": OFFICIAL,
        "scope": SNSAPI_BASE,
        "user_id": user.id,
    }
    return _authorisation(session, client, entry, now)


def paying_openid(session: dict[str, Any], user_id: int, app_id: str) -> str | None:
    """The openid a silent authorisation in this session learnt for paying (start_for_paying),
    if it is this account's in `app_id`."""
    kept = session.get(PAYING_OPENID_KEY)
    if isinstance(kept, dict) and kept.get("user_id") == user_id and kept.get("app_id") == app_id:
        openid = kept.get("openid")
        return openid if isinstance(openid, str) and openid else None
    return None


def _authorisation(
    session: dict[str, Any], client: WechatClient, entry: dict[str, Any], now: datetime
) -> str:
    state = secrets.token_urlsafe(24)
    live = {
        key: value
        for key, value in dict(session.get(STATES_KEY) or {}).items()
        if isinstance(value, dict) and value.get("expires", 0) > now.timestamp()
    }
    kept = dict(list(live.items())[-(MAX_STATES - 1) :])
    kept[state] = {**entry, "expires": (now + STATE_FOR).timestamp()}
    # A new dict, not the old one changed: the session store keeps what differs from before.
    session[STATES_KEY] = kept
    return client.authorisation_url(
        str(entry["app"]),
        scope=str(entry["scope"]),
        state=state,
        redirect_uri=links.absolute("accounts.wechat_callback"),
    )


def _take_state(session: dict[str, Any], state: str, now: datetime) -> dict[str, Any]:
    """The state's entry, removed from the session (it works once). Raises
    WechatStateRefused for one this session does not hold or that has expired."""
    states = dict(session.get(STATES_KEY) or {})
    entry = states.pop(state, None) if 0 < len(state) <= 100 else None
    session[STATES_KEY] = states
    if not isinstance(entry, dict) or entry.get("expires", 0) <= now.timestamp():
        raise WechatStateRefused()
    return entry


async def callback(
    session: dict[str, Any],
    client: WechatClient,
    *,
    state: str,
    code: str | None,
    signed_in: User | None,
    now: datetime,
) -> Outcome:
    """What WeChat's return means: the person signed in (known), linked to the signed-in
    account, asked for consent (a silent visit by someone unknown), waiting for their first
    sign-in, or declined. Raises WechatStateRefused, WechatCodeRefused, WechatUnavailable,
    WechatNotSetUp, WechatTaken (linking a person another account has)."""
    entry = _take_state(session, state, now)
    purpose, next_path = Purpose(entry["purpose"]), str(entry["next"])
    if purpose in (Purpose.LINK, Purpose.PAY) and (
        signed_in is None or signed_in.id != entry["user_id"]
    ):
        raise WechatStateRefused()  # signed out, or in as someone else, since it began
    if not code:
        return Declined(purpose, next_path)
    token = await client.exchange_code(str(entry["app"]), code)
    if purpose is Purpose.PAY:
        assert signed_in is not None
        session[PAYING_OPENID_KEY] = {
            "user_id": signed_in.id,
            "app_id": token.app_id,
            "openid": token.openid,
        }
        return PayerKnown(next_path)
    profile = await client.profile(token) if token.scope != SNSAPI_BASE else None
    unionid = profile.unionid if profile else token.unionid
    identity = await _identity_of(token.app_id, token.openid, unionid)
    if identity is None and token.scope == SNSAPI_BASE:
        # Someone new, met silently: ask for their unionid, name and avatar (consent page).
        upgraded = {**entry, "scope": SNSAPI_USERINFO}
        return GoToWechat(_authorisation(session, client, upgraded, now))
    if purpose is Purpose.LINK:
        assert signed_in is not None
        if identity is not None:
            if identity.user_id != signed_in.id:
                raise WechatTaken()
            await _keep_openid(identity, token.app_id, token.openid, now, unionid)
            return Linked(signed_in, next_path, already=True)
        label = profile.nickname if profile else ""
        await _attach(signed_in.id, token.app_id, token.openid, unionid, label, now)
        return Linked(signed_in, next_path, already=False)
    if identity is not None:
        await _keep_openid(identity, token.app_id, token.openid, now, unionid)
        return SignedIn(await User.get(id=identity.user_id), next_path)
    pending = Pending(
        app_id=token.app_id,
        openid=token.openid,
        unionid=unionid,
        nickname=profile.nickname if profile else "",
        headimgurl=profile.headimgurl if profile else "",
        next_path=next_path,
        expires_at=(now + PENDING_FOR).timestamp(),
    )
    session[PENDING_KEY] = asdict(pending)
    return FirstSignIn(next_path)


def pending(session: dict[str, Any], now: datetime) -> Pending:
    """The WeChat person waiting in this session. Raises WechatPendingMissing."""
    kept = session.get(PENDING_KEY)
    try:
        found = Pending(**kept) if isinstance(kept, dict) else None
    except TypeError:
        found = None
    if found is None or found.expires_at <= now.timestamp():
        raise WechatPendingMissing()
    return found


async def suggested_name(pending: Pending) -> str:
    """The display name a new account is offered: WeChat's nickname when it may be one
    (services.check_display_name), with every watched word that would refuse or hold a
    name censored as ■ (profile_review's soften: a nickname the person did not type here
    never stops their sign-in); else "书友" and four random digits."""
    softened = (
        await profile_review.reviewer().soften(pending.nickname) if pending.nickname else None
    )
    return await services.new_display_name(softened)


async def create_account(
    pending: Pending, *, display_name: str, locale: str | None, now: datetime
) -> User:
    """A new account, without email or password, that signs in with this WeChat person. The
    name, as the person sent it from the page that offered suggested_name, is checked as a
    profile's (accounts.profile_review: the offered name always passes; flag words queue
    it). Raises ValidationError("display_name"), BlockedWords, WordsNeedApproval. Two first
    sign-ins of one person racing end in one account: the loser of the unique (kind,
    subject) gets the winner's."""
    checked = await profile_review.check({"display_name": await check_display_name(display_name)})
    user = await sign_in_methods.create_account(
        IdentityKind.WECHAT,
        pending.subject,
        pending.nickname,
        display_name=checked.texts["display_name"],
        locale=locale,
        now=now,
        with_identity=lambda identity: _keep_first_openid(identity, pending, now),
    )
    await profile_review.flag_if_needed(user.id, checked, now=now)
    return user


async def use_wechat_avatar(
    user: User,
    pending: Pending,
    client: WechatClient,
    *,
    pictures: PicturePool,
    counter: Counter,
    now: datetime,
    review_days: int,
) -> bool:
    """Make WeChat's avatar the account's (through profiles.set_avatar's checks: a new
    account's waits for a moderator, as any young account's does). False, and the account
    left without one, when it cannot be fetched or is refused: a missing avatar never stops
    a sign-in."""
    picture = await client.avatar(pending.headimgurl) if pending.headimgurl else None
    if not picture:
        return False
    try:
        await profiles.set_avatar(
            user,
            picture,
            pictures=pictures,
            counter=counter,
            now=now,
            review_days=review_days,
        )
    except DomainError as exc:
        log.warning("wechat avatar refused: %s", exc.code)
        return False
    return True


async def link_pending(pending: Pending, user: User, *, now: datetime) -> None:
    """Link the waiting WeChat person to `user` (who proved the account is theirs). Raises
    WechatTaken when another account got this person in the meantime."""
    await _attach(user.id, pending.app_id, pending.openid, pending.unionid, pending.nickname, now)


def forget_pending(session: dict[str, Any]) -> None:
    session.pop(PENDING_KEY, None)


async def official_openid(user_id: int, *, app_id: str) -> str | None:
    """The account's openid in the official account `app_id` (settings.wechat_official),
    what WeChat Pay's JSAPI needs to pay inside WeChat; None if it never signed in there."""
    row = await WechatOpenid.filter(user_id=user_id, app_id=app_id).order_by("id").first()
    return row.openid if row else None


async def _identity_of(app_id: str, openid: str, unionid: str | None) -> Identity | None:
    row = await WechatOpenid.get_or_none(app_id=app_id, openid=openid).select_related("identity")
    if row is not None:
        return row.identity
    if unionid:
        return await Identity.get_or_none(kind=IdentityKind.WECHAT, subject=unionid)
    return None


async def _keep_openid(
    identity: Identity, app_id: str, openid: str, now: datetime, unionid: str | None = None
) -> None:
    """Remember this app's openid of the person (once), and that they just signed in. An
    identity made while WeChat gave no unionid (its app not yet bound to the Open Platform
    account) takes the unionid once WeChat gives one, so the person's other app finds it."""
    await Identity.filter(id=identity.id).update(last_used_at=now)
    if unionid and identity.subject.startswith("openid:"):
        with contextlib.suppress(IntegrityError):  # another account has it: both stay apart
            await Identity.filter(id=identity.id).update(subject=unionid)
    if await WechatOpenid.exists(app_id=app_id, openid=openid):
        return
    with contextlib.suppress(IntegrityError):  # the same person's other tab kept it first
        await WechatOpenid.create(
            identity=identity,
            user_id=identity.user_id,
            app_id=app_id,
            openid=openid,
            created_at=now,
        )


async def _create_identity(user_id: int, pending: Pending, now: datetime) -> Identity:
    identity = await Identity.create(
        user_id=user_id,
        kind=IdentityKind.WECHAT,
        subject=pending.subject,
        label=pending.nickname[:60],
        created_at=now,
        last_used_at=now,
    )
    await _keep_first_openid(identity, pending, now)
    return identity


async def _keep_first_openid(identity: Identity, pending: Pending, now: datetime) -> None:
    await WechatOpenid.create(
        identity=identity,
        user_id=identity.user_id,
        app_id=pending.app_id,
        openid=pending.openid,
        created_at=now,
    )


async def _attach(
    user_id: int, app_id: str, openid: str, unionid: str | None, label: str, now: datetime
) -> None:
    """A WeChat identity for an existing account. Raises WechatTaken if the person is
    another account's (found first, or by the unique (kind, subject) in a race)."""
    person = Pending(app_id, openid, unionid, label, "", "", 0)
    known = await _identity_of(app_id, openid, unionid)
    if known is not None:
        if known.user_id != user_id:
            raise WechatTaken()
        await _keep_openid(known, app_id, openid, now, unionid)
        return
    try:
        async with in_transaction():
            await _create_identity(user_id, person, now)
            # Told in the inbox, as every way in added: a way in the owner did not add is
            # one a thief keeps after a password reset.
            await sign_in_methods.tell_added(user_id, sign_in_methods.WECHAT, label, now=now)
    except IntegrityError:
        raced = await Identity.get_or_none(kind=IdentityKind.WECHAT, subject=person.subject)
        if raced is None or raced.user_id != user_id:
            raise WechatTaken() from None

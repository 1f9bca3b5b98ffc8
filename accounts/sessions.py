"""Server-side sessions: the browser's cookie is a random key; the session lives in the database.

A session row holds its account (or none, for a visitor whose flash message must survive a
redirect), when it began and was last seen (written at most once a minute), the browser's user
agent and a masked address, and a little data (flash messages). Only the key's SHA-256 is
stored. Ending a session deletes its row; changing the password ends every other session of
the account and every API token; a session past its idle or absolute lifetime is ended when it
comes back.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.expressions import Q

from accounts.errors import SessionNotFound
from accounts.models import ApiToken, Session, User
from db import fetch_one, from_row, read_sql
from wiring import NotWired, Wire

_SESSION_USER = read_sql(Path(__file__).resolve().parent / "sql" / "session_user.sql")
# Where the packages' scalars go in it (SessionScalars.statement).
_SCALARS_GO_HERE = (
    "    -- (the scalars the packages above ask for: accounts.sessions.SessionScalars)\n"
)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
MAX_USER_AGENT = 200


@dataclass(frozen=True)
class Lifetimes:
    """How long a session lasts: `idle` since it was last seen, `absolute` since it began."""

    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class SessionScalar:
    """One value a package above accounts asks to come with the session read of the pages that
    use it, so that such a page takes no round trip of its own: `sql` is a scalar
    subquery on the session's account `u` (its id: `u.id`), kept in a .sql file beside the
    package's code. For a visitor's session (no account) it reads NULL. Read when the request
    began: code that changes it in the request asks the database again, as the unread badge
    does. Other pages do not pay for it (one subquery made every session read cost 0.68 ->
    0.83 ms of PostgreSQL's and PgBouncer's CPU, measured through PgBouncer: issue 40's note)."""

    name: str
    sql: str


class SessionScalars:
    """The scalars an app's session reads bring along (composition.py adds them); the
    session's statement with those of one page is composed once."""

    def __init__(self) -> None:
        self._scalars: dict[str, tuple[SessionScalar, frozenset[str]]] = {}
        self._statements: dict[str, tuple[str, list[str]]] = {}

    def add(self, scalar: SessionScalar, *, paths: set[str]) -> None:
        """Read `scalar` with the session of a request to one of `paths` (the pages that use
        it)."""
        if not scalar.name.isidentifier() or scalar.name in self._scalars:
            raise ValueError(f"a session scalar needs a new plain name, not {scalar.name!r}")
        self._scalars[scalar.name] = (scalar, frozenset(paths))
        self._statements.clear()

    def for_path(self, path: str) -> tuple[str, list[str]]:
        """The session's statement for a request to `path`, and the names of its scalars."""
        known = self._statements.get(path)
        if known is not None:
            return known
        scalars = [scalar for scalar, paths in self._scalars.values() if path in paths]
        if not scalars:  # most pages: the session's own statement, composed once
            return _PLAIN
        columns = "".join(
            f"    {_without_comments(scalar.sql)} AS along_{scalar.name}__,\n" for scalar in scalars
        )
        statement = _SESSION_USER.replace(_SCALARS_GO_HERE, columns)
        answer = (statement, [scalar.name for scalar in scalars])
        self._statements[path] = answer  # only the few paths that use a scalar are kept
        return answer


_PLAIN: tuple[str, list[str]] = (_SESSION_USER.replace(_SCALARS_GO_HERE, ""), [])


def _without_comments(sql: str) -> str:
    """A subquery's lines but its whole-line comments (one of them last would swallow the
    column's name), on one line."""
    lines = (line.strip() for line in sql.splitlines())
    return " ".join(line for line in lines if line and not line.startswith("--"))


SESSION_SCALARS: Wire[SessionScalars] = Wire("accounts.session_scalars")


def _scalars() -> SessionScalars | None:
    try:
        return SESSION_SCALARS.get()
    except NotWired:  # a command or a test without an app's wiring: the session alone
        return None


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def mask_address(address: str) -> str:
    """What a person may see of where a session signed in: the network, not the device."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if isinstance(parsed, ipaddress.IPv4Address):
        return ".".join(str(parsed).split(".")[:3]) + ".x"
    network = ipaddress.IPv6Network(f"{parsed}/48", strict=False)
    return str(network)


def _privileges(user: User, now: datetime) -> str:
    """What the session's rights were when it began (changes rotate its key)."""
    member = user.member_until is not None and user.member_until > now
    return f"{user.staff_role or 'person'}:{'member' if member else 'reader'}"


async def load(key: str, *, now: datetime, lifetimes: Lifetimes, path: str = "") -> Session | None:
    """The live session this key opens, with its account (and the scalars the page at `path`
    uses, SessionScalars); None for an unknown key, and an expired one is ended (deleted)
    here."""
    if not key or len(key) > 100:
        return None
    digest = key_digest(key)
    scalars = _scalars()
    statement, names = scalars.for_path(path) if scalars else (_SESSION_USER, [])
    row = await fetch_one(statement, [digest])
    if row is None:
        return None
    account = dict(row)
    session = from_row(
        Session,
        id=account.pop("session_id__"),
        user_id=account["id"],
        key_hash=digest,
        created_at=account.pop("session_created__"),
        last_seen_at=account.pop("session_seen__"),
        user_agent=account.pop("session_agent__"),
        address=account.pop("session_address__"),
        privileges=account.pop("session_privileges__"),
        data=account.pop("session_data__"),
    )
    unread = account.pop("session_unread__")
    along = {name: account.pop(f"along_{name}__") for name in names}
    session.user = from_row(User, **account) if account["id"] is not None else None
    if session.user is not None:
        session.user.unread_at_load = int(unread)
        session.user.read_with_session = along
    expired = now - session.last_seen_at > lifetimes.idle or (
        now - session.created_at > lifetimes.absolute
    )
    # A cancelled account's sessions all ended when it asked (accounts.leaving); one begun
    # in the same instant ends here.
    if expired or (session.user is not None and session.user.erase_after is not None):
        await Session.filter(id=session.id).delete()
        return None
    return session


async def begin_with_key(
    key: str,
    user: User | None,
    *,
    now: datetime,
    user_agent: str,
    address: str,
    data: dict[str, Any],
    began_at: datetime | None = None,
) -> tuple[str, Session]:
    """A new session under `key` (chosen by web.sessions: a visitor's key whose CSRF token is
    bound to it, or a new one). `began_at`: when the person signed in, for a session that
    only takes a new key with new rights (its created_at stays the sign-in's: the absolute
    lifetime and a fresh sign-in's proof, accounts.leaving, count from it)."""
    session = await Session.create(
        user=user,
        key_hash=key_digest(key),
        created_at=began_at or now,
        last_seen_at=now,
        user_agent=user_agent[:MAX_USER_AGENT],
        address=mask_address(address),
        privileges=_privileges(user, now) if user else "",
        data=data,
    )
    return key, session


def privileges_changed(session: Session, now: datetime) -> bool:
    return session.user is not None and session.privileges != _privileges(session.user, now)


async def save(session: Session, *, data: dict[str, Any], now: datetime) -> None:
    """Keep the session's data, and note that it was seen (at most once a minute)."""
    changes: dict[str, Any] = {}
    if data != session.data:
        changes["data"] = data
    if now - session.last_seen_at >= TOUCH_EVERY:
        changes["last_seen_at"] = now
    if changes:
        await Session.filter(id=session.id).update(**changes)


async def end(session_id: int) -> None:
    await Session.filter(id=session_id).delete()


async def end_all_but(
    user_id: int,
    *,
    keep_session_id: int | None,
    now: datetime,
    keep_token_digest: str | None = None,
) -> None:
    """End every session of the account but one, and every API token but one (a password
    change keeps the browser changing it, and no token)."""
    others = Session.filter(user_id=user_id)
    if keep_session_id is not None:
        others = others.exclude(id=keep_session_id)
    await others.delete()
    tokens = ApiToken.filter(user_id=user_id, revoked_at=None)
    if keep_token_digest is not None:
        tokens = tokens.exclude(token_hash=keep_token_digest)
    await tokens.update(revoked_at=now)


async def sign_out_everywhere_else(
    user: User,
    *,
    now: datetime,
    current_session_id: int | None = None,
    current_token_digest: str | None = None,
) -> None:
    """End every browser session and API token of the account but the caller's own: the
    browser session it asks from (`current_session_id`, the account page) or the bearer token
    it carries (`current_token_digest`, the API). Raises nothing: with no other way in, it
    ends nothing."""
    await end_all_but(
        user.id,
        keep_session_id=current_session_id,
        keep_token_digest=current_token_digest,
        now=now,
    )


@dataclass(frozen=True)
class OpenSession:
    """A way into the account, as its owner sees it: a browser session or an API token."""

    id: str  # "s<id>" for a session, "t<id>" for a token
    kind: str
    created_at: datetime
    last_seen_at: datetime | None
    user_agent: str
    address: str
    current: bool


async def open_sessions(
    user: User, *, current_session_id: int | None = None, current_token_id: int | None = None
) -> list[OpenSession]:
    """The account's live sessions and tokens, the most recently used first."""
    found = [
        OpenSession(
            id=f"s{s.id}",
            kind="session",
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            user_agent=s.user_agent,
            address=s.address,
            current=s.id == current_session_id,
        )
        for s in await Session.filter(user_id=user.id)
    ]
    found += [
        OpenSession(
            id=f"t{t.id}",
            kind="token",
            created_at=t.created_at,
            last_seen_at=t.last_used_at,
            user_agent=t.name,
            address="",
            current=t.id == current_token_id,
        )
        for t in await ApiToken.filter(user_id=user.id, revoked_at=None)
    ]
    return sorted(found, key=lambda s: s.last_seen_at or s.created_at, reverse=True)


async def end_open_session(user: User, session_id: str, *, now: datetime) -> None:
    """End one of the account's sessions or tokens by its id. Raises SessionNotFound."""
    kind, number = session_id[:1], session_id[1:]
    if kind not in ("s", "t") or not number.isdigit() or len(number) > 10:
        raise SessionNotFound()
    if kind == "s":
        ended = await Session.filter(id=int(number), user_id=user.id).delete()
    else:
        ended = await ApiToken.filter(Q(revoked_at=None), id=int(number), user_id=user.id).update(
            revoked_at=now
        )
    if not ended:
        raise SessionNotFound()

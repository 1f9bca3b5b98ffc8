"""WeChat's JS-SDK for pages opened inside WeChat's browser: the official account's access token
and jsapi_ticket, kept in the database and refreshed by one job for every host, and the signed
wx.config a page sets its share (title, description, picture) with.

Rules:
- WeChat keeps one access token and one jsapi_ticket per AppID, and each new fetch makes the
  previous one invalid: so hosts never fetch them for themselves. One periodic job
  (jobs.schedule, accounts.refresh_wechat_jssdk) fetches a new one when less than
  REFRESH_BEFORE of it is left and stores it (WechatCredential); pages only read the row.
- One refresh at a time per AppID: a refresh first claims the row with a conditional UPDATE,
  so two hosts (or two runs of the job) never fetch at once and store the invalidated token.
- A ticket refused because its token is no longer the latest (someone fetched one outside this
  app) or has expired gets one new token and one more try.
- The signature is WeChat's (JS-SDK appendix 1): sha1 of
  "jsapi_ticket=…&noncestr=…&timestamp=…&url=…", the fields in that (ASCII) order, raw values,
  the page's URL without its #fragment.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from accounts.errors import WechatCodeRefused
from accounts.models import WechatCredential
from accounts.wechat import OFFICIAL, Issued, WechatClient

REFRESH_BEFORE = timedelta(minutes=20)  # the job runs every 5 minutes: four chances
# A refresh is two calls of at most ~13 s each; a host that died holding the claim keeps
# others out this long.
CLAIM_FOR = timedelta(minutes=2)
# What WeChat says a token lasts, less a margin for the time its answer took to arrive.
EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class Refreshed:
    """What one refresh fetched (for the job's log line)."""

    access_token: bool
    jsapi_ticket: bool


def signature(ticket: str, nonce_str: str, timestamp: int, url: str) -> str:
    """WeChat's JS-SDK signature of a page at `url` (its #fragment is not signed)."""
    page = url.split("#", 1)[0]
    text = f"jsapi_ticket={ticket}&noncestr={nonce_str}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


async def share_config(app_id: str | None, *, url: str, now: datetime) -> dict[str, Any] | None:
    """wx.config's appId, timestamp, nonceStr and signature for the page at `url`, signed with
    the stored ticket; None without an official account (`app_id`) or a working ticket yet.
    Reads the database only: never asks WeChat."""
    if app_id is None:
        return None
    stored = await WechatCredential.get_or_none(app_id=app_id)
    if stored is None or not _working(stored.jsapi_ticket, stored.jsapi_ticket_expires_at, now):
        return None
    nonce_str = secrets.token_hex(8)
    timestamp = int(now.timestamp())
    return {
        "appId": app_id,
        "timestamp": timestamp,
        "nonceStr": nonce_str,
        "signature": signature(stored.jsapi_ticket, nonce_str, timestamp, url),
    }


async def refresh(client: WechatClient, *, now: datetime) -> Refreshed | None:
    """Fetch and store a new access token and jsapi_ticket of the official account when less
    than REFRESH_BEFORE of either is left (the periodic job's work). None when nothing was due,
    there is no official account, or another refresh holds the claim. Raises WechatNotSetUp
    (WeChat refused the AppID or secret), WechatUnavailable; what was fetched before the error
    is stored."""
    app = client.apps[OFFICIAL]
    if app is None:
        return None
    stored, _ = await WechatCredential.get_or_create(app_id=app.app_id)
    if not _due(stored, now) or not await _claim(app.app_id, now):
        return None
    try:
        # Read again under the claim: a refresh that ended since the first read did the work.
        stored = await WechatCredential.get(app_id=app.app_id)
        if not _due(stored, now):
            return None
        return await _refresh_claimed(client, stored, now)
    finally:
        await WechatCredential.filter(app_id=app.app_id).update(refresh_claimed_at=None)


async def _refresh_claimed(
    client: WechatClient, stored: WechatCredential, now: datetime
) -> Refreshed:
    soon = now + REFRESH_BEFORE
    new_token = not _working(stored.access_token, stored.access_token_expires_at, soon)
    if new_token:
        await _store_token(stored, await client.official_access_token(), now)
    if _working(stored.jsapi_ticket, stored.jsapi_ticket_expires_at, soon):
        return Refreshed(access_token=new_token, jsapi_ticket=False)
    try:
        ticket = await client.jsapi_ticket(stored.access_token)
    except WechatCodeRefused:
        if new_token:
            raise  # refused a token issued a moment ago: a second one would fare no better
        # Our token is no longer the latest (fetched outside this app) or ran out early.
        await _store_token(stored, await client.official_access_token(), now)
        new_token = True
        ticket = await client.jsapi_ticket(stored.access_token)
    stored.jsapi_ticket = ticket.value
    stored.jsapi_ticket_expires_at = _expires(ticket, now)
    stored.refreshed_at = now
    await stored.save(update_fields=("jsapi_ticket", "jsapi_ticket_expires_at", "refreshed_at"))
    return Refreshed(access_token=new_token, jsapi_ticket=True)


async def _store_token(stored: WechatCredential, token: Issued, now: datetime) -> None:
    # Stored at once: the previous token stopped working when this one was issued.
    stored.access_token = token.value
    stored.access_token_expires_at = _expires(token, now)
    stored.refreshed_at = now
    await stored.save(update_fields=("access_token", "access_token_expires_at", "refreshed_at"))


async def _claim(app_id: str, now: datetime) -> bool:
    """Whether this refresh may go on: one at a time per AppID (the conditional UPDATE)."""
    unclaimed = Q(refresh_claimed_at__isnull=True) | Q(refresh_claimed_at__lt=now - CLAIM_FOR)
    claimed = await WechatCredential.filter(unclaimed, app_id=app_id).update(refresh_claimed_at=now)
    return claimed == 1


def _due(stored: WechatCredential, now: datetime) -> bool:
    return not (
        _working(stored.access_token, stored.access_token_expires_at, now + REFRESH_BEFORE)
        and _working(stored.jsapi_ticket, stored.jsapi_ticket_expires_at, now + REFRESH_BEFORE)
    )


def _working(value: str, expires_at: datetime | None, at: datetime) -> bool:
    return bool(value) and expires_at is not None and expires_at > at


def _expires(issued: Issued, now: datetime) -> datetime:
    return now + timedelta(seconds=issued.expires_in) - EXPIRY_MARGIN

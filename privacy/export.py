"""A member's copy of everything Shuyuan holds about them (PIPL art. 45): asked for on a page
or the API, written by a job as a ZIP into the storage (the object "exports/<name>": a bucket
every host reads, or var/exports/ on local disk), offered through a link that expires.

How a copy goes:
1. `request_export` saves it pending (the one in progress is returned again; one an hour).
2. The job (`write_pending`) claims it with one guarded UPDATE, writes the ZIP
   (privacy.writing) on its own disk and puts it into the storage, then in one transaction
   marks it ready with its link's digest, expires the person's older copy and tells them: a
   mail to a verified address, else the inbox.
3. The owner, signed in, downloads it with the link's token until `expires_at`; then
   `expire_old` deletes the object and marks it expired.

The link's token is derived from the app's secret key and the file's random name (an HMAC), so
the database holds only its SHA-256 and the page can still show the link to its owner.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

import links
from accounts import mail_layout, notices, outbox
from accounts.models import User
from privacy.errors import ExportExpired, ExportNotFound, ExportTooSoon
from privacy.models import DataExport, ExportState
from privacy.notices import EXPORT_READY
from privacy.writing import write_zip
from storage import STORAGE
from translation import supported, translations
from web.rendering import shanghai_time

log = logging.getLogger(__name__)

ASK_EVERY = timedelta(hours=1)  # one copy an hour per person
LEASE = timedelta(minutes=10)  # a claim left this long (its worker died) is taken again
MOST_ATTEMPTS = 3  # then the copy is failed, and its owner may ask again
WRITE_AT_ONCE = 5  # copies one job run writes


FOLDER = "exports/"  # the storage's keys of the copies: "exports/<file_name>"


def key_of(file_name: str) -> str:
    """The storage's key of the copy in `file_name`."""
    return FOLDER + file_name


def scratch(var_dir: Path) -> Path:
    """Where the job writes a ZIP before it goes into the storage (a folder no key can name:
    keys never start with a dot)."""
    return var_dir / ".exports-writing"


def link_token(file_name: str) -> str:
    """The download link's token of the copy in `file_name` (only its digest is stored)."""
    key = notices.letterhead().secret.encode()
    mac = hmac.new(key, b"privacy.export:" + file_name.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def told_by(user: User) -> str:
    """Where a person is told their copy is ready: "mail" (a verified address) or "inbox"."""
    return "mail" if user.email and user.email_verified_at else "inbox"


def download_path(export: DataExport, now: datetime) -> str | None:
    """The link of a ready copy while it works, for its owner's page; else None."""
    if not valid(export, now) or export.file_name is None:
        return None
    return links.path("privacy.download", token=link_token(export.file_name))


def valid(export: DataExport, now: datetime) -> bool:
    return (
        export.state == ExportState.READY
        and export.expires_at is not None
        and now < export.expires_at
    )


async def latest_export(user: User) -> DataExport | None:
    return await DataExport.filter(user_id=user.id).order_by("-id").first()


async def exports_of(user: User, *, limit: int = 10) -> list[DataExport]:
    return await DataExport.filter(user_id=user.id).order_by("-id").limit(limit)


async def request_export(user: User, now: datetime) -> DataExport:
    """Ask for a copy of everything held about `user`: a pending DataExport the job writes.
    The copy still pending is returned as it is; otherwise one an hour (ExportTooSoon, 429
    with the seconds to wait), a failed one not counted."""
    async with in_transaction():
        # Two requests at once: the second waits for the first's row (PostgreSQL), then sees it.
        await User.filter(id=user.id).select_for_update().first()
        latest = await DataExport.filter(user_id=user.id).order_by("-id").first()
        if latest is not None and latest.state == ExportState.PENDING:
            return latest
        if latest is not None and latest.state != ExportState.FAILED:
            wait = latest.requested_at + ASK_EVERY - now
            if wait > timedelta(0):
                raise ExportTooSoon(int(wait.total_seconds()) + 1)
        return await DataExport.create(user_id=user.id, requested_at=now)


async def download(user: User, token: str, now: datetime) -> tuple[DataExport, str]:
    """The storage's key of `user`'s copy behind the link `token`. Raises ExportNotFound (no
    such link, or someone else's), ExportExpired (410: its time is over, the file gone)."""
    if not 20 <= len(token) <= 100:
        raise ExportNotFound()
    export = await DataExport.get_or_none(token_hash=token_digest(token), user_id=user.id)
    if export is None:
        raise ExportNotFound()
    if not valid(export, now) or export.file_name is None:
        raise ExportExpired()
    key = key_of(export.file_name)
    if not await STORAGE.get().exists(key):
        raise ExportExpired()
    return export, key


@dataclass(frozen=True)
class Written:
    ready: int
    failed: int


async def write_pending(*, var_dir: Path, link_hours: int, now: datetime) -> Written:
    """The job: write up to WRITE_AT_ONCE pending copies, oldest first, each once (each ZIP
    under `var_dir` first, then into the storage)."""
    candidates = cast(
        list[int],
        await DataExport.filter(
            Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - LEASE), state=ExportState.PENDING
        )
        .order_by("id")
        .limit(WRITE_AT_ONCE)
        .values_list("id", flat=True),
    )
    ready = failed = 0
    for export_id in candidates:
        outcome = await _write_one(export_id, var_dir=var_dir, link_hours=link_hours, now=now)
        ready += outcome == ExportState.READY
        failed += outcome == ExportState.FAILED
    return Written(ready, failed)


async def _write_one(
    export_id: int, *, var_dir: Path, link_hours: int, now: datetime
) -> ExportState | None:
    # Invariant "two workers never write one copy": the claim is one conditional UPDATE (a
    # pending copy nobody holds, or whose holder's lease ran out); only its winner writes,
    # and the copy becomes ready only under the attempt number its claim set.
    claimed = await DataExport.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - LEASE),
        id=export_id,
        state=ExportState.PENDING,
    ).update(claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    export = await DataExport.get(id=export_id)
    user = await User.get(id=export.user_id)
    storage = STORAGE.get()
    place = scratch(var_dir)
    place.mkdir(parents=True, exist_ok=True)
    file_name = secrets.token_urlsafe(24) + ".zip"
    path = place / file_name
    key = key_of(file_name)
    try:
        size = await write_zip(user, path, now=now)
        await storage.put(key, await asyncio.to_thread(path.read_bytes), "application/zip")
        path.unlink()
        token = link_token(file_name)
        expires_at = now + timedelta(hours=link_hours)
        async with in_transaction():
            done = await DataExport.filter(
                id=export.id, state=ExportState.PENDING, attempts=export.attempts
            ).update(
                state=ExportState.READY, file_name=file_name, size_bytes=size, ready_at=now,
                expires_at=expires_at, token_hash=token_digest(token),
            )  # fmt: skip
            if not done:  # its lease ran out and another worker took it: theirs stands
                await storage.delete(key)
                return None
            older = await _expire(
                DataExport.filter(user_id=user.id, state=ExportState.READY, id__lt=export.id)
            )
            await _tell(user, export.id, token, expires_at, now)
    except Exception:
        path.unlink(missing_ok=True)
        with contextlib.suppress(Exception):  # else sweep_orphans deletes it after LEASE
            await storage.delete(key)
        log.exception("a copy of a member's data could not be written", extra={"export": export_id})
        if export.attempts >= MOST_ATTEMPTS:
            await DataExport.filter(id=export.id, attempts=export.attempts).update(
                state=ExportState.FAILED
            )
            return ExportState.FAILED
        return None
    await _delete(older)
    return ExportState.READY


async def _expire(rows: object) -> list[str]:
    """Mark the ready copies `rows` (a query) expired; their file names, to delete after."""
    found = await rows.values_list("id", "file_name")  # type: ignore[attr-defined]
    ids = [row[0] for row in found]
    if ids:
        await DataExport.filter(id__in=ids, state=ExportState.READY).update(
            state=ExportState.EXPIRED, file_name=None
        )
    return [row[1] for row in found if row[1]]


async def _delete(file_names: list[str]) -> None:
    storage = STORAGE.get()
    for name in file_names:
        await storage.delete(key_of(name))


async def expire_old(*, now: datetime) -> int:
    """The job: copies whose link has expired lose their object and are marked expired;
    objects no copy names any more are swept (sweep_orphans)."""
    names = await _expire(DataExport.filter(state=ExportState.READY, expires_at__lte=now))
    await _delete(names)
    await sweep_orphans(now=now)
    return len(names)


async def sweep_orphans(*, now: datetime) -> int:
    """Delete the stored copies that no copy names and that are older than LEASE (a worker
    stores its ZIP before the copy names it, and gives up within its lease): a copy whose row
    was deleted meanwhile (its owner erased) or whose worker died. Returns how many."""
    storage = STORAGE.get()
    names = [key.removeprefix(FOLDER) for key in await storage.keys(FOLDER) if key.endswith(".zip")]
    if not names:
        return 0
    named = set(
        cast(
            list[str],
            await DataExport.filter(file_name__in=names).values_list("file_name", flat=True),
        )
    )
    orphans = 0
    for name in names:
        if name in named:
            continue
        stored = await storage.stat(key_of(name))
        if stored is not None and stored.modified < now - LEASE:
            await storage.delete(key_of(name))
            orphans += 1
    if orphans:
        log.info("copies no export names deleted", extra={"files": orphans})
    return orphans


async def _tell(
    user: User, export_id: int, token: str, expires_at: datetime, now: datetime
) -> None:
    """Tell the owner their copy is ready, in the transaction that made it so: by mail to a
    verified address (the link in it), else in the inbox (pointing at their data page,
    which shows the link)."""
    expires = shanghai_time(expires_at)
    if told_by(user) == "inbox":
        await notices.notify(
            user.id, kind=EXPORT_READY, params={"expires": expires},
            link=links.path("privacy.data_page"), now=now,
        )  # fmt: skip
        return
    locale = supported(user.locale)
    _ = translations(locale).gettext
    subject = _("The copy of your data is ready")
    url = links.absolute_with_token("privacy.download", token)
    text, body = mail_layout.compose(
        mail_layout.MailContent(
            heading=subject,
            lines=(
                _("You asked for a copy of everything Shuyuan holds about you: it is ready, a ZIP of JSON files with a README."),  # noqa: E501
                _("Sign in as yourself to download it: the link works only for you."),
            ),
            action=(_("Download your data"), url),
            after=(_("The link works until %(expires)s (Beijing time); then the copy is deleted.") % {"expires": expires},),  # noqa: E501
            preheader=subject,
        ),
        mail_layout.Footer(why=_("You get this mail because you asked for a copy of your data on Shuyuan.")),  # noqa: E501
        locale=locale,
        subject=subject,
    )  # fmt: skip
    assert user.email is not None  # told_by: a verified address
    await outbox.enqueue(
        channel="mail", recipient=user.email, subject=subject, text=text, html=body,
        key=f"privacy.export:{export_id}", now=now,
    )  # fmt: skip

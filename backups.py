"""Backups of the uploads: every stored object copied into a dated snapshot, old snapshots deleted.

`shuyuan backup-storage --to WHERE` copies each object of the app's storage (storage.py: the
bucket, or the files under var_dir) into the snapshot WHERE/<UTC time>/<key>, in a folder (on
the backup host, beside the database's dumps) or in another bucket of the same provider
(s3://bucket/prefix, with the app's S3_* endpoint and keys). An object unchanged since the last
snapshot (same size and ETag) is not read again: a folder hard-links the last snapshot's file, a
bucket copies it inside the bucket. The snapshot's manifest, <time>.json beside it, is written
last and lists each key with its size, ETag, type and SHA-256: a snapshot without one was cut
short and is never restored from. Snapshots older than the retention (30 days at most:
docs/privacy.md) are deleted after a snapshot succeeded, so the newest one is never deleted.
`shuyuan restore-storage --from WHERE` puts a snapshot's objects back, each checked against its
SHA-256 first. docs/backups.md is the operator's page.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import mimetypes
import os
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from settings import Settings
from storage import InvalidKey, LocalStorage, NotStored, S3Storage, Storage, check_key

# docs/privacy.md: a backup is kept 30 days at most, so an erased person is gone from every
# copy 30 days after their erasure.
MAX_KEEP_DAYS = 30
# A snapshot without its manifest this long after it began was cut short: deleted.
UNFINISHED_AFTER = timedelta(days=1)
# Objects copied at once: a bucket answers each request in tens of milliseconds; an object is
# held whole in memory while copied (51 MiB at most, a morning's voice).
PARALLEL = 4
_STAMP = re.compile(r"^\d{8}T\d{6}Z$")
_T = TypeVar("_T")


class BackupError(Exception):
    """A backup or a restore that cannot be made as asked (the message says why)."""


def stamp(moment: datetime) -> str:
    """A snapshot's name: its UTC time, sorting as time does ("20250301T031000Z")."""
    return moment.strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Entry:
    """One object of a snapshot, as its manifest lists it."""

    key: str
    size: int
    etag: str
    content_type: str
    sha256: str


@dataclass(frozen=True)
class Report:
    """What a backup or a restore did."""

    snapshot: str
    objects: int
    copied: int
    unchanged: int
    bytes_copied: int
    deleted: tuple[str, ...] = ()


class Destination(ABC):
    """Where snapshots are kept: <snapshot>/<key> for each object, and <snapshot>.json, its
    manifest, written last."""

    def __init__(self, store: Storage, prefix: str) -> None:
        self.store = store
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    @abstractmethod
    async def names(self) -> tuple[list[str], list[str]]:
        """Every snapshot present (finished or not), and those with a manifest (finished)."""

    @abstractmethod
    async def reuse(self, previous: str, snapshot: str, key: str) -> None:
        """The object `key` of `previous` in `snapshot` too, without reading it: NotStored
        when `previous` does not have it any more."""

    @abstractmethod
    async def remove(self, snapshot: str) -> None:
        """Delete a snapshot, its manifest first (it is never restored from half deleted)."""

    async def finished(self) -> list[str]:
        """The snapshots that can be restored from, oldest first."""
        return sorted((await self.names())[1])

    async def manifest(self, snapshot: str) -> list[Entry]:
        document = json.loads(await self.store.get(self.key(f"{snapshot}.json")))
        return [Entry(**entry) for entry in document["objects"]]

    async def write_manifest(self, snapshot: str, entries: list[Entry], source: str) -> None:
        document = {
            "snapshot": snapshot,
            "source": source,
            "objects": [asdict(entry) for entry in sorted(entries, key=lambda e: e.key)],
        }
        body = json.dumps(document, ensure_ascii=False, indent=1).encode()
        await self.store.put(self.key(f"{snapshot}.json"), body, "application/json")

    async def prepare(self) -> None:
        """Make the place ready for a first snapshot (a bucket is ready as it is)."""
        return

    async def aclose(self) -> None:
        await self.store.aclose()


class Folder(Destination):
    """Snapshots in a folder (the backup host's disk); only its owner may enter it."""

    def __init__(self, root: Path) -> None:
        super().__init__(LocalStorage(root), "")
        self.root = root

    async def names(self) -> tuple[list[str], list[str]]:
        def listing() -> tuple[list[str], list[str]]:
            if not self.root.is_dir():
                return [], []
            present = [p.name for p in self.root.iterdir() if _STAMP.match(p.name) and p.is_dir()]
            finished = [
                p.stem for p in self.root.glob("*.json") if _STAMP.match(p.stem) and p.is_file()
            ]
            return sorted({*present, *finished}), finished

        return await asyncio.to_thread(listing)

    async def reuse(self, previous: str, snapshot: str, key: str) -> None:
        def link() -> None:
            target = self.root / snapshot / key
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(self.root / previous / key, target)
            except FileNotFoundError:
                raise NotStored(key) from None

        await asyncio.to_thread(link)

    async def remove(self, snapshot: str) -> None:
        def delete() -> None:
            (self.root / f"{snapshot}.json").unlink(missing_ok=True)
            if (self.root / snapshot).exists():  # an error stops the run: 30 days are a promise
                shutil.rmtree(self.root / snapshot)

        await asyncio.to_thread(delete)

    async def prepare(self) -> None:
        await asyncio.to_thread(self.root.mkdir, mode=0o700, parents=True, exist_ok=True)


class Bucket(Destination):
    """Snapshots under a prefix of another bucket of the app's provider."""

    store: S3Storage

    def __init__(self, store: S3Storage, prefix: str) -> None:
        super().__init__(store, prefix)

    async def _s3(self, call: Callable[..., _T], /, **params: Any) -> _T:
        """`call(**params)` of the bucket's client in a thread: NotStored when the object is
        missing, BackupError when the bucket refuses or cannot be reached."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(call, Bucket=self.store.bucket, **params)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise NotStored(str(params.get("Key", ""))) from None
            raise BackupError(f"the bucket {self.store.bucket} refused: {error}") from error
        except BotoCoreError as error:
            raise BackupError(f"the bucket {self.store.bucket} is out of reach: {error}") from error

    async def _list(self, prefix: str, **more: str) -> list[dict[str, Any]]:
        def pages(**params: Any) -> list[dict[str, Any]]:
            paginator = self.store.client.get_paginator("list_objects_v2")
            return [dict(page) for page in paginator.paginate(**params)]

        return await self._s3(pages, Prefix=prefix, **more)

    async def names(self) -> tuple[list[str], list[str]]:
        start = self.key("") + "/" if self.prefix else ""
        pages = await self._list(start, Delimiter="/")
        folders = [
            found["Prefix"][len(start) :].rstrip("/")
            for page in pages
            for found in page.get("CommonPrefixes", [])
        ]
        files = [found["Key"][len(start) :] for page in pages for found in page.get("Contents", [])]
        finished = [name.removesuffix(".json") for name in files if name.endswith(".json")]
        finished = [name for name in finished if _STAMP.match(name)]
        present = [name for name in folders if _STAMP.match(name)]
        return sorted({*present, *finished}), finished

    async def reuse(self, previous: str, snapshot: str, key: str) -> None:
        await self._s3(
            self.store.client.copy_object,
            Key=self.key(snapshot, key),
            CopySource={"Bucket": self.store.bucket, "Key": self.key(previous, key)},
        )

    async def remove(self, snapshot: str) -> None:
        await self.store.delete(self.key(f"{snapshot}.json"))
        pages = await self._list(self.key(snapshot) + "/")
        keys = [found["Key"] for page in pages for found in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys at most
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            await self._s3(
                self.store.client.delete_objects, Delete={"Objects": batch, "Quiet": True}
            )


def destination(where: str, settings: Settings) -> Destination:
    """The snapshots' place `where` names: "s3://bucket/prefix" (another bucket, reached with
    the app's S3_* endpoint and keys), else a folder."""
    if not where.startswith("s3://"):
        folder = Path(where).resolve()
        if settings.storage == "local" and folder.is_relative_to(settings.var_dir.resolve()):
            raise BackupError(f"{folder} is inside the storage's own folder {settings.var_dir}")
        return Folder(folder)
    bucket, _, prefix = where.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    if settings.s3 is None:
        raise BackupError("an s3:// place is reached with the S3_* settings: set them")
    if not bucket or bucket == settings.s3.bucket:
        raise BackupError("snapshots go to another bucket than the uploads' own")
    try:
        if prefix:
            check_key(prefix)
    except InvalidKey as error:
        raise BackupError(f"not a usable prefix: {prefix!r}") from error
    return Bucket(S3Storage(replace(settings.s3, bucket=bucket)), prefix)


async def _every_key(source: Storage) -> list[str]:
    """Every object's key. A bucket lists them all; a folder is walked (Storage.keys reads one
    folder), its temporary files (".name.partial") and any name that is no key left out."""
    if not isinstance(source, LocalStorage):
        return await source.keys("")

    def walk() -> list[str]:
        found = []
        for folder, subfolders, files in os.walk(source.root):
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            for name in files:
                key = (Path(folder) / name).relative_to(source.root).as_posix()
                try:
                    found.append(check_key(key))
                except InvalidKey:
                    continue
        return sorted(key for key in found if not key.rpartition("/")[2].startswith("."))

    return await asyncio.to_thread(walk)


async def _bounded(
    work: Callable[[_T], Awaitable[Entry | None]], items: Iterable[_T]
) -> list[Entry]:
    """`work` on every item, PARALLEL at a time; what it returned, Nones left out."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(item: _T) -> Entry | None:
        async with gate:
            return await work(item)

    return [entry for entry in await asyncio.gather(*map(one, items)) if entry is not None]


async def back_up(
    source: Storage, place: Destination, *, now: datetime, keep_days: int = MAX_KEEP_DAYS
) -> Report:
    """Copy every object of `source` into a new snapshot at `place`, then delete the
    snapshots older than `keep_days` and those left unfinished. BackupError when keep_days is
    not 1 to 30, or a snapshot of this second exists."""
    if not 1 <= keep_days <= MAX_KEEP_DAYS:
        raise BackupError(f"keep_days must be 1 to {MAX_KEEP_DAYS} (docs/privacy.md)")
    await place.prepare()
    name = stamp(now)
    present, finished = await place.names()
    if name in present:
        raise BackupError(f"a snapshot {name} exists already")
    previous = max(finished, default=None)
    before = {entry.key: entry for entry in await place.manifest(previous)} if previous else {}
    copied: list[int] = []

    async def copy(key: str) -> Entry | None:
        stored = await source.stat(key)
        if stored is None:
            return None  # deleted since it was listed
        last = before.get(key)
        if previous and last and (last.size, last.etag) == (stored.size, stored.etag):
            with contextlib.suppress(NotStored):  # gone from the last snapshot: read it again
                await place.reuse(previous, name, key)
                return last
        try:
            data = await source.get(key)
        except NotStored:
            return None
        kind = stored.content_type
        if isinstance(source, LocalStorage):  # files keep no type: a restore to a bucket needs one
            kind = mimetypes.guess_type(key)[0] or kind
        entry = Entry(key, len(data), stored.etag, kind, hashlib.sha256(data).hexdigest())
        await place.store.put(place.key(name, key), data, kind)
        copied.append(len(data))
        return entry

    entries = await _bounded(copy, await _every_key(source))
    await place.write_manifest(name, entries, source.kind)
    deleted = await prune(place, now=now, keep_days=keep_days)
    return Report(name, len(entries), len(copied), len(entries) - len(copied), sum(copied), deleted)


async def prune(place: Destination, *, now: datetime, keep_days: int) -> tuple[str, ...]:
    """Delete the snapshots taken more than `keep_days` ago, and those begun more than a day
    ago and never finished; their names."""
    old, unfinished = stamp(now - timedelta(days=keep_days)), stamp(now - UNFINISHED_AFTER)
    present, finished = await place.names()
    doomed = [
        name for name in present if name < old or (name < unfinished and name not in finished)
    ]
    for name in doomed:
        await place.remove(name)
    return tuple(doomed)


async def restore(place: Destination, target: Storage, *, snapshot: str | None = None) -> Report:
    """Put every object of `snapshot` (the newest finished one by default) into `target`, each
    checked against its manifest's SHA-256 before it is written; an object `target` holds
    already (same size and ETag) is left as it is. Objects `target` has that the snapshot
    lacks stay. BackupError when there is no such snapshot, or an object is damaged."""
    finished = await place.finished()
    if not finished:
        raise BackupError("no finished snapshot there")
    name = snapshot or finished[-1]
    if name not in finished:
        raise BackupError(f"no finished snapshot {name} (there are {', '.join(finished)})")
    copied: list[int] = []

    async def put_back(entry: Entry) -> Entry | None:
        there = await target.stat(entry.key)
        if there is not None and (there.size, there.etag) == (entry.size, entry.etag):
            return entry
        data = await place.store.get(place.key(name, entry.key))
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise BackupError(f"{entry.key} of snapshot {name} is damaged (its SHA-256 differs)")
        await target.put(entry.key, data, entry.content_type)
        copied.append(len(data))
        return entry

    entries = await _bounded(put_back, await place.manifest(name))
    return Report(name, len(entries), len(copied), len(entries) - len(copied), sum(copied))

"""Where uploads live: one small async interface, on local disk or in an S3-compatible bucket.

Uploads (feed audio, the podcast's artwork, product pictures, avatars, support pictures,
invoices) are named by keys like "audio/12-0a1b2c.mp3": LocalStorage keeps each as the file
<var_dir>/<key> (where they always were), S3Storage as the object <key> in one bucket, so that
every app host sees every upload. The app builds one from its settings (`from_settings`) and
binds it to the STORAGE wire (composition.py); code reads `STORAGE.get()`.

S3Storage uses boto3, blocking, in `asyncio.to_thread`: one client is thread-safe, each call
is one request, and aioboto3's aiobotocore pins botocore to its own range (an upgrade of either
waits on the other) for a gain that uploads (a few a minute) do not need; audio bytes go through
nginx (X-Accel-Redirect), not through this client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

from errors import ServiceUnavailable
from settings import S3Bucket, Settings
from wiring import Wire

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_Addressing = Literal["auto", "virtual", "path"]  # settings.S3_ADDRESSING_STYLES
MAX_KEY_LENGTH = 300
# Segments of letters, digits, "_", "-" and "." (never "." or ".." alone), joined by "/":
# nothing a file system or an nginx location would read differently, nothing to escape in a URL.
_SEGMENT = r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*"
_KEY = re.compile(rf"^{_SEGMENT}(/{_SEGMENT})*$")
CHUNK_BYTES = 256 * 1024
# How long the address nginx fetches an object from is valid: it uses it at once.
PRESIGNED_SECONDS = 60


class InvalidKey(ValueError):
    """A key outside the allowed shape: empty, too long, "..", odd characters."""


class NotStored(LookupError):
    """No object has this key."""


def check_key(key: str) -> str:
    """`key` if it names an object (see _KEY); InvalidKey else."""
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key) or ".." in key.split("/"):
        raise InvalidKey(f"not a storage key: {key[:80]!r}")
    return key


@dataclass(frozen=True)
class Stored:
    """What is known about a stored object without reading it."""

    size: int
    etag: str
    modified: datetime
    content_type: str


class Storage(ABC):
    """Objects by key; every method is a coroutine and may be called from any task. A storage
    that cannot answer (a bucket unreachable, refusing or too slow) raises
    errors.ServiceUnavailable: a 503 to try again, never a 500."""

    kind: str

    @abstractmethod
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there (readers see the old or the new
        object whole, never a part)."""

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """The object's bytes; NotStored when there is none."""

    @abstractmethod
    def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes start..end (inclusive) of the object, in chunks; NotStored when there is none."""

    @abstractmethod
    async def stat(self, key: str) -> Stored | None:
        """Size, ETag, modification time and type, or None when there is no such object."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Delete the object; nothing happens when there is none."""

    @abstractmethod
    async def keys(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix` (a folder "avatars/" or a name's start)."""

    @abstractmethod
    async def accel_target(self, key: str, *, method: str = "GET") -> str:
        """Where nginx's internal location fetches the object (after SHUYUAN_ACCEL_REDIRECT's
        prefix: deploy/nginx/media.conf) to answer a request of `method` (GET or HEAD: nginx
        keeps a HEAD a HEAD when it follows the redirect)."""

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def size(self, key: str) -> int:
        stored = await self.stat(key)
        if stored is None:
            raise NotStored(key)
        return stored.size

    async def move(self, key: str, to: str) -> None:
        """Give an object another key; nothing happens when there is none."""
        with contextlib.suppress(NotStored):
            stored = await self.stat(key)
            if stored is None:
                return
            await self.put(to, await self.get(key), stored.content_type)
            await self.delete(key)

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections (an app's lifespan ends)."""


class LocalStorage(Storage):
    """Files under `root` (settings.var_dir): one host, or a folder every host mounts."""

    kind = "local"
    # Folders only the app's own user may enter (mode 0o700, made so when first written):
    # pictures members send customer service, which the app alone serves, and the ledger of
    # departures (accounts.departures). Audio and members' copies of their data stay readable
    # by nginx, which reads them by X-Accel-Redirect.
    PRIVATE_FOLDERS = frozenset({"support", "ledger"})

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The file an object is kept in (it may not exist)."""
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        top, _, rest = check_key(key).partition("/")
        private = self.root / top if rest and top in self.PRIVATE_FOLDERS else None
        await asyncio.to_thread(self._write, self.path(key), data, private)

    def _write(self, path: Path, data: bytes, private: Path | None) -> None:
        if private is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            private.mkdir(mode=0o700, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)  # readers see the old file or the new one, whole

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotStored(key) from None

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        path = self.path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotStored(key) from None
        try:
            await asyncio.to_thread(handle.seek, start)
            left = end - start + 1
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def stat(self, key: str) -> Stored | None:
        path = self.path(key)
        try:
            found = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return Stored(
            size=found.st_size,
            etag=f'"{found.st_mtime_ns:x}-{found.st_size:x}"',
            modified=datetime.fromtimestamp(found.st_mtime, UTC),
            content_type="application/octet-stream",
        )

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    async def keys(self, prefix: str) -> list[str]:
        folder, _, start = prefix.rpartition("/")
        if folder:
            check_key(folder)
        where = self.root / folder if folder else self.root

        def listing() -> list[str]:
            if not where.is_dir():
                return []
            return sorted(
                f"{folder}/{entry.name}" if folder else entry.name
                for entry in where.iterdir()
                if entry.is_file()
                and entry.name.startswith(start)
                and not entry.name.startswith(".")
            )

        return await asyncio.to_thread(listing)

    async def move(self, key: str, to: str) -> None:
        source, target = self.path(key), self.path(to)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(os.replace, source, target)

    async def accel_target(self, key: str, *, method: str = "GET") -> str:
        return f"local/{check_key(key)}"

    async def aclose(self) -> None:
        """Nothing is held open between calls."""


class S3Storage(Storage):
    """Objects in one S3-compatible bucket (AWS, MinIO, Alibaba Cloud OSS, Tencent COS)."""

    kind = "s3"

    def __init__(self, bucket: S3Bucket) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket.bucket
        self.client: S3Client = boto3.client(
            "s3",
            endpoint_url=bucket.endpoint_url,
            region_name=bucket.region,
            aws_access_key_id=bucket.access_key_id,
            aws_secret_access_key=bucket.secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": cast(_Addressing, bucket.addressing_style)},
                # botocore 1.36+ adds CRC checksums to every upload by default, which OSS and
                # COS refuse or ignore: only where an operation requires one.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=32,
            ),
        )

    def _missing(self, error: Exception) -> bool:
        response: dict[str, Any] = getattr(error, "response", {}) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    async def _call(self, call: Callable[..., _T], /, **params: Any) -> _T:
        """`call(**params)` in a thread: NotStored when the object is missing, ServiceUnavailable
        (503, try again) when the bucket refuses (access denied, no such bucket, throttled),
        cannot be reached or does not answer in time (after botocore's retries)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(call, **params)
        except ClientError as error:
            if self._missing(error):
                raise NotStored(params.get("Key", "")) from None
            log.error("the bucket refused a request: %s", error)
            raise ServiceUnavailable() from error
        except BotoCoreError as error:
            log.error("the bucket could not be reached: %s", error)
            raise ServiceUnavailable() from error

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._call(
            self.client.put_object,
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str) -> bytes:
        def read(**params: Any) -> bytes:
            answer = self.client.get_object(**params)
            with contextlib.closing(answer["Body"]) as body:
                return body.read()

        return await self._call(read, Bucket=self.bucket, Key=check_key(key))

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        answer = await self._call(
            self.client.get_object,
            Bucket=self.bucket,
            Key=check_key(key),
            Range=f"bytes={start}-{end}",
        )
        body = answer["Body"]
        try:
            chunks: Iterator[bytes] = body.iter_chunks(CHUNK_BYTES)
            while chunk := await asyncio.to_thread(next, chunks, b""):
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def stat(self, key: str) -> Stored | None:
        try:
            head = await self._call(self.client.head_object, Bucket=self.bucket, Key=check_key(key))
        except NotStored:
            return None
        return Stored(
            size=head["ContentLength"],
            etag=head["ETag"],
            modified=head["LastModified"],
            content_type=head.get("ContentType") or "application/octet-stream",
        )

    async def delete(self, key: str) -> None:
        with contextlib.suppress(NotStored):
            await self._call(self.client.delete_object, Bucket=self.bucket, Key=check_key(key))

    async def keys(self, prefix: str) -> list[str]:
        folder = prefix.rpartition("/")[0]
        if folder:
            check_key(folder)

        def listing(**params: Any) -> list[str]:
            pages = self.client.get_paginator("list_objects_v2").paginate(**params)
            return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

        return await self._call(listing, Bucket=self.bucket, Prefix=prefix)

    async def move(self, key: str, to: str) -> None:
        try:
            await self._call(
                self.client.copy_object,
                Bucket=self.bucket,
                Key=check_key(to),
                CopySource={"Bucket": self.bucket, "Key": check_key(key)},
            )
        except NotStored:
            return
        await self.delete(key)

    async def accel_target(self, key: str, *, method: str = "GET") -> str:
        """ "s3/<scheme>/<host>/<path>?<signature>": a presigned GET (or HEAD) nginx's
        internal location proxies to at once (media.conf), so it authenticates without holding
        the keys. SigV4 signs the method: nginx proxies a client's HEAD as a HEAD, which a URL
        presigned for GET would get 403 for."""
        url = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "head_object" if method == "HEAD" else "get_object",
            Params={"Bucket": self.bucket, "Key": check_key(key)},
            ExpiresIn=PRESIGNED_SECONDS,
        )
        parts = urlsplit(url)
        return f"s3/{parts.scheme}/{parts.netloc}{parts.path}?{parts.query}"

    async def aclose(self) -> None:
        await asyncio.to_thread(self.client.close)


def from_settings(settings: Settings) -> Storage:
    """The storage `settings` name: the bucket for "s3", files under var_dir else."""
    if settings.storage == "s3":
        assert settings.s3 is not None  # Settings refuses s3 without a bucket
        return S3Storage(settings.s3)
    return LocalStorage(settings.var_dir)


# The app's storage (composition.py binds it for requests, jobs, commands and tests).
STORAGE: Wire[Storage] = Wire("storage")

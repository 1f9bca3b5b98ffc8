"""Answers made of stored objects (storage.py): whole, by Range, or handed to nginx.

An object the app has checked access to is answered one of three ways: with an empty body and
`X-Accel-Redirect` when SHUYUAN_ACCEL_REDIRECT names nginx's internal location (nginx reads the
file or fetches the object itself, Range included: deploy/nginx/media.conf); else from a local
file by Starlette's FileResponse (Range, 206/416); else streamed from the bucket, one range at a
time. The public /media folder (product pictures, avatars) is served by `StoredFiles`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from email.utils import format_datetime

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from storage import InvalidKey, LocalStorage, Storage, Stored

# One range of bytes: "bytes=0-499", "bytes=500-", "bytes=-500". Several ranges at once are
# answered whole (RFC 9110 lets a server ignore Range); players ask for one.
_ONE_RANGE = re.compile(r"^bytes=(\d{0,15})-(\d{0,15})$")


def _missing() -> HTTPException:
    return HTTPException(status_code=404, detail="The file is missing.")


async def stored_response(
    request: Request,
    storage: Storage,
    key: str,
    *,
    media_type: str,
    headers: Mapping[str, str],
    accel_prefix: str = "",
) -> Response:
    """`key`'s object as the answer to `request`, with `headers` (ETag, Cache-Control, ...)."""
    if accel_prefix:
        if isinstance(storage, LocalStorage) and not await storage.exists(key):
            raise _missing()  # a cheap look on disk; a bucket's 404 comes through nginx
        target = await storage.accel_target(key, method=request.method)
        return Response(
            status_code=200,
            media_type=media_type,
            headers={**headers, "X-Accel-Redirect": f"{accel_prefix}{target}"},
        )
    if isinstance(storage, LocalStorage):
        path = storage.path(key)
        if not path.is_file():
            raise _missing()
        return FileResponse(path, media_type=media_type, headers=dict(headers))
    stored = await storage.stat(key)
    if stored is None:
        raise _missing()
    return _ranged(request, storage, key, stored, media_type=media_type, headers=headers)


def _ranged(
    request: Request,
    storage: Storage,
    key: str,
    stored: Stored,
    *,
    media_type: str,
    headers: Mapping[str, str],
) -> Response:
    size = stored.size
    answer = {**headers, "Accept-Ranges": "bytes"}
    try:
        wanted = _wanted_range(request.headers, size, headers.get("ETag", stored.etag))
    except _Unsatisfiable:
        return Response(status_code=416, headers={**answer, "Content-Range": f"bytes */{size}"})
    start, end = wanted if wanted is not None else (0, size - 1)
    status = 206 if wanted is not None else 200
    if wanted is not None:
        answer["Content-Range"] = f"bytes {start}-{end}/{size}"
    answer["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, media_type=media_type, headers=answer)
    return StreamingResponse(
        storage.open_range(key, start, end),
        status_code=status,
        media_type=media_type,
        headers=answer,
    )


class _Unsatisfiable(Exception):
    """The range asked for starts past the end (416)."""


def _wanted_range(headers: Headers, size: int, etag: str) -> tuple[int, int] | None:
    """The one range asked for, or None for the whole object; _Unsatisfiable (416)."""
    text = headers.get("range", "").strip()
    if not text or size == 0:
        return None
    if_range = headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None  # the client's copy is of another version: send it whole
    match = _ONE_RANGE.match(text.replace(" ", ""))
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            raise _Unsatisfiable
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        raise _Unsatisfiable
    if end < start:
        return None
    return start, end


class StoredFiles:
    """The public /media folder: files under var_dir/media (Starlette's StaticFiles), or the
    bucket's "media/" objects, with ETag and Last-Modified, revalidated on every use
    (`no-cache`): a product's pictures keep their names when they are replaced."""

    def __init__(self, storage: Storage, folder: str = "media") -> None:
        self.storage = storage
        self.folder = folder
        self.files = (
            StaticFiles(directory=storage.root / folder, check_dir=False)
            if isinstance(storage, LocalStorage)
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.files is not None:
            await self.files(scope, receive, send)
            return
        request = Request(scope, receive)
        response = await self._from_bucket(request)
        await response(scope, receive, send)

    async def _from_bucket(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(status_code=405, headers={"Allow": "GET, HEAD"})
        # What follows the mount's path (Mount keeps the full path and adds its own to root_path).
        path, root = request.scope["path"], request.scope.get("root_path", "")
        key = f"{self.folder}/{path.removeprefix(root).lstrip('/')}"
        try:
            stored = await self.storage.stat(key)
        except InvalidKey:
            stored = None
        if stored is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        # no-cache, not max-age: a replaced picture keeps its key (media/products/product-<id>-
        # <size>.jpg), so a cached copy is asked about each time (a 304 costs a HEAD).
        headers = {
            "ETag": stored.etag,
            "Last-Modified": format_datetime(stored.modified.astimezone(UTC), usegmt=True),
            "Cache-Control": "no-cache",
        }
        if stored.etag in [
            tag.strip() for tag in request.headers.get("if-none-match", "").split(",")
        ]:
            return Response(status_code=304, headers=headers)
        return _ranged(
            request, self.storage, key, stored, media_type=stored.content_type, headers=headers
        )

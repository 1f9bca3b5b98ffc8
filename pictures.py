"""Pictures people upload (product images, avatars): checked cheaply, decoded off the event loop.

The one place that decides what an upload must be to be read at all, in two steps:
- on the event loop, only the file's header is read (Pillow opens lazily): not empty, at most
  the caller's byte limit, at most MAX_PIXELS, and at most MAX_DECODED_BYTES once decoded (a
  JPEG counts at the reduced scale its decoder is asked for; a PNG of 6300 x 6300 pixels is
  119 MB decoded however small its file is). What would cost too much is refused here, before
  a byte is decoded;
- the decode, the resizes and the JPEG encoding run in a PicturePool: a few worker processes
  of their own, so a picture never blocks the event loop, never holds the GIL against
  requests, and the memory a decode takes is the pool's, given back when its process ends.

Every refusal is a ValidationError on the caller's field.
"""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import struct
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from errors import ServiceUnavailable, ValidationError

log = logging.getLogger(__name__)
MAX_PIXELS = 40_000_000
MAX_DECODED_BYTES = 64 * 1024 * 1024  # one picture's pixels in memory, made RGB
UNREADABLE = "is not a picture we can read (JPEG, PNG, WebP)"
TOO_LARGE = "is too large to read: at most about 20 megapixels"
# The formats read at all: no TIFF, PSD or EPS decoder (EPS would start Ghostscript) is reached.
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# The same as media types, for the API's contract (the content type of an upload's part).
MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
# What a malformed file makes Pillow raise while it reads headers or pixels.
MALFORMED = (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError,
             EOFError, struct.error)  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    """What to make of an upload: JPEGs of these widths (name -> pixels), cut to centred
    squares when `square`. `field` names the upload in errors; `max_bytes` bounds its file."""

    field: str
    max_bytes: int
    widths: Mapping[str, int]
    square: bool = False

    @property
    def largest(self) -> int:
        return max(self.widths.values())


def _decoded_bytes(picture: Image.Image) -> int:
    """What the picture's pixels cost once decoded and made RGB (a palette or 1-bit picture
    is made RGB before it is shrunk, so it counts as RGB too)."""
    bands = len(picture.getbands())
    bits = 16 if picture.mode in ("I;16", "I;16B", "I;16L") else 8
    if picture.mode in ("I", "F"):
        bits = 32
    return picture.width * picture.height * max(bands * bits // 8, 3)


def check_header(data: bytes, sizes: Sizes) -> None:
    """Refuse, from its header alone, an upload that is empty, too big a file, not a picture,
    or too costly to decode. Raises ValidationError(sizes.field)."""
    if not data:
        raise ValidationError(sizes.field, "choose a picture to upload")
    if len(data) > sizes.max_bytes:
        raise ValidationError(sizes.field, f"must be at most {sizes.max_bytes // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(sizes.field, "has too many pixels")
            # A JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still covers the largest
            # size wanted: draft() says which, from the header, before any pixel is read.
            probe.draft("RGB", (sizes.largest * 2, sizes.largest * 2))
            if _decoded_bytes(probe) > MAX_DECODED_BYTES:
                raise ValidationError(sizes.field, TOO_LARGE)
    except MALFORMED as exc:
        raise ValidationError(sizes.field, UNREADABLE) from exc


@dataclass(frozen=True)
class Rendered:
    """A pool process's answer (exceptions do not cross processes whole): the JPEGs by size
    name, or why the picture was refused."""

    jpegs: dict[str, bytes] | None = None
    refusal: str | None = None


def render(data: bytes, sizes: Sizes) -> Rendered:
    """Decode `data` and make its JPEGs (runs in a pool process, after check_header)."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data), formats=FORMATS) as opened:
            opened.draft("RGB", (sizes.largest * 2, sizes.largest * 2))
            # reduce() takes these modes only; a palette, 1-bit or 16-bit picture is made
            # RGB first (check_header counted it as RGB).
            upright = opened if opened.mode in ("RGB", "RGBA", "L", "LA") else None
            whole = upright or opened.convert("RGB")
            # Shrunk by a whole factor first, while still at least twice the largest size
            # wanted: the copies below (turned upright, made RGB) are then small.
            short_side = min(whole.size) if sizes.square else whole.width
            factor = max(1, short_side // (sizes.largest * 2))
            smaller = whole.reduce(factor) if factor > 1 else whole
            smaller.info = dict(opened.info)  # the EXIF orientation goes along
            picture = ImageOps.exif_transpose(smaller)
            if picture.mode != "RGB":
                picture = picture.convert("RGB")
    except Exception:  # whatever a malformed file makes a decoder raise is a refusal
        return Rendered(refusal=UNREADABLE)
    return Rendered(
        jpegs={
            name: jpeg(picture, width=width, square=sizes.square)
            for name, width in sizes.widths.items()
        }
    )


def jpeg(picture: Image.Image, *, width: int, square: bool = False) -> bytes:
    """`picture` at most `width` wide (a centred square of `width` when `square`), as JPEG."""
    if square:
        copy = ImageOps.fit(picture, (width, width), Image.Resampling.LANCZOS)
    else:
        copy = picture.copy()
        copy.thumbnail((width, width * 4))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


class PicturePool:
    """A few processes that decode and resize pictures, and a bound on how many may wait.

    Built by the app factory (one per uvicorn worker, started on the first upload) and closed
    with the app. After TASKS_PER_POOL pictures, the next one that finds the pool idle starts
    a fresh pool (the old processes end), so memory decodes left behind goes back to the
    system. (ProcessPoolExecutor's own max_tasks_per_child can leave a pool without a process
    on Python before 3.13, CPython gh-115634.) More than `waiting` pictures at once get 503
    with Retry-After rather than a queue that grows with an attacker's uploads; a pool whose
    process died (the kernel's OOM killer, a decoder crash) is replaced.
    """

    TASKS_PER_POOL = 16

    def __init__(self, *, processes: int = 2, waiting: int = 8) -> None:
        self.processes = processes
        self._free = processes + waiting  # pictures admitted beyond this many get 503
        self._busy = 0
        self._done = 0
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is not None and self._busy == 0 and self._done >= self.TASKS_PER_POOL:
            self._executor.shutdown(wait=False)
            self._executor = None
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["pictures"])
            self._executor = ProcessPoolExecutor(max_workers=self.processes, mp_context=context)
            self._done = 0
        return self._executor

    async def _in_pool(self, work: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool(), work, *args)
        except BrokenProcessPool:  # broken before this work began: a new pool takes it
            self._executor = None
            future = loop.run_in_executor(self._pool(), work, *args)
        self._busy += 1
        try:
            return await future
        except BrokenProcessPool:  # a process died under this work: not tried again
            log.warning("a picture process died; the pool starts again")
            self._executor = None
            raise ServiceUnavailable(
                "The picture could not be processed right now; try again shortly."
            ) from None
        finally:
            self._busy -= 1
            self._done += 1

    async def jpegs(self, data: bytes, sizes: Sizes) -> dict[str, bytes]:
        """The upload's JPEGs (sizes.widths). Raises ValidationError(sizes.field) for what
        check_header or the decode refuses, ServiceUnavailable when too many wait already."""
        check_header(data, sizes)
        if self._free <= 0:
            raise ServiceUnavailable("Too many pictures are being processed; try again shortly.")
        self._free -= 1
        try:
            rendered: Rendered = await self._in_pool(render, data, sizes)
        finally:
            self._free += 1
        if rendered.jpegs is None:
            raise ValidationError(sizes.field, rendered.refusal or UNREADABLE)
        return rendered.jpegs

    async def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run another picklable function in the pool's processes, outside the admission
        count (the tests hold the pool with it)."""
        return await self._in_pool(work, *args)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

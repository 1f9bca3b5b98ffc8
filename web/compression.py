"""Compressed answers: HTML, JSON, CSS, JavaScript and SVG are sent with zstd, brotli or gzip
when the browser accepts one (starlette-compress, which compresses only the text types it
lists, skips a Range answer (Content-Range) and an already encoded one). Never audio (not on
its list), never a Range answer, never an event stream (taken off its list here).

Compressing a page that echoes a secret beside text an attacker can choose leaks the secret
byte by byte (BREACH): the CSRF token on every page is therefore masked afresh for each
response (web.csrf).
"""

from __future__ import annotations

import zlib
from functools import partial
from typing import Any

from starlette.middleware import Middleware
from starlette.types import ASGIApp
from starlette_compress import CompressMiddleware, remove_compress_type

# Answers under this many bytes are sent as they are: compressing them saves nothing.
MINIMUM_SIZE = 500
GZIP_LEVEL = 4  # starlette-compress's own


def fitted_gzip(body: bytes, level: int) -> bytes:
    """`body` in gzip, with the window and the hash table sized to it (as nginx sizes them).
    zlib's defaults take over 256 KiB for each answer; where the allocator gives that back to
    the system after each one and maps it afresh, it cost more than compressing a 4 KiB page
    (gzip.compress 87 us, this 29-30 us, the same 1,671 bytes of the day's item page, in one
    process; gzip was a tenth of the item page's CPU in the server's profile). In a fresh
    process the two take about the same time."""
    window_bits = min(15, max(9, (len(body) - 1).bit_length()))
    memory_level = min(8, max(1, window_bits - 7))
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + window_bits, memory_level)
    return compressor.compress(body) + compressor.flush()


class Compression(CompressMiddleware):
    """starlette-compress, whose whole answers in gzip are made by fitted_gzip."""

    def __init__(self, app: ASGIApp, /, **options: Any) -> None:
        level = options.setdefault("gzip_level", GZIP_LEVEL)
        super().__init__(app, **options)
        if self._gzip is not None:  # starlette-compress's own (tests/web/test_compression.py)
            self._gzip.oneshot = partial(fitted_gzip, level=level)


def compression() -> Middleware:
    """The middleware, for the app factory. starlette-compress keeps its list of content types
    in one table per process: taking the event stream off it is the same for every app."""
    remove_compress_type("text/event-stream")  # a stream must reach the reader as it is written
    return Middleware(Compression, minimum_size=MINIMUM_SIZE)

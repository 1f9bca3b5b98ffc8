"""Compressed answers: HTML, JSON, CSS, JavaScript and SVG are sent with zstd, brotli or gzip
when the browser accepts one (starlette-compress, which compresses only the text types it
lists, skips a Range answer (Content-Range) and an already encoded one). Never audio (not on
its list), never a Range answer, never an event stream (taken off its list here).

Compressing a page that echoes a secret beside text an attacker can choose leaks the secret
byte by byte (BREACH): the CSRF token on every page is therefore masked afresh for each
response (web.csrf).
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette_compress import CompressMiddleware, remove_compress_type

# Answers under this many bytes are sent as they are: compressing them saves nothing.
MINIMUM_SIZE = 500


def compression() -> Middleware:
    """The middleware, for the app factory. starlette-compress keeps its list of content types
    in one table per process: taking the event stream off it is the same for every app."""
    remove_compress_type("text/event-stream")  # a stream must reach the reader as it is written
    return Middleware(CompressMiddleware, minimum_size=MINIMUM_SIZE)

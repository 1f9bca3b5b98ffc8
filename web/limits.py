"""Request bodies are bounded while they stream in, before anything is buffered.

Each kind of request has its limit (JSON, forms, picture and audio uploads, the provider's
webhooks). A body declared larger than its limit is refused before a handler reads a byte; a body
that grows past its limit while it streams is refused at that moment. Either way the answer is
413 `payload_too_large` with `Connection: close`, and nothing of the body reaches a handler.

Before an early answer (a refusal, a redirect to sign in) goes out, the rest of a declared body of
up to DRAIN_BYTES (or the route's limit, if larger) is read and dropped, for at most DRAIN_SECONDS.
A socket closed with unread bytes in it is reset, and a proxy still writing the body (nginx sends
the whole body it buffered) hears the reset instead of the answer: behind nginx a 413 became a
502. Larger or chunked bodies are not read on, nor one whose client waits to be asked for it
(Expect: 100-continue): the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from enum import StrEnum

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from errors import DomainError

KIB = 1024
MIB = 1024 * KIB

JSON_BYTES = 1 * MIB
FORM_BYTES = 512 * KIB  # a long board post, url-encoded three bytes a character, fits
WEBHOOK_BYTES = 256 * KIB  # Stripe's events are a few KiB
IMAGE_UPLOAD_BYTES = 12 * MIB  # a phone photo; resized to a few hundred KiB when stored
AVATAR_UPLOAD_BYTES = 4 * MIB + 64 * KIB  # an avatar of up to 4 MiB (accounts.profiles), its form
# A picture of up to 8 MiB sent in a conversation (support.attachments), and its form.
MESSAGE_PICTURE_BYTES = 8 * MIB + 64 * KIB
AUDIO_UPLOAD_BYTES = 51 * MIB  # a voice of up to 50 MB (community.feed's limit) and its form
OTHER_BYTES = 64 * KIB
# The rest of a body read and dropped before an early answer: above nginx's wall (12 MiB on all
# but the voice uploads, deploy/nginx/shuyuan.conf, whose routes drain up to their own 51 MiB),
# so what nginx passes on is never reset.
DRAIN_BYTES = 16 * MIB
DRAIN_SECONDS = 10.0
# Fields in one form or multipart body; more is a 400 (Starlette's), never a slow parse.
FORM_FIELDS = 100

# Routes that take a file, and the kind of file: the only bodies allowed past FORM_BYTES.
UPLOADS = (
    (re.compile(r"^/admin/feed/(new|[0-9]+/edit)$"), AUDIO_UPLOAD_BYTES),
    (re.compile(r"^/api/v1/admin/feed-items$"), AUDIO_UPLOAD_BYTES),
    (re.compile(r"^/admin/catalogue/products(/[0-9]+/image)?$"), IMAGE_UPLOAD_BYTES),
    (re.compile(r"^/admin/drops/raffles$"), IMAGE_UPLOAD_BYTES),
    (re.compile(r"^/api/v1/admin/products/[0-9]+/image$"), IMAGE_UPLOAD_BYTES),
    (re.compile(r"^/account/profile$"), AVATAR_UPLOAD_BYTES),
    (re.compile(r"^/api/v1/me/avatar$"), AVATAR_UPLOAD_BYTES),
    (re.compile(r"^/contact(/[0-9]+/messages)?$"), MESSAGE_PICTURE_BYTES),
    (re.compile(r"^/admin/conversations/[0-9]+/messages$"), MESSAGE_PICTURE_BYTES),
    # The watched words' CSV file (moderation.words.CSV_BYTES, and the form around it).
    (re.compile(r"^/admin/watched-words/import$"), 2_100_000),
)
WEBHOOK_PATH = "/payments/webhook"


class LimitsErrorCode(StrEnum):
    PAYLOAD_TOO_LARGE = "payload_too_large"


class PayloadTooLarge(DomainError):
    """The request body is larger than what this kind of request may send."""

    code = LimitsErrorCode.PAYLOAD_TOO_LARGE
    status = 413
    default_message = "The request is too large."

    def __init__(self, limit: int) -> None:
        super().__init__(limit_bytes=limit)  # the limit reaches API clients as `limit_bytes`
        self.limit = limit


def body_limit(path: str, content_type: str) -> int:
    """The largest body a request to `path` with this Content-Type may send, in bytes."""
    if path == WEBHOOK_PATH:
        return WEBHOOK_BYTES
    media = content_type.partition(";")[0].strip().lower()
    if media == "multipart/form-data":
        for pattern, limit in UPLOADS:
            if pattern.match(path):
                return limit
        return FORM_BYTES
    if media == "application/x-www-form-urlencoded":
        return FORM_BYTES
    if media == "application/json" or path.startswith("/api/"):
        return JSON_BYTES
    return OTHER_BYTES


class BoundedBodies:
    """ASGI middleware: the app's `receive` raises PayloadTooLarge instead of handing over
    more than the request's limit, so the app's one error handler answers it (JSON for the
    API, a page for people) and no handler ever holds an oversized body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = ""
        declared: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        limit = body_limit(scope["path"], content_type)
        refuse_at_once = declared is not None and (
            not declared.isdigit() or len(declared) > 12 or int(declared) > limit
        )
        large = refuse_at_once or (int(declared) > OTHER_BYTES if declared is not None else chunked)
        readable = declared is not None and declared.isdigit() and len(declared) <= 12
        # Up to DRAIN_BYTES, or the route's own limit (a voice upload, which nginx passes on
        # up to 51 MiB). Not a body the client waits to send until told to (Expect:
        # 100-continue, never sent by nginx): reading it would ask for it.
        drainable = (
            readable
            and int(declared or b"0") <= max(DRAIN_BYTES, limit)
            and not any(name == b"expect" for name, _ in scope["headers"])
        )
        received = 0
        complete = False

        async def bounded_receive() -> Message:
            nonlocal received, complete
            if refuse_at_once:
                raise PayloadTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        async def drain() -> None:
            """Read and drop the rest of the body (bounded by DRAIN_BYTES and DRAIN_SECONDS)."""
            nonlocal complete
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_SECONDS):
                    while not complete:
                        message = await receive()
                        complete = message["type"] != "http.request" or not message.get(
                            "more_body", False
                        )

        async def closing_send(message: Message) -> None:
            # An answer given before a large body was read (a redirect to sign in, a refusal):
            # the rest of a body nginx could be sending is read first (see the module's text);
            # the connection closes rather than let the server read and keep more.
            if message["type"] == "http.response.start" and large and not complete:
                if drainable:
                    await drain()
                headers = [(k, v) for k, v in message["headers"] if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, bounded_receive, closing_send)

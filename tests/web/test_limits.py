"""Bodies are bounded while they stream: 413 payload_too_large with Connection: close, in the
app and on a real uvicorn worker whose memory stays flat under eight 100 MB bodies at once."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from settings import Settings
from tests.factories import bearer, make_user, token_for
from tests.live import running_server_process
from web import limits

MIB = 1024 * 1024


async def streamed(size: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body sent in pieces, with no Content-Length (chunked), as a slow client would."""
    sent = 0
    while sent < size:
        piece = min(chunk, size - sent)
        sent += piece
        yield b"x" * piece


@pytest.mark.parametrize(
    ("path", "content_type", "limit"),
    [
        ("/api/v1/accounts", "application/json", limits.JSON_BYTES),
        ("/payments/webhook", "application/json", limits.WEBHOOK_BYTES),
        ("/account/login", "application/x-www-form-urlencoded", limits.FORM_BYTES),
    ],
)
async def test_a_body_declared_over_its_limit_is_refused_before_it_is_read(
    client: httpx.AsyncClient, path: str, content_type: str, limit: int
) -> None:
    response = await client.post(
        path, content=b"{" * (limit + 1), headers={"Content-Type": content_type}
    )
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    if path.startswith(("/api/", "/payments/")):
        assert response.json()["error"]["code"] == "payload_too_large"
    else:
        assert "请求太大了" in response.text  # the page, in the default language


async def test_a_streamed_body_is_refused_once_it_grows_past_its_limit(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/accounts",
        content=streamed(limits.JSON_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_an_upload_route_takes_a_file_larger_than_a_form(client: httpx.AsyncClient) -> None:
    admin = await make_user(admin=True)
    assert limits.body_limit("/api/v1/admin/products/1/image", "multipart/form-data") > 5 * MIB
    response = await client.post(
        "/api/v1/admin/products/1/image",
        files={"image": ("big.png", b"\x89PNG" + b"0" * (3 * MIB), "image/png")},
        headers=bearer(await token_for(admin)),
    )
    # Read whole (no 413); then found not to be a picture.
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "image"


def _rss_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _send_big_body(port: int, path: str, content_type: str, *, chunked: bool) -> str:
    """Send 100 MB to `path` as fast as the server takes it; return the status line heard."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {100 * MIB}"
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"{length}\r\n\r\n".encode()
        )
        piece = b"x" * (256 * 1024)
        frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
        # The server answers and closes long before 100 MB: the rest is never read, and the
        # send that finds the socket closed raises, which is the expected end of the upload.
        with contextlib.suppress(OSError):
            for _ in range(400):  # 100 MB
                sock.sendall(frame)
        sock.settimeout(10)
        try:
            return sock.recv(200).split(b"\r\n", 1)[0].decode()
        except OSError:
            return "closed"


def test_eight_anonymous_100_mb_bodies_at_once_leave_the_workers_memory_flat(
    settings: Settings,
) -> None:
    with running_server_process(settings) as (base_url, process):
        _eight_big_bodies(base_url, process.pid)


def _eight_big_bodies(base_url: str, pid: int) -> None:
    port = int(base_url.rpartition(":")[2])
    httpx.get(f"{base_url}/")  # warm the templates, so they do not count as growth
    before = _rss_peak_kib(pid)
    targets = [
        ("/api/v1/accounts", "application/json", False),
        ("/api/v1/accounts", "application/json", True),
        ("/payments/webhook", "application/json", False),
        ("/payments/webhook", "application/json", True),
        ("/board/posts", "application/x-www-form-urlencoded", True),
        ("/account/login", "application/x-www-form-urlencoded", False),
        ("/admin/feed/new", "multipart/form-data; boundary=x", False),  # anonymous upload
        ("/api/v1/admin/products/1/image", "multipart/form-data; boundary=x", True),
    ]
    heard: list[str] = []
    threads = [
        threading.Thread(
            target=lambda t=target: heard.append(_send_big_body(port, t[0], t[1], chunked=t[2]))
        )
        for target in targets
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    growth_mib = (_rss_peak_kib(pid) - before) / 1024
    assert len(heard) == 8, heard
    assert all(" 413 " in line or " 303 " in line or " 401 " in line for line in heard), heard
    assert growth_mib < 50, f"peak memory grew {growth_mib:.0f} MiB"
    assert time.monotonic() - started < 30
    assert httpx.get(f"{base_url}/healthz").status_code == 200  # and it still serves


def _send_whole_body_then_listen(
    port: int,
    size: int,
    path: str = "/api/v1/accounts",
    content_type: str = "application/json",
    *,
    expect: bool = False,
) -> str:
    """Send a declared body of `size` bytes whole, as nginx does with the body it buffered,
    then read the answer: the status line, or how the connection ended. With `expect`, ask
    first (Expect: 100-continue) and send nothing unless told to go on."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {size}\r\n"
            f"{'Expect: 100-continue' + chr(13) + chr(10) if expect else ''}\r\n".encode()
        )
        try:
            if expect:
                return sock.recv(200).split(b"\r\n", 1)[0].decode()
            piece = b" " * (256 * 1024)
            for _ in range(size // len(piece)):
                sock.sendall(piece)
            sock.sendall(b" " * (size % len(piece)))
            return sock.recv(200).split(b"\r\n", 1)[0].decode()
        except OSError as error:
            return f"reset: {error!r}"


def test_a_refused_body_a_proxy_sends_whole_gets_its_answer_not_a_reset(
    settings: Settings,
) -> None:
    """A refusal given before the body was read: the server reads the rest (up to
    DRAIN_BYTES, or a voice upload's own limit) before it closes, so nginx, still writing the
    body it buffered, hears the answer rather than a reset (which it turns into a 502). A
    client that waits to be asked (Expect: 100-continue) is refused without sending it."""
    with running_server_process(settings) as (base_url, _):
        port = int(base_url.rpartition(":")[2])
        for _ in range(3):
            heard = _send_whole_body_then_listen(port, limits.DRAIN_BYTES - 1)
            assert heard == "HTTP/1.1 413 Request Entity Too Large", heard
        # An anonymous voice upload, larger than DRAIN_BYTES, under its route's limit: refused
        # for want of a sign-in, and heard.
        voice = limits.AUDIO_UPLOAD_BYTES - 1
        assert voice > limits.DRAIN_BYTES
        heard = _send_whole_body_then_listen(
            port, voice, "/api/v1/admin/feed-items", "multipart/form-data; boundary=x"
        )
        assert heard.startswith("HTTP/1.1 401"), heard
        asked = _send_whole_body_then_listen(port, limits.DRAIN_BYTES - 1, expect=True)
        assert asked == "HTTP/1.1 413 Request Entity Too Large", asked
        assert httpx.get(f"{base_url}/healthz").status_code == 200

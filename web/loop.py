"""The event loop uvicorn's workers run: asyncio's, changed for a crowd of connections."""

from __future__ import annotations

import asyncio
import socket
from asyncio import selector_events
from typing import Any

# A response's pieces written in one step of the loop go out in one send() up to this size; a
# bigger answer is sent as it comes, under asyncio's own flow control.
CORK_LIMIT = 64 * 1024


class CorkedTransport(selector_events._SelectorSocketTransport):  # type: ignore[name-defined,misc]
    """asyncio's socket transport, which sends what is written in one step of the loop at once.

    uvicorn writes an answer's head and its body in two write() calls, and asyncio sends each
    at once: two send() system calls and two TCP segments per answer, each waking the reader
    (nginx) on the other end. Here the first write() of a step is held, and a callback the loop
    runs next sends it joined with whatever the same step wrote after it (uvloop does the
    same). close(), write_eof() and a sendfile send what is held first; the size of the write
    buffer (asyncio's flow control) counts it. The morning push's pages: nginx's CPU per page
    0.115 -> 0.096 ms, pages/s against the bare endpoint 0.75-0.76 -> 0.79-0.82 (medians of
    three rounds of bench/morning_push.py, two runs each, in turn; issue 40's note).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[bytes] | None = None
        self._held_size = 0

    def write(self, data: Any) -> None:
        held = self._held
        if held is not None:
            if type(data) is not bytes:
                self._send_held()
                super().write(data)
                return
            held.append(data)
            self._held_size += len(data)
            if self._held_size >= CORK_LIMIT:
                self._send_held()
            return
        if (
            type(data) is not bytes
            or not data
            or self._buffer
            or self._conn_lost
            or self._eof
            or self._empty_waiter is not None
        ):
            super().write(data)
            return
        self._held = [data]
        self._held_size = len(data)
        self._loop.call_soon(self._send_held)

    def _send_held(self) -> None:
        held = self._held
        if held is None:
            return
        self._held = None
        self._held_size = 0
        super().write(held[0] if len(held) == 1 else b"".join(held))

    def writelines(self, list_of_data: Any) -> None:
        # Python 3.12's own sends at once, past what is held: through write() keeps the order.
        self.write(b"".join(list_of_data))

    def get_write_buffer_size(self) -> int:
        return int(super().get_write_buffer_size()) + self._held_size

    def write_eof(self) -> None:
        self._send_held()
        super().write_eof()

    def close(self) -> None:
        self._send_held()
        super().close()

    def abort(self) -> None:
        self._held = None
        self._held_size = 0
        super().abort()

    def _make_empty_waiter(self) -> Any:
        self._send_held()
        return super()._make_empty_waiter()


class CrowdLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, which accepts up to 100 waiting connections at a time.

    uvloop (libuv since 1.45) accepts one new connection per loop iteration; a worker busy with
    128 connections runs iterations of tens of milliseconds, so the late crowd of a drop, on
    new connections, waited seconds to be accepted (bench/drop_rush.py at 256 connections: only
    109 of 256 accepted after 0.3 s, sold-out p99 about 5 times the bare endpoint's).

    asyncio sets TCP_NODELAY only on sockets created with proto IPPROTO_TCP, and uvicorn's
    socket for several workers has proto 0: a response written in two pieces (head, body)
    waited for the client's delayed ACK, about 40 ms each. Accepted sockets get it here.

    The sockets' transports send what one step of the loop wrote in one piece (CorkedTransport).
    """

    def _make_socket_transport(
        self,
        sock: socket.socket,
        protocol: Any,
        waiter: Any = None,
        *,
        extra: Any = None,
        server: Any = None,
    ) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return CorkedTransport(self, sock, protocol, waiter, extra, server)

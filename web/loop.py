"""The event loop uvicorn's workers run: asyncio's, with two fixes for a crowd of connections."""

from __future__ import annotations

import asyncio
import socket
from typing import Any


class CrowdLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, which accepts up to 100 waiting connections at a time.

    uvloop (libuv since 1.45) accepts one new connection per loop iteration; a worker busy with
    128 connections runs iterations of tens of milliseconds, so the late crowd of a drop, on
    new connections, waited seconds to be accepted (bench/drop_rush.py at 256 connections: only
    109 of 256 accepted after 0.3 s, sold-out p99 about 5 times the bare endpoint's).

    asyncio sets TCP_NODELAY only on sockets created with proto IPPROTO_TCP, and uvicorn's
    socket for several workers has proto 0: a response written in two pieces (head, body)
    waited for the client's delayed ACK, about 40 ms each. Accepted sockets get it here.
    """

    def _make_socket_transport(
        self, sock: socket.socket, protocol: Any, waiter: Any = None, **kwargs: Any
    ) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super()._make_socket_transport(sock, protocol, waiter, **kwargs)  # type: ignore[misc]

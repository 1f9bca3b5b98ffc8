"""The workers' event loop: connections it accepts answer without waiting for delayed ACKs."""

from __future__ import annotations

import asyncio
import socket

from web.loop import CrowdLoop


async def _nodelay_of_accepted_socket() -> int:
    seen: list[int] = []
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()
        await writer.wait_closed()
        done.set()

    # proto 0, as uvicorn binds the socket it shares between workers
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = await asyncio.start_server(handle, sock=listener)
    try:
        reader, writer = await asyncio.open_connection(*listener.getsockname())
        await done.wait()
        await reader.read()
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    return seen[0]


def test_accepted_connections_send_small_answers_at_once() -> None:
    loop = CrowdLoop()
    try:
        assert loop.run_until_complete(_nodelay_of_accepted_socket()) != 0
    finally:
        loop.close()


def test_asyncios_own_loop_would_not() -> None:
    # Why CrowdLoop exists: on such a socket asyncio leaves Nagle's algorithm on.
    loop = asyncio.SelectorEventLoop()
    try:
        assert loop.run_until_complete(_nodelay_of_accepted_socket()) == 0
    finally:
        loop.close()

"""The workers' event loop: connections it accepts answer without waiting for delayed ACKs."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from web.loop import CORK_LIMIT, CrowdLoop


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


# The transports of CrowdLoop's sockets send what one step of the loop wrote in one piece.


async def _corked_pair() -> tuple[asyncio.Transport, socket.socket]:
    """A transport of the running loop on one end of a TCP connection, and the other end
    (non-blocking, to look at what has arrived without waiting)."""
    listener = socket.create_server(("127.0.0.1", 0))
    peer = socket.create_connection(listener.getsockname())
    ours, _ = listener.accept()
    listener.close()
    ours.setblocking(False)
    peer.setblocking(False)
    transport, _ = await asyncio.get_running_loop().connect_accepted_socket(
        asyncio.Protocol, sock=ours
    )
    return transport, peer  # type: ignore[return-value]


def _arrived(peer: socket.socket) -> bytes:
    try:
        return peer.recv(1 << 20)
    except BlockingIOError:
        return b""


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0.01)


def _on_crowd_loop(check: Any) -> None:
    loop = CrowdLoop()
    try:
        loop.run_until_complete(check())
    finally:
        loop.close()


def test_a_head_and_body_written_in_one_step_leave_in_one_piece() -> None:
    async def check() -> None:
        transport, peer = await _corked_pair()
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        transport.write(b"hello")
        # Nothing sent yet (asyncio's own transport sent the head at once), and the flow
        # control sees both pieces.
        assert _arrived(peer) == b""
        assert transport.get_write_buffer_size() == 43
        await _settle()
        assert _arrived(peer) == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
        assert transport.get_write_buffer_size() == 0
        transport.write(b"next")  # the next answer is held and sent alike
        await _settle()
        assert _arrived(peer) == b"next"
        transport.close()
        peer.close()

    _on_crowd_loop(check)


def test_what_is_held_is_sent_before_the_connection_closes() -> None:
    async def check() -> None:
        transport, peer = await _corked_pair()
        transport.write(b"last ")
        transport.writelines([b"words", b"."])
        transport.close()
        await _settle()
        assert _arrived(peer) == b"last words."
        assert _arrived(peer) == b""  # then the end of the stream
        peer.close()

        transport, peer = await _corked_pair()
        transport.write(b"half")
        transport.write_eof()
        await _settle()
        assert _arrived(peer) == b"half"
        transport.close()
        peer.close()

    _on_crowd_loop(check)


def test_a_big_answer_is_not_held_back() -> None:
    async def check() -> None:
        transport, peer = await _corked_pair()
        transport.write(b"h" * 100)
        transport.write(b"b" * CORK_LIMIT)
        # Sent without waiting for the step's end: what the socket took has arrived.
        arrived = _arrived(peer)
        assert arrived.startswith(b"h" * 100 + b"b")
        await _settle()
        while len(arrived) < 100 + CORK_LIMIT:
            more = _arrived(peer)
            assert more, "the rest never came"
            arrived += more
        assert arrived == b"h" * 100 + b"b" * CORK_LIMIT
        transport.close()
        peer.close()

    _on_crowd_loop(check)


def test_an_aborted_connection_sends_nothing_it_held() -> None:
    async def check() -> None:
        transport, peer = await _corked_pair()
        transport.write(b"never")
        transport.abort()
        await _settle()
        with contextlib.suppress(ConnectionResetError):  # reset, with nothing sent
            assert peer.recv(100) == b""
        peer.close()

    _on_crowd_loop(check)

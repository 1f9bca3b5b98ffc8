"""A TCP proxy to PostgreSQL that a test unplugs and plugs in again: a database restart, or a
network cut, without touching the machine's shared PostgreSQL server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

from tests.live import free_port


class Cable:
    """A TCP proxy to PostgreSQL, on its own thread and event loop, that a test can unplug
    (every connection cut, no new ones taken) and plug in again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=10)

    def plug(self) -> None:
        async def start() -> None:
            self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

        self._run(start())

    def unplug(self) -> None:
        async def stop() -> None:
            assert self.server is not None
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()
            await self.server.wait_closed()

        self._run(stop())

    def close(self) -> None:
        if self.server is not None and self.server.is_serving():
            self.unplug()

        async def finish() -> None:
            pipes = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)

        self._run(finish())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        # A loop left unclosed leaks its self-pipe (a socketpair), which the garbage collector
        # later reports as an unclosed socket in whatever test happens to be running.
        self.loop.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers.update((writer, up_writer))

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


def through(cable: Cable, database_url: str) -> str:
    """`database_url` reached through `cable` instead of directly."""
    parts = urlsplit(database_url)
    return parts._replace(netloc=f"{parts.username}@127.0.0.1:{cable.port}").geturl()

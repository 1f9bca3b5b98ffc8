"""Pictures sent in a conversation: private to its member and the staff who answer.

An upload goes through the hardened picture path (pictures.PicturePool: its header checked on
the event loop, its decode and resizes in the pool's own processes) and is kept as two JPEGs
as the storage's "support/" objects outside the public /media folder (storage.py; <var>/support
on local disk, which no StaticFiles serves), named by a random stem. support.routes hands them
out, after checking the reader.
"""

from __future__ import annotations

import asyncio
import io
import secrets
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from pictures import PicturePool, Sizes
from storage import Storage

MAX_PICTURE_BYTES = 8 * 1024 * 1024
# "large" is what a click opens; "small" is shown in the thread.
PICTURE = Sizes(field="picture", max_bytes=MAX_PICTURE_BYTES, widths={"large": 1600, "small": 480})
Size = Literal["large", "small"]


@dataclass(frozen=True)
class Kept:
    """A picture as stored: the stem of its files and the small one's size in pixels."""

    stem: str
    width: int
    height: int


@dataclass(frozen=True)
class PrivatePictures:
    """Where conversation pictures are made (the app's picture pool) and kept (`storage`,
    under `folder`)."""

    pool: PicturePool
    storage: Storage
    folder: str = "support"

    async def keep(self, data: bytes) -> Kept:
        """Decode, resize and store an upload. Raises ValidationError("picture") for what is
        not a picture we read, ServiceUnavailable when the pool is full."""
        jpegs = await self.pool.jpegs(data, PICTURE)
        stem = secrets.token_hex(16)
        await self._write(stem, jpegs)
        with Image.open(io.BytesIO(jpegs["small"])) as small:  # the header only: our own JPEG
            width, height = small.size
        return Kept(stem, width, height)

    async def _write(self, stem: str, jpegs: dict[str, bytes]) -> None:
        try:
            await asyncio.gather(
                *(
                    self.storage.put(self.key(stem, size), content, "image/jpeg")
                    for size, content in jpegs.items()
                )
            )
        except BaseException:
            await self.discard(stem)  # a full disk or a failed upload leaves no half of one
            raise

    def key(self, stem: str, size: str) -> str:
        """The storage key of one size of a kept picture."""
        return f"{self.folder}/{stem}-{size}.jpg"

    async def discard(self, stem: str) -> None:
        """Remove a kept picture whose message was not written after all."""
        for size in PICTURE.widths:
            await self.storage.delete(self.key(stem, size))


@dataclass(frozen=True)
class PictureUpload:
    """A picture sent with a message, and where it is to be kept."""

    data: bytes
    shelf: PrivatePictures

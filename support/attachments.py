"""Pictures sent in a conversation: private to its member and the staff who answer.

An upload goes through the hardened picture path (pictures.PicturePool: its header checked on
the event loop, its decode and resizes in the pool's own processes) and is kept as two JPEGs
in a folder of its own outside the public /media mount (<var>/support, which no StaticFiles
serves), named by a random stem. support.routes hands them out, after checking the reader.
"""

from __future__ import annotations

import asyncio
import io
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image

from pictures import PicturePool, Sizes

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
    """Where conversation pictures are made (the app's picture pool) and kept (`folder`)."""

    pool: PicturePool
    folder: Path

    async def keep(self, data: bytes) -> Kept:
        """Decode, resize and store an upload. Raises ValidationError("picture") for what is
        not a picture we read, ServiceUnavailable when the pool is full."""
        jpegs = await self.pool.jpegs(data, PICTURE)
        stem = secrets.token_hex(16)
        # Files are written in a thread: a slow disk must not hold every request up.
        await asyncio.to_thread(self._write, stem, jpegs)
        with Image.open(io.BytesIO(jpegs["small"])) as small:  # the header only: our own JPEG
            width, height = small.size
        return Kept(stem, width, height)

    def _write(self, stem: str, jpegs: dict[str, bytes]) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            for size, content in jpegs.items():
                (self.folder / f"{stem}-{size}.jpg").write_bytes(content)
        except BaseException:
            self.discard(stem)  # a disk that fills up leaves no half of a picture
            raise

    def path(self, stem: str, size: Size) -> Path:
        return self.folder / f"{stem}-{size}.jpg"

    def discard(self, stem: str) -> None:
        """Remove a kept picture whose message was not written after all."""
        for size in PICTURE.widths:
            (self.folder / f"{stem}-{size}.jpg").unlink(missing_ok=True)


@dataclass(frozen=True)
class PictureUpload:
    """A picture sent with a message, and where it is to be kept."""

    data: bytes
    shelf: PrivatePictures

"""Product images: uploaded files checked and resized in the picture pool, stored as JPEG in the
storage's media/ folder (storage.py), which /media serves to everyone."""

from __future__ import annotations

import asyncio

import links
from pictures import PicturePool, Sizes
from storage import STORAGE

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
SIZES = {"large": 1200, "thumb": 400}
PRODUCT = Sizes(field="image", max_bytes=MAX_UPLOAD_BYTES, widths=SIZES)


async def resize_upload(data: bytes, pictures: PicturePool) -> dict[str, bytes]:
    """The upload as JPEGs, one per size. Raises ValidationError("image") for a file that is
    empty, too big, too costly to decode or not a picture (pictures.check_header), and
    ServiceUnavailable when the pool is full."""
    return await pictures.jpegs(data, PRODUCT)


async def store_product_image(product_id: int, resized: dict[str, bytes]) -> str:
    """Store the sizes as media/products/; returns the base name (`product-<id>`)."""
    storage = STORAGE.get()
    name = f"product-{product_id}"
    await asyncio.gather(
        *(
            storage.put(f"media/products/{name}-{size}.jpg", content, "image/jpeg")
            for size, content in resized.items()
        )
    )
    return name


def image_url(name: str | None, size: str = "large") -> str | None:
    return links.path("media", path=f"/products/{name}-{size}.jpg") if name else None

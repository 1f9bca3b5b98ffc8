"""Product images: uploaded files checked and resized in the picture pool, stored as JPEG under
media/."""

from __future__ import annotations

from pathlib import Path

import links
from pictures import PicturePool, Sizes

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
SIZES = {"large": 1200, "thumb": 400}
PRODUCT = Sizes(field="image", max_bytes=MAX_UPLOAD_BYTES, widths=SIZES)


async def resize_upload(data: bytes, pictures: PicturePool) -> dict[str, bytes]:
    """The upload as JPEGs, one per size. Raises ValidationError("image") for a file that is
    empty, too big, too costly to decode or not a picture (pictures.check_header), and
    ServiceUnavailable when the pool is full."""
    return await pictures.jpegs(data, PRODUCT)


def store_product_image(media_dir: Path, product_id: int, resized: dict[str, bytes]) -> str:
    """Write the sizes under media/products/; returns the base name (`product-<id>`)."""
    folder = media_dir / "products"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"product-{product_id}"
    for size, content in resized.items():
        (folder / f"{name}-{size}.jpg").write_bytes(content)
    return name


def image_url(name: str | None, size: str = "large") -> str | None:
    return links.path("media", path=f"/products/{name}-{size}.jpg") if name else None

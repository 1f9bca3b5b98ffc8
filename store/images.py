"""Product images: uploaded files checked by Pillow, resized, and stored as JPEG under media/."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from errors import ValidationError

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
SIZES = {"large": 1200, "thumb": 400}


def resize_upload(data: bytes) -> dict[str, bytes]:
    """The upload as JPEGs, one per size. Raises ValidationError("image") for a file that is
    empty, too big, or not a picture."""
    if not data:
        raise ValidationError("image", "choose a picture to upload")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError("image", "must be at most 8 MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError("image", "has too many pixels")
            probe.verify()
        resized = {}
        with Image.open(io.BytesIO(data)) as opened:
            picture = opened.convert("RGB")
        for size, width in SIZES.items():
            copy = picture.copy()
            copy.thumbnail((width, width * 4))
            out = io.BytesIO()
            copy.save(out, "JPEG", quality=85, optimize=True)
            resized[size] = out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError("image", "is not a picture we can read (JPEG, PNG, WebP)") from exc
    return resized


def store_product_image(media_dir: Path, product_id: int, resized: dict[str, bytes]) -> str:
    """Write the sizes under media/products/; returns the base name (`product-<id>`)."""
    folder = media_dir / "products"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"product-{product_id}"
    for size, content in resized.items():
        (folder / f"{name}-{size}.jpg").write_bytes(content)
    return name


def image_url(name: str | None, size: str = "large") -> str | None:
    return f"/media/products/{name}-{size}.jpg" if name else None

"""Pictures people upload (product images, avatars): read safely with Pillow, then resized.

The one place that decides what an upload must be to be read at all: not empty, at most the
caller's byte limit, at most MAX_PIXELS (a decompression bomb is refused before it is
decoded), and a picture Pillow can read (JPEG, PNG, WebP...). Every refusal is a
ValidationError on the caller's field.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from errors import ValidationError

MAX_PIXELS = 40_000_000


def read_upload(data: bytes, *, field: str, max_bytes: int) -> Image.Image:
    """The upload decoded as RGB. Raises ValidationError(field)."""
    if not data:
        raise ValidationError(field, "choose a picture to upload")
    if len(data) > max_bytes:
        raise ValidationError(field, f"must be at most {max_bytes // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(field, "has too many pixels")
            probe.verify()
        with Image.open(io.BytesIO(data)) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError(field, "is not a picture we can read (JPEG, PNG, WebP)") from exc


def jpeg(picture: Image.Image, *, width: int, square: bool = False) -> bytes:
    """`picture` at most `width` wide (a centred square of `width` when `square`), as JPEG."""
    if square:
        copy = ImageOps.fit(picture, (width, width), Image.Resampling.LANCZOS)
    else:
        copy = picture.copy()
        copy.thumbnail((width, width * 4))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()

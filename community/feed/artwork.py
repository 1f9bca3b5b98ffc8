"""The podcast's artwork: the picture an admin uploaded, else one we draw (书院 and the show's
name, in the font the project ships). Either way a square JPEG of 1400 to 3000 pixels in RGB,
as Apple Podcasts asks, kept as the storage's "podcast/" objects (storage.py; <var>/podcast/ on
local disk) and served at one address (routes).

The font is store's (store/fonts/, drawn by store.covers.typeface), a floor above this package
may not import: the app hands its typeface down through TYPEFACE (composition.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime

import anyio.to_thread
from PIL import Image, ImageDraw, ImageFont

from accounts import audit
from accounts.models import User
from errors import ValidationError
from pictures import FORMATS, PicturePool, Sizes, check_header
from storage import STORAGE, Stored
from wiring import Wire

Typeface = Callable[[int], ImageFont.FreeTypeFont]
TYPEFACE: Wire[Typeface] = Wire("community.feed.typeface")

MIN_PIXELS = 1400  # Apple Podcasts' least, and the size we draw at
MAX_PIXELS = 3000  # Apple Podcasts' most: a larger upload is made this size
MAX_ARTWORK_BYTES = 16 * 1024 * 1024
FIELD = "artwork"
# Part of the drawn file's name: bump it when the drawing changes, and the new one is drawn.
DRAWING_VERSION = "1"
SHOW = "书院"
SHOW_LINE = "每日六十秒"
# The site's accent and paper (static/css/site.css).
BACKGROUND = (0xB4, 0x45, 0x1F)
INK = (0xFB, 0xFA, 0xF7)


UPLOADED_KEY = "podcast/artwork.jpg"
DRAWN_KEY = f"podcast/drawn-{DRAWING_VERSION}.jpg"


async def is_uploaded() -> bool:
    return await STORAGE.get().exists(UPLOADED_KEY)


async def artwork_object() -> tuple[str, Stored]:
    """The artwork the feed shows, as its storage key and what is known of it: the uploaded
    picture, else the drawn one (drawn on the first ask after a new DRAWING_VERSION, in a
    worker thread)."""
    storage = STORAGE.get()
    uploaded = await storage.stat(UPLOADED_KEY)
    if uploaded is not None:
        return UPLOADED_KEY, uploaded
    drawn = await storage.stat(DRAWN_KEY)
    if drawn is None:
        typeface = TYPEFACE.get()
        data = await anyio.to_thread.run_sync(draw, typeface, MIN_PIXELS)
        await storage.put(DRAWN_KEY, data, "image/jpeg")
        drawn = await storage.stat(DRAWN_KEY)
        assert drawn is not None  # just stored
    return DRAWN_KEY, drawn


def draw(typeface: Typeface, width: int) -> bytes:
    """书院 large over the show's name and a short rule, in paper on the site's accent, as a
    JPEG square of `width` pixels."""
    picture = Image.new("RGB", (width, width), BACKGROUND)
    pen = ImageDraw.Draw(picture)
    centre = width / 2
    pen.text((centre, width * 0.42), SHOW, font=typeface(width * 27 // 100), fill=INK, anchor="mm")
    rule_y, rule_half = width * 0.62, width // 14
    pen.line(
        [(centre - rule_half, rule_y), (centre + rule_half, rule_y)], fill=INK, width=width // 140
    )
    pen.text(
        (centre, width * 0.72), SHOW_LINE, font=typeface(width * 9 // 100), fill=INK, anchor="mm"
    )
    out = io.BytesIO()
    # 4:4:4: no colour bleeding into the background around the letters.
    picture.save(out, "JPEG", quality=90, subsampling=0)
    return out.getvalue()


def _sizes(data: bytes) -> Sizes:
    """What an upload is made into: a centred square as wide as its shorter side, at most
    MAX_PIXELS. Raises ValidationError(FIELD) for what the picture path refuses (empty, too
    large, not a picture) and for a picture under MIN_PIXELS a side."""
    largest = Sizes(field=FIELD, max_bytes=MAX_ARTWORK_BYTES, widths={FIELD: MAX_PIXELS})
    check_header(data, largest)
    with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
        side = min(probe.size)
    if side < MIN_PIXELS:
        raise ValidationError(FIELD, f"must be at least {MIN_PIXELS} pixels wide and high")
    return Sizes(
        field=FIELD,
        max_bytes=MAX_ARTWORK_BYTES,
        widths={FIELD: min(side, MAX_PIXELS)},
        square=True,
    )


async def upload_artwork(data: bytes, *, pictures: PicturePool, actor: User, now: datetime) -> None:
    """The uploaded picture becomes the podcast's artwork: decoded in the picture pool, cut to
    a centred square, made a JPEG (RGB) of its shorter side, at most MAX_PIXELS. Raises
    ValidationError("artwork") (not a picture we read, larger than MAX_ARTWORK_BYTES, under
    MIN_PIXELS a side) and ServiceUnavailable (the pool is full)."""
    jpeg = (await pictures.jpegs(data, _sizes(data)))[FIELD]
    await STORAGE.get().put(UPLOADED_KEY, jpeg, "image/jpeg")
    with Image.open(io.BytesIO(jpeg)) as saved:
        pixels = saved.width
    await audit.record(
        actor=actor,
        action="podcast.artwork",
        object_type="podcast",
        after={"artwork": "uploaded", "pixels": pixels, "bytes": len(jpeg)},
        now=now,
    )


async def remove_artwork(*, actor: User, now: datetime) -> None:
    """The uploaded artwork goes; the feed shows the drawn one again."""
    if not await is_uploaded():
        return
    await STORAGE.get().delete(UPLOADED_KEY)
    await audit.record(
        actor=actor,
        action="podcast.artwork",
        object_type="podcast",
        after={"artwork": "drawn"},
        now=now,
    )

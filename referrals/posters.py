"""Share posters: the picture a member saves or sends to WeChat Moments, drawn with Pillow.

A poster is 750 x 1334 pixels (a phone's screen, what Moments shows whole). On a card: the
object's title, one line of its teaser, and its price or the countdown to its sale where one
applies; under the card, who shared it (their avatar, or a circle with the first character of
their name) and a QR code of the short link. It is set in the font the project ships (store/fonts/,
made by store/covers_font.py) under store/covers.py's rule: a character the font lacks is left
out, so a poster never shows a missing-glyph box. Nothing on it mentions a reward (WeChat
forbids induced sharing), and the caller passes only public text: what is members-only never
reaches a poster.

draw_poster is pure and CPU-bound (tens of milliseconds): callers run it in a worker thread
(anyio.to_thread.run_sync) and cache its bytes under poster_key(...).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, fields
from typing import Literal

import segno
from PIL import Image, ImageDraw, ImageFont, ImageOps

from store import covers
from translation import N_, translations

# Part of every poster's cache key: bump it when the drawing changes, so no old poster is served.
DRAWING_VERSION = "1"
WIDTH, HEIGHT = 750, 1334
# The site's paper, card, line, ink, muted and accent colours (static/css/site.css).
PAPER, CARD, LINE = "#fbfaf7", "#ffffff", "#e5e1d8"
INK, MUTED, ACCENT = "#1f2328", "#656d76", "#b4451f"
LOCALES = {"zh": "zh_CN", "en": "en"}
MARGIN = 56
CARD_TOP, CARD_BOTTOM, PADDING = 150, 930, 48
TITLE_SIZES = range(104, 47, -4)  # pixels, largest first: the title takes the largest that fits
TITLE_LINES = 4
LEADING = 1.35  # a title's line height, in font sizes
RULE_GAP, TEASER_GAP = 28, 52  # from the title's last line to the rule, the rule to the teaser
# Under the card, from SHARER_TOP: the sharer on the left (an avatar AVATAR wide, their name),
# the QR code's tile on the right, flush with the card's edge.
SHARER_TOP = CARD_BOTTOM + 40
AVATAR = 120
QR_SIDE = 232
QR_TILE = 20  # the white around the code, inside its tile: with the paper, its quiet zone
# An avatar is stored small (accounts' profiles); a picture in another format, or larger than
# this, is not decoded here and the sharer's initial is drawn instead.
AVATAR_FORMATS = ("JPEG", "PNG", "WEBP")
AVATAR_MAX_PIXELS = 4_000_000
FRIEND = N_("a friend")  # the sharer, when nothing of their name can be drawn


@dataclass(frozen=True, kw_only=True)
class Poster:
    """What one poster shows: public text only. At most one of price_text ("¥68.00") and
    countdown_text ("12月8日 20:00 开售"); sharer_avatar is the bytes of a picture or None."""

    title: str
    teaser: str
    price_text: str | None = None
    countdown_text: str | None = None
    sharer_name: str
    sharer_avatar: bytes | None = None
    url: str
    language: Literal["zh", "en"] = "zh"

    def __post_init__(self) -> None:
        if self.price_text and self.countdown_text:
            raise ValueError("a poster shows a price or a countdown, not both")
        if self.language not in LOCALES:
            raise ValueError(f"no poster language {self.language!r}")


def poster_key(poster: Poster, *, object_type: str, object_id: int, sharer_id: int) -> str:
    """The cache key of `poster`, drawn for one object, sharer and language: the drawing's
    version, whose poster it is, and a digest of everything it shows (so a retitled object or
    a new avatar is a new key, never a stale poster)."""
    digest = hashlib.sha256()
    for field in fields(poster):
        value = getattr(poster, field.name)
        data = value if isinstance(value, bytes) else repr(value).encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return (
        f"poster:{DRAWING_VERSION}:{object_type}:{object_id}:{sharer_id}:{poster.language}:"
        f"{digest.hexdigest()[:32]}"
    )


def draw_poster(poster: Poster) -> bytes:
    """The poster as a PNG of 750 x 1334 pixels (what it shows: the module's docstring)."""
    _ = translations(LOCALES[poster.language]).gettext
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    pen = ImageDraw.Draw(image)
    pen.text((MARGIN, 92), _("Shuyuan"), font=covers.typeface(36), fill=ACCENT, anchor="lm")
    pen.rounded_rectangle(
        (MARGIN, CARD_TOP, WIDTH - MARGIN, CARD_BOTTOM), radius=24, fill=CARD, outline=LINE, width=2
    )
    draw_object(pen, poster, fallback=_("Shuyuan"))

    code_left, code_top = WIDTH - MARGIN - QR_TILE - QR_SIDE, SHARER_TOP + QR_TILE
    pen.rounded_rectangle(
        (code_left - QR_TILE, SHARER_TOP, WIDTH - MARGIN, code_top + QR_SIDE + QR_TILE),
        radius=16,
        fill=CARD,
        outline=LINE,
        width=2,
    )
    draw_code(pen, poster.url, code_left, code_top)
    pen.text(
        (code_left + QR_SIDE / 2, code_top + QR_SIDE + QR_TILE + 36),
        _("Scan to open"),
        font=covers.typeface(24),
        fill=MUTED,
        anchor="mm",
    )

    name = covers.drawable(poster.sharer_name) or _(FRIEND)
    avatar = avatar_of(poster.sharer_avatar, name)
    image.paste(avatar, (MARGIN, SHARER_TOP), avatar)
    room = code_left - QR_TILE - 32 - MARGIN
    name_font = covers.typeface(34)
    name_y = SHARER_TOP + AVATAR + 48
    pen.text(
        (MARGIN, name_y), one_line(name, name_font, room), font=name_font, fill=INK, anchor="lm"
    )
    shared = _("shared this with you")
    pen.text((MARGIN, name_y + 48), shared, font=covers.typeface(26), fill=MUTED, anchor="lm")

    out = io.BytesIO()
    image.save(out, "PNG")  # zlib's default level: optimize=True took four times as long for 4%
    return out.getvalue()


def draw_object(pen: ImageDraw.ImageDraw, poster: Poster, *, fallback: str) -> None:
    """The card: the title as large as fits in at most four lines, a short rule and the teaser's
    first line, a little above the middle of the room over the price or countdown, which stands
    at the card's foot."""
    left = MARGIN + PADDING
    room = WIDTH - 2 * left
    paragraphs = [line for line in map(covers.drawable, poster.teaser.splitlines()) if line]
    foot = covers.drawable(poster.price_text or poster.countdown_text or "")
    foot_font = covers.typeface(64 if poster.price_text else 40)
    space = CARD_BOTTOM - CARD_TOP - 2 * PADDING - (round(foot_font.size * 1.6) if foot else 0)
    under_title = RULE_GAP + (TEASER_GAP + 24 if paragraphs else 0)
    text = covers.drawable(poster.title) or fallback
    font, lines = fit_title(text, room, space - under_title)
    line_height = round(font.size * LEADING)
    block = line_height * len(lines) + under_title
    y = CARD_TOP + PADDING + max(0, (space - block) * 2 // 5)
    for line in lines:
        pen.text((left, y + line_height / 2), line, font=font, fill=INK, anchor="lm")
        y += line_height
    y += RULE_GAP
    pen.line([(left, y), (left + 64, y)], fill=ACCENT, width=6)
    if paragraphs:
        teaser_font = covers.typeface(30)
        teaser = one_line(paragraphs[0], teaser_font, room, cut=len(paragraphs) > 1)
        pen.text((left, y + TEASER_GAP), teaser, font=teaser_font, fill=MUTED, anchor="lm")
    if foot:
        foot_line = one_line(foot, foot_font, room)
        pen.text((left, CARD_BOTTOM - PADDING), foot_line, font=foot_font, fill=ACCENT, anchor="ls")


def fit_title(text: str, room: int, height: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest of TITLE_SIZES at which `text` wraps (covers.wrap: by width, with the 禁则)
    into at most four lines of `room` pixels, `height` pixels in all, with no closing mark
    hanging past `room`; one step smaller where that leaves a lone character on the last
    line. At the smallest, the fourth line ends in "…"."""
    widowed: tuple[ImageFont.FreeTypeFont, list[str]] | None = None
    for size in TITLE_SIZES:
        font = covers.typeface(size)
        lines = covers.wrap(text, font, room)
        too_wide = max(font.getlength(line) for line in lines) > room
        if too_wide or len(lines) > min(TITLE_LINES, height // round(size * LEADING)):
            continue
        if len(lines) == 1 or len(lines[-1]) > 1:
            return font, lines
        if widowed is not None:  # one step smaller leaves a lone character too
            return widowed
        widowed = (font, lines)
    if widowed is not None:
        return widowed
    kept = lines[:TITLE_LINES]
    kept[-1] = one_line(kept[-1], font, room, cut=True)
    return font, kept


def one_line(text: str, font: ImageFont.FreeTypeFont, room: float, *, cut: bool = False) -> str:
    """`text` in at most `room` pixels, ending in "…" where some of it is left off (`cut`: some
    was left off before); a Latin word is not cut in two where a space comes before it."""
    if not cut and font.getlength(text) <= room:
        return text
    kept = text
    while kept and font.getlength(kept + "…") > room:
        kept = kept[:-1]
    after = text[len(kept) : len(kept) + 1]
    if covers.is_latin(kept[-1:]) and covers.is_latin(after) and " " in kept:
        kept = kept.rsplit(" ", 1)[0]
    return kept.rstrip() + "…"


def avatar_of(picture: bytes | None, name: str) -> Image.Image:
    """The sharer in a circle AVATAR pixels wide (RGBA, transparent outside): their picture,
    else the first character of their name on a colour chosen from it, as covers choose."""
    large = AVATAR * 4  # drawn large and scaled down: a smooth edge to the circle
    face = read_avatar(picture) if picture else None
    if face is not None:
        face = ImageOps.fit(face, (large, large), Image.Resampling.LANCZOS)
    else:
        choice = hashlib.sha256(name.encode()).digest()[0] % len(covers.PALETTE)
        background, ink = covers.PALETTE[choice]
        face = Image.new("RGB", (large, large), background)
        initial, font = name[0].upper(), covers.typeface(large // 2)
        ImageDraw.Draw(face).text((large / 2, large / 2), initial, font=font, fill=ink, anchor="mm")
    circle = Image.new("L", (large, large), 0)
    ImageDraw.Draw(circle).ellipse((0, 0, large - 1, large - 1), fill=255)
    face.putalpha(circle)
    return face.resize((AVATAR, AVATAR), Image.Resampling.LANCZOS)


def read_avatar(picture: bytes) -> Image.Image | None:
    """The picture as RGB on the card's white, or None when it is not one we read here."""
    try:
        with Image.open(io.BytesIO(picture), formats=AVATAR_FORMATS) as opened:
            if opened.width * opened.height > AVATAR_MAX_PIXELS:
                return None
            upright = ImageOps.exif_transpose(opened).convert("RGBA")
    except (OSError, Image.DecompressionBombError):
        return None
    face = Image.new("RGB", upright.size, CARD)
    face.paste(upright, mask=upright)
    return face


def draw_code(pen: ImageDraw.ImageDraw, url: str, left: int, top: int) -> None:
    """The QR code of `url` (error correction M), its modules whole pixels, centred in a square
    QR_SIDE wide at (left, top); the white around it is the quiet zone."""
    code = segno.make(url, error="m", micro=False)
    modules = len(code.matrix)
    scale = QR_SIDE // modules
    offset_x = left + (QR_SIDE - scale * modules) // 2
    offset_y = top + (QR_SIDE - scale * modules) // 2
    for row, dark_modules in enumerate(code.matrix):
        for column, dark in enumerate(dark_modules):
            if dark:
                x, y = offset_x + column * scale, offset_y + row * scale
                pen.rectangle((x, y, x + scale - 1, y + scale - 1), fill=INK)

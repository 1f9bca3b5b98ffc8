"""Product covers: a product without a picture shows its title drawn on a calm colour, in the
font the project ships (store/fonts/, a Noto Sans SC subset made by store/covers_font.py).

The rule for characters the font lacks (an emoji, a rare character of CJK Extension B, another
script): they are left out of the drawn title, and the spaces around them close up. A title
with nothing left to draw shows its category's name instead, and a category with nothing left
either shows 书院. So a cover never shows a missing-glyph box (the font's .notdef is blank as
well) and never a hole where a character was.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import anyio.to_thread
from fontTools.ttLib import TTFont
from PIL import Image, ImageColor, ImageDraw, ImageFont

import links
from store import images

# Squares as wide as the uploaded pictures' sizes ("large", "thumb").
SIZES = images.SIZES
FONT_FILE = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-Shuyuan-subset.otf"
# Part of every cover's ETag: bump it when the drawing changes, so browsers fetch the new one.
DRAWING_VERSION = "1"
LAST_RESORT = "书院"
MAX_LINES = 4
# (background, ink): the site's paper, line and accent colours (static/css/site.css) and a
# few quiet neighbours of theirs.
PALETTE = (
    ("#eee9df", "#1f2328"),
    ("#e5d6c3", "#5a2d17"),
    ("#f1ddd2", "#8f3516"),
    ("#dde5da", "#2d4733"),
    ("#dce3e9", "#273a4c"),
    ("#e8e0ee", "#45325a"),
    ("#b4451f", "#fbfaf7"),
    ("#33403f", "#f3eee4"),
)
# Kept off the start of a line (a closing mark hangs at the end of the line before) and off
# its end (an opening mark goes down with what it opens): the common 禁则 of Chinese print.
NOT_AT_LINE_START = frozenset("，。、；：？！）》」』】〕〉”’…—·,.;:?!)]}%")
NOT_AT_LINE_END = frozenset("（《「『【〔〈“‘([{¥$")


@dataclass(frozen=True)
class Cover:
    """What one cover shows, at one of the picture sizes ("thumb", "large")."""

    text: str
    size: str

    @property
    def etag(self) -> str:
        seed = f"{DRAWING_VERSION}\0{self.size}\0{self.text}".encode()
        return f'"cover-{hashlib.sha256(seed).hexdigest()[:32]}"'

    @property
    def colours(self) -> tuple[str, str]:
        """The background and ink, the same for the same text at every size."""
        return PALETTE[hashlib.sha256(self.text.encode()).digest()[0] % len(PALETTE)]


@cache
def font_characters(path: Path = FONT_FILE) -> frozenset[int]:
    """The code points the font draws (its cmap): read once per process from a shipped file."""
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def drawable(text: str) -> str:
    """`text` without the characters the font lacks, its spaces closed up (the module's rule)."""
    held = font_characters()
    kept = [
        " " if character.isspace() else character
        for character in unicodedata.normalize("NFC", text)
        if character.isspace() or ord(character) in held
    ]
    return " ".join("".join(kept).split())


def cover_of(title: str, category: str, size: str) -> Cover:
    """The cover of a product titled `title` in `category`, at `size` (a key of SIZES): the
    title as far as the font draws it, else the category's name, else 书院."""
    return Cover(text=drawable(title) or drawable(category) or LAST_RESORT, size=size)


def cover_url(product_id: int, size: str = "large") -> str:
    return links.path("store.cover", id=product_id, size=size)


async def draw(cover: Cover) -> bytes:
    """The cover as a PNG, drawn in a worker thread (a large one takes tens of milliseconds)."""
    return await anyio.to_thread.run_sync(render, cover)


def render(cover: Cover) -> bytes:
    """The cover as a PNG square of the size's width: the text centred over at most four lines,
    as large as fits, with a short rule under it."""
    width = SIZES[cover.size]
    # Laid out once at the largest size and scaled: every size breaks the lines alike.
    largest = max(SIZES.values())
    laid_out, lines = fit(cover.text, largest)
    font = typeface(max(1, round(laid_out.size * width / largest)))
    # Drawn as coverage (0 background .. 255 ink), then coloured through a palette of the 256
    # steps between the two: an exact, small PNG without quantizing a full-colour picture.
    coverage = Image.new("L", (width, width), 0)
    pen = ImageDraw.Draw(coverage)
    line_height = round(font.size * 1.35)
    rule_gap = round(font.size * 0.8)
    top = (width - line_height * len(lines) - rule_gap) // 2
    for number, line in enumerate(lines):
        x = (width - font.getlength(line)) / 2
        y = top + number * line_height + line_height / 2
        pen.text((x, y), line, font=font, fill=255, anchor="lm")
    rule_y = top + line_height * len(lines) + rule_gap // 2
    rule_half = width // 16
    pen.line(
        [(width // 2 - rule_half, rule_y), (width // 2 + rule_half, rule_y)],
        fill=255,
        width=max(2, width // 200),
    )
    image = Image.frombytes("P", coverage.size, coverage.tobytes())
    image.putpalette(blend(*cover.colours))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def blend(background: str, ink: str) -> list[int]:
    """256 RGB steps from the background (0) to the ink (255), as a flat palette."""
    start, end = ImageColor.getrgb(background), ImageColor.getrgb(ink)
    return [
        round(a + (b - a) * step / 255)
        for step in range(256)
        for a, b in zip(start, end, strict=True)
    ]


def fit(text: str, width: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font size (from 1/8 of the width down to 1/14) at which `text` wraps into
    at most four lines of 4/5 of the width; at the smallest, the fourth line is cut with "…"."""
    room = width * 4 // 5
    font = typeface(width // 14)
    for size in range(width // 8, width // 14 - 1, -max(1, width // 200)):
        font = typeface(size)
        lines = wrap(text, font, room)
        if len(lines) <= MAX_LINES:
            return font, lines
    lines = wrap(text, font, room)[:MAX_LINES]
    last = lines[-1]
    while last and font.getlength(last + "…") > room:
        last = last[:-1]
    lines[-1] = last.rstrip() + "…"
    return font, lines


def typeface(size: int) -> ImageFont.FreeTypeFont:
    # BASIC layout: glyph by glyph, as the subset (no GSUB/GPOS) is meant to be drawn.
    return ImageFont.truetype(str(FONT_FILE), size, layout_engine=ImageFont.Layout.BASIC)


def wrap(text: str, font: ImageFont.FreeTypeFont, room: float) -> list[str]:
    """Lines of at most `room` pixels: Chinese breaks between any two characters, a Latin word
    or number stays whole unless it alone is too long, and punctuation follows the 禁则 above
    (a closing mark may hang past `room`)."""
    lines: list[str] = []
    line = ""
    for piece in pieces(text):
        candidate = (line + piece).lstrip()
        if not line or font.getlength(candidate) <= room or piece[0] in NOT_AT_LINE_START:
            line = candidate
            continue
        carried = ""
        while line and line[-1] in NOT_AT_LINE_END and len(line) > 1:
            line, carried = line[:-1], line[-1] + carried
        lines.append(line.rstrip())
        line = (carried + piece).lstrip()
        while font.getlength(line) > room and len(line) > 1:  # a word longer than a line
            cut = len(line) - 1
            while cut > 1 and font.getlength(line[:cut]) > room:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


def pieces(text: str) -> list[str]:
    """`text` as the pieces a line may break between: a run of Latin letters and digits (with
    the space before it), or one other character."""
    found: list[str] = []
    for character in text:
        previous = found[-1] if found else ""
        if is_latin(character) and (previous == " " or is_latin(previous[-1:])):
            found[-1] += character
        else:
            found.append(character)
    return found


def is_latin(character: str) -> bool:
    return character.isascii() and character.isalnum()

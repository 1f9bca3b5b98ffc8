"""Share posters (referrals/posters.py): a PNG of a phone's screen in the shipped font. Every
character of a title holding rare ones (䶮, 镕: the 通用规范汉字表's third level) has a glyph in
the font and is drawn; one no font has is left out, never a box; tesseract (Debian's
tesseract-ocr with its Simplified Chinese data) reads the title back. Skipped without
tesseract unless TEST_REQUIRE_OCR=1 (CI sets it; .ci/run installs it). Every poster drawn
here is kept in var/screenshots/posters/ to be looked at."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import segno
from fontTools.ttLib import TTFont
from PIL import Image

from referrals import posters
from referrals.posters import Poster, draw_poster, poster_key
from store.covers_font import FONT_FILE, gb2312_characters, level_characters

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "posters"
RARE_TITLE = "王䶮与朱镕的书法课：二十个晚上"
OCR_UNKNOWN = {"䶮", "镕"}
MISSING = "🎁𠀀"  # an emoji and U+20000 (Extension B, in no level of the table)


def poster(**changes: Any) -> Poster:
    base = Poster(
        title=RARE_TITLE,
        teaser="每周一讲，从握笔到临帖。\n第二段不画。",
        price_text="¥68.00",
        sharer_name="李小龙",
        url="https://shuyuan.example/s/Ab3dE9",
        language="zh",
    )
    return dataclasses.replace(base, **changes)


def drawn(name: str, shown: Poster) -> bytes:
    """The poster as drawn, kept as var/screenshots/posters/<name>.png."""
    png = draw_poster(shown)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"{name}.png").write_bytes(png)
    return png


def shipped_cmap() -> set[int]:
    with TTFont(FONT_FILE, lazy=True) as font:
        return set(font.getBestCmap())


def test_a_poster_is_a_png_of_a_phone_screen() -> None:
    png = drawn("price-zh", poster())
    with Image.open(io.BytesIO(png)) as image:
        assert (image.format, image.size) == ("PNG", (750, 1334))


def test_every_character_of_a_title_with_rare_ones_has_a_glyph_in_the_shipped_font() -> None:
    rare = {"䶮", "镕"}
    assert rare <= set(level_characters(3))
    assert not rare & gb2312_characters()
    cmap = shipped_cmap()
    assert {ord(character) for character in RARE_TITLE} <= cmap


@pytest.mark.parametrize("rare", ["䶮", "镕"])
def test_a_rare_character_is_drawn_not_dropped(rare: str) -> None:
    # The same layout with and without it (one line at the largest size): only its ink differs.
    with_it = drawn(f"rare-{ord(rare):x}", poster(title=f"王{rare}"))
    assert with_it != draw_poster(poster(title="王"))


def test_a_character_no_font_has_is_left_out_never_a_box() -> None:
    assert not {ord(character) for character in MISSING} & shipped_cmap()
    shown = poster(title=f"{MISSING[1]}野家 {MISSING[0]} 新年便当", sharer_name=f"{MISSING}小龙")
    # Drawn exactly as the text without them: no box, no hole.
    assert drawn("missing", shown) == draw_poster(poster(title="野家 新年便当", sharer_name="小龙"))


def test_a_sharer_without_a_readable_avatar_gets_the_initial_of_their_name() -> None:
    assert draw_poster(poster(sharer_avatar=b"not a picture")) == draw_poster(poster())


def test_a_sharers_avatar_is_drawn_in_its_circle() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 160), (30, 120, 200)).save(buffer, "JPEG")
    png = drawn("avatar-en", poster(sharer_avatar=buffer.getvalue(), language="en"))
    with Image.open(io.BytesIO(png)) as image:
        centre = (posters.MARGIN + posters.AVATAR // 2, posters.SHARER_TOP + posters.AVATAR // 2)
        pixel = image.convert("RGB").getpixel(centre)
    assert isinstance(pixel, tuple)
    red, green, blue = pixel
    assert abs(red - 30) + abs(green - 120) + abs(blue - 200) < 12


def test_a_poster_shows_a_price_or_a_countdown_not_both() -> None:
    drawn("countdown-zh", poster(price_text=None, countdown_text="12月8日 20:00 开售"))
    with pytest.raises(ValueError, match="not both"):
        poster(countdown_text="12月8日 20:00 开售")


def test_the_cache_key_names_the_drawing_object_sharer_and_language_and_what_is_shown() -> None:
    key = poster_key(poster(), object_type="product", object_id=7, sharer_id=3)
    assert key.startswith(f"poster:{posters.DRAWING_VERSION}:product:7:3:zh:")
    assert key == poster_key(poster(), object_type="product", object_id=7, sharer_id=3)
    others = {
        poster_key(poster(), object_type="product", object_id=7, sharer_id=4),
        poster_key(poster(language="en"), object_type="product", object_id=7, sharer_id=3),
        poster_key(poster(title="新标题"), object_type="product", object_id=7, sharer_id=3),
        poster_key(poster(sharer_avatar=b"\xff"), object_type="product", object_id=7, sharer_id=3),
    }
    assert key not in others
    assert len(others) == 4


def test_the_qr_code_drawn_is_the_short_links_module_for_module() -> None:
    # No decoder needed: the dark square in the code's tile, read at each module's centre, is
    # segno's code of the link.
    expected = segno.make(poster().url, error="m").matrix
    tile_bottom = posters.SHARER_TOP + 2 * posters.QR_TILE + posters.QR_SIDE
    with Image.open(io.BytesIO(draw_poster(poster()))) as image:
        tile = image.convert("L").crop((posters.WIDTH // 2, posters.SHARER_TOP, 750, tile_bottom))
    left, top, right, bottom = tile.point(lambda value: 255 * (value < 128)).getbbox() or (0,) * 4
    modules = len(expected)
    scale = (right - left) / modules
    assert scale >= 5 and right - left == bottom - top
    centres = [round((number + 0.5) * scale) for number in range(modules)]
    grey = tile.tobytes()  # one byte a pixel, row by row
    read = [[grey[(top + y) * tile.width + left + x] < 128 for x in centres] for y in centres]
    assert read == [[bool(module) for module in row] for row in expected]


def test_the_qr_code_reads_back_as_the_short_link(tmp_path: Path) -> None:
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        pytest.skip("no QR decoder here (zbarimg); the code is drawn by segno")
    path = tmp_path / "poster.png"
    path.write_bytes(draw_poster(poster()))
    read = subprocess.run(
        [zbarimg, "--raw", "-q", str(path)], capture_output=True, text=True, check=True
    )
    assert read.stdout.strip() == poster().url


def tesseract() -> str:
    """The tesseract command with Simplified Chinese, else a skip (a failure when
    TEST_REQUIRE_OCR=1), as tests/e2e/conftest.py does for chromium."""
    found = shutil.which("tesseract")
    languages = ""
    if found is not None:
        listed = subprocess.run([found, "--list-langs"], capture_output=True, text=True)
        languages = listed.stdout + listed.stderr
    if found is None or "chi_sim" not in languages.split():
        if os.environ.get("TEST_REQUIRE_OCR") == "1":
            pytest.fail("tesseract with chi_sim is missing and TEST_REQUIRE_OCR=1")
        pytest.skip("tesseract is not installed (apt install tesseract-ocr tesseract-ocr-chi-sim)")
    return found


@pytest.mark.contract  # an expensive check: once per make test, not once per database
@pytest.mark.parametrize(
    ("name", "title", "language"),
    [("ocr-zh", RARE_TITLE, "zh"), ("ocr-en", "Reading the Analects: twenty evenings", "en")],
)
def test_the_title_reads_back_by_ocr(name: str, title: str, language: str) -> None:
    command = tesseract()
    path = SCREENSHOTS / f"{name}.png"
    drawn(name, poster(title=title, language=language))
    read = subprocess.run(
        [command, str(path), "-", "-l", "chi_sim+eng", "--psm", "6"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # Debian's chi_sim model knows 4,022 characters and neither 䶮 nor 镕 (its lstm-unicharset):
    # in their places it must read one character (so they are drawn), if not those.
    expected = "".join(
        "." if character in OCR_UNKNOWN else re.escape(character)
        for character in unicodedata.normalize("NFKC", "".join(title.split()))
    )
    assert re.search(expected, unicodedata.normalize("NFKC", "".join(read.split()))), read

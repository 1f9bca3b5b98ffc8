"""Drawn covers: a product without a picture shows its title in the shipped font, never a
missing-glyph box."""

from __future__ import annotations

from fontTools.ttLib import TTFont
from PIL import ImageFont

from store import covers
from store.covers_font import gb2312_characters, level_one_characters

RARE = "啰"  # first level of the 通用规范汉字表 (啰嗦), not in GB 2312


def font_cmap() -> set[int]:
    with TTFont(covers.FONT_FILE, lazy=True) as font:
        return set(font.getBestCmap())


def test_a_title_with_a_character_beyond_gb2312_is_drawn_whole() -> None:
    assert RARE in level_one_characters()
    assert RARE not in gb2312_characters()
    title = f"{RARE}嗦的哲学：Notes ¥49"
    shown = covers.cover_of(title, "图书", "large")
    assert shown.text == title
    cmap = font_cmap()
    assert {ord(character) for character in title} <= cmap
    font = ImageFont.truetype(str(covers.FONT_FILE), 64)
    for character in title.replace(" ", ""):
        assert font.getmask(character).getbbox() is not None, character


def test_characters_outside_the_font_are_left_out() -> None:
    cmap = font_cmap()
    assert not {ord("𠮷"), ord("🎁")} & cmap
    shown = covers.cover_of("𠮷野家 🎁 新年便当", "食品", "thumb")
    assert shown.text == "野家 新年便当"
    # Drawn exactly as the title without them: no box, no hole.
    assert covers.render(shown) == covers.render(covers.cover_of("野家 新年便当", "", "thumb"))


def test_a_title_with_nothing_to_draw_shows_its_category_then_the_sites_name() -> None:
    assert covers.cover_of("🎁🎁", "礼品", "thumb").text == "礼品"
    assert covers.cover_of("🎁🎁", "🎁", "thumb").text == "书院"


def test_a_long_title_is_cut_with_an_ellipsis_on_its_fourth_line() -> None:
    _, lines = covers.fit("书" * 120, covers.SIZES["large"])
    assert len(lines) == 4
    assert lines[-1].endswith("…")

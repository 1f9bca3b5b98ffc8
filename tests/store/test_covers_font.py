"""The font the covers are drawn with (store/fonts/): it holds every character of GB 2312 and of
the first level of the 通用规范汉字表, read from its character map with fontTools."""

from __future__ import annotations

from fontTools.ttLib import TTFont

from store.covers_font import FONT_FILE, gb2312_characters, level_one_characters


def shipped_cmap() -> dict[int, str]:
    with TTFont(FONT_FILE, lazy=True) as font:
        return dict(font.getBestCmap())


def test_the_checked_in_first_level_holds_3500_distinct_characters() -> None:
    level_one = level_one_characters()
    assert len(level_one) == 3500
    assert len(set(level_one)) == 3500
    assert (level_one[0], level_one[-1]) == ("一", "矗")


def test_the_shipped_font_covers_all_of_gb2312_and_the_first_level() -> None:
    cmap = shipped_cmap()
    gb2312 = gb2312_characters()
    assert len(gb2312) == 7445  # 6,763 hanzi and 682 other characters
    missing = {c for c in gb2312 | set(level_one_characters()) if ord(c) not in cmap}
    assert missing == set()


def test_the_shipped_font_covers_ascii_and_the_yuan_sign() -> None:
    cmap = shipped_cmap()
    assert {*range(0x20, 0x7F), ord("¥"), ord("，"), ord("。"), ord("〇")} <= set(cmap)

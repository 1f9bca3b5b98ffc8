"""The font the covers and posters are drawn with (store/fonts/): it holds every character of
GB 2312 and of the whole 通用规范汉字表, read from its character map with fontTools."""

from __future__ import annotations

from fontTools.ttLib import TTFont

from store.covers_font import (
    FONT_FILE,
    gb2312_characters,
    level_characters,
    level_one_characters,
    table_characters,
)


def shipped_cmap() -> dict[int, str]:
    with TTFont(FONT_FILE, lazy=True) as font:
        return dict(font.getBestCmap())


def test_the_checked_in_first_level_holds_3500_distinct_characters() -> None:
    level_one = level_one_characters()
    assert len(level_one) == 3500
    assert len(set(level_one)) == 3500
    assert (level_one[0], level_one[-1]) == ("一", "矗")


def test_the_checked_in_second_and_third_levels_hold_3000_and_1605_more() -> None:
    second, third = level_characters(2), level_characters(3)
    assert (len(second), len(set(second)), second[0], second[-1]) == (3000, 3000, "乂", "齉")
    assert (len(third), len(set(third)), third[0], third[-1]) == (1605, 1605, "亍", "蠼")
    table = table_characters()
    assert len(set(table)) == 8105
    assert {"䶮", "镕"} <= set(third)
    assert sum(ord(character) > 0xFFFF for character in table) == 196  # in Extensions B to E


def test_the_shipped_font_covers_all_of_gb2312_and_the_whole_table() -> None:
    cmap = shipped_cmap()
    gb2312 = gb2312_characters()
    assert len(gb2312) == 7445  # 6,763 hanzi and 682 other characters
    missing = {c for c in gb2312 | set(table_characters()) if ord(c) not in cmap}
    assert missing == set()


def test_the_shipped_font_covers_ascii_and_the_yuan_sign() -> None:
    cmap = shipped_cmap()
    assert {*range(0x20, 0x7F), ord("¥"), ord("，"), ord("。"), ord("〇")} <= set(cmap)

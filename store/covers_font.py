"""The shipped font: remakes store/fonts/NotoSansSC-Shuyuan-subset.otf, the subset of Noto Sans CJK
SC Bold that store/covers.py draws product covers with and referrals/posters.py share posters.

Run from a checkout, on a Debian-like system with fonts-noto-cjk installed:

    python -m store.covers_font [--source /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc]

It keeps every character of GB 2312 (each valid two-byte code, decoded with Python's `gb2312`
codec), the whole 通用规范汉字表 (its three levels, store/fonts/tongyong-guifan-level{1,2,3}.txt:
3,500 + 3,000 + 1,605 = 8,105 characters; the third holds the rarer ones of names, 䶮 and 镕;
196 are beyond the BMP), printable ASCII, ¥ and the full-width forms and CJK punctuation the
source has. It drops what drawing a horizontal title does not use (hinting, layout features,
vertical metrics) and leaves .notdef without an outline, so a character outside the font is
never drawn as a box. The font is under the SIL Open Font License 1.1 (store/fonts/OFL.txt),
which the subset keeps in its name table too.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

FONTS = Path(__file__).resolve().parent / "fonts"
FONT_FILE = FONTS / "NotoSansSC-Shuyuan-subset.otf"
# The table's levels and their sizes: 一级 (常用字), 二级, 三级 (names, places, classics).
LEVEL_SIZES = {1: 3500, 2: 3000, 3: 1605}
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
SOURCE_FACE = "NotoSansCJKsc-Bold"  # the PostScript name of the Simplified Chinese face

# Printable ASCII; ¥ (U+00A5) and its full-width form; CJK symbols and punctuation (、。「」〇…);
# the full-width forms (！，：；？（）０-９Ａ-Ｚ...); the punctuation a Chinese title uses
# besides (—…“”‘’·), most of which GB 2312 holds already.
EXTRA_RANGES = ((0x20, 0x7E), (0xA5, 0xA5), (0x3000, 0x303F), (0xFF01, 0xFF5E), (0xFFE0, 0xFFE6))
EXTRA_CHARACTERS = "—–…“”‘’·•"


def gb2312_characters() -> set[str]:
    """Every character of GB 2312: each two-byte code (rows 0xA1-0xF7, cells 0xA1-0xFE) that
    the codec decodes; the unassigned ones raise and are skipped."""
    found = set()
    for row in range(0xA1, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                found.add(bytes((row, cell)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def level_file(level: int) -> Path:
    return FONTS / f"tongyong-guifan-level{level}.txt"


def level_characters(level: int) -> list[str]:
    """The characters of one level of the table, in its order (comment lines skipped)."""
    lines = level_file(level).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def level_one_characters() -> list[str]:
    """The 3,500 characters of the table's first level, in its order."""
    return level_characters(1)


def table_characters() -> list[str]:
    """The whole table, levels one to three in order. Raises unless each level holds its
    count of distinct characters and no character is in two levels (8,105 in all)."""
    found: list[str] = []
    for level, size in LEVEL_SIZES.items():
        characters = level_characters(level)
        if len(characters) != size or len(set(characters)) != size:
            name = level_file(level).name
            raise ValueError(f"{name} holds {len(characters)} characters, not {size:,}")
        found += characters
    if len(set(found)) != sum(LEVEL_SIZES.values()):
        raise ValueError("a character of the 通用规范汉字表 is listed in two levels")
    return found


def extra_characters() -> set[str]:
    ranges = {chr(code) for start, end in EXTRA_RANGES for code in range(start, end + 1)}
    return ranges | set(EXTRA_CHARACTERS)


def required_characters() -> set[str]:
    """What the font must hold: GB 2312 and the whole 通用规范汉字表 (see table_characters)."""
    return gb2312_characters() | set(table_characters())


def open_face(source: Path, name: str = SOURCE_FACE) -> TTFont:
    """The face of a collection (.ttc) whose PostScript name is `name`; a lone font as is."""
    if source.suffix.lower() != ".ttc":
        return TTFont(source)
    with TTCollection(source, lazy=True) as collection:
        names = [face["name"].getDebugName(6) for face in collection.fonts]
    if name in names:
        return TTFont(source, fontNumber=names.index(name))
    raise ValueError(f"{source} has no face named {name}")


def make_subset(source: Path, target: Path, characters: Iterable[str]) -> TTFont:
    """Write the subset of `source`'s SC face holding `characters` (those it has) to `target`."""
    font = open_face(source)
    cmap = font.getBestCmap()
    wanted = {ord(character) for character in characters}
    options = subset.Options()
    options.layout_features = []  # Pillow draws a title glyph by glyph: no GSUB/GPOS needed
    options.hinting = False
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx"]
    options.notdef_outline = False  # a missing character is drawn as nothing, never a box
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]  # copyright and licence
    options.name_languages = [0x0409]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted & set(cmap)))
    subsetter.subset(font)
    font.recalcTimestamp = False  # the same source makes the same bytes
    target.parent.mkdir(parents=True, exist_ok=True)
    font.save(target)
    return font


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--target", type=Path, default=FONT_FILE)
    args = parser.parse_args()
    required = required_characters()
    with make_subset(args.source, args.target, required | extra_characters()) as font:
        held = set(font.getBestCmap())
    missing = {ord(c) for c in required} - held
    if missing:
        raise SystemExit(f"the source lacks {len(missing)} required characters: {sorted(missing)}")
    size = args.target.stat().st_size
    print(f"{args.target}: {len(held)} characters, {size / 1024 / 1024:.2f} MB")


if __name__ == "__main__":
    main()

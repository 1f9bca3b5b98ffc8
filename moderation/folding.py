"""How watched words and the texts they watch are folded before they are compared, the same
way on both sides, keeping where each folded character came from.

Chinese has no spaces between words, so matching is by substring (an Aho-Corasick automaton,
moderation.matcher), never by word boundaries. What folding takes away:

- Full-width and compatibility forms (ＡＢＣ, ①, ﬁ): NFKC, one character at a time.
- Case: casefold.
- Traditional characters (法輪 -> 法轮): OpenCC's Traditional-to-Simplified table, one character
  at a time (a phrase table could change a text's length, and the positions must hold).
- Filler put between the characters of a word (法@@轮, 法 轮, 法.轮, 法😀轮): only letters,
  digits and CJK characters are kept (Unicode categories L and N); punctuation, symbols,
  spaces, marks and controls are skipped.
- Repeated characters (法法法轮轮): a run of the same folded character counts once, in the text
  and in the words alike (so 哈哈 is watched as 哈).

A folded text is its skeleton (what is compared) and, for each skeleton character, the index of
the character of the original text it came from: a match reports its place in the text as
written.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache

import opencc

_CJK_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))


@cache
def _simplified() -> dict[int, str]:
    """Traditional -> Simplified for single characters, from OpenCC's t2s (about 4,200 pairs;
    built once per process, in about 20 ms)."""
    chars = [chr(code) for low, high in _CJK_RANGES for code in range(low, high)]
    converted = str(opencc.OpenCC("t2s").convert("\n".join(chars))).split("\n")
    if len(converted) != len(chars):  # never seen; then compare without the table
        return {}
    return {
        ord(char): to
        for char, to in zip(chars, converted, strict=True)
        if to != char and len(to) == 1
    }


# Letters (category Lo) that show as nothing: the Hangul fillers, which NFKC keeps. Filler
# like any space, so "法\u3164轮" is 法轮.
_BLANK_LETTERS = frozenset({"\u115f", "\u1160", "\u3164", "\uffa0"})


def _kept(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN" and char not in _BLANK_LETTERS


@lru_cache(maxsize=16_384)  # bounded: a text of rare code points cannot grow it without end
def fold_char(char: str) -> str:
    """One character of a text, folded: "" for filler, else one or more characters (NFKC
    may make several: ㍿ -> 株式会社). Accents go first (NFKD without its combining marks):
    a precomposed fúck is the fuck its decomposed twin already was."""
    bare = "".join(
        c for c in unicodedata.normalize("NFKD", char) if unicodedata.category(c) != "Mn"
    )
    normal = unicodedata.normalize("NFKC", bare).casefold().translate(_simplified())
    return "".join(c for c in normal if _kept(c))


def fold(text: str) -> tuple[str, list[int]]:
    """(skeleton, origins): the folded text, and for each of its characters the index in
    `text` it came from."""
    skeleton: list[str] = []
    origins: list[int] = []
    last = ""
    for index, char in enumerate(text):
        for folded in fold_char(char):
            if folded == last:
                continue  # a repeated character counts once
            skeleton.append(folded)
            origins.append(index)
            last = folded
    return "".join(skeleton), origins


def fold_word(word: str) -> str:
    """A watched word as the automaton keeps it ("" when nothing of it is kept: a word of
    punctuation only cannot be watched)."""
    return fold(word)[0]

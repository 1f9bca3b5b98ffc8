"""The watched words as one Aho-Corasick automaton (pyahocorasick): every word found in a text
in one pass over its folded skeleton (moderation.folding), however many words there are.

A word made only of ASCII letters and digits ("sb", "vx") must not have a Latin letter right
beside it in the text: "sb" is found in "s b", "你sb" and "vx123", not in "asbestos" or
"ａｓｂｅｓｔｏｓ" (English has word boundaries; Chinese has none, and a Chinese word is found
anywhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from moderation.folding import fold, fold_char, fold_word
from moderation.models import WordAction


@dataclass(frozen=True)
class Match:
    word: str  # as the admin wrote it
    action: WordAction
    start: int  # in the text as written, end exclusive
    end: int


def _ascii_word(key: str) -> bool:
    return key.isascii() and key.isalnum()


def _letter_at(text: str, index: int) -> bool:
    """Whether the character of `text` at `index` folds to a Latin letter: a Latin word
    beside it is part of a longer word (ａｓｂｅｓｔｏｓ too). A digit beside it is not
    (vx123456 is vx and a number)."""
    if not 0 <= index < len(text):
        return False
    folded = fold_char(text[index])
    return bool(folded) and folded[0].isascii() and folded[0].isalpha()


class Matcher:
    """The automaton of one version of the lists."""

    def __init__(self, words: Iterable[tuple[str, WordAction]]) -> None:
        owners: dict[str, list[tuple[str, WordAction]]] = {}
        for word, action in words:
            key = fold_word(word)
            if key:
                owners.setdefault(key, []).append((word, WordAction(action)))
        self.size = len(owners)
        self._automaton: ahocorasick.Automaton | None = None
        if owners:
            automaton = ahocorasick.Automaton()
            for key, found in owners.items():
                automaton.add_word(key, (key, tuple(found)))
            automaton.make_automaton()
            self._automaton = automaton

    def find(self, text: str) -> list[Match]:
        """Every watched word in `text`, in the order they end, overlapping ones included."""
        if self._automaton is None or not text:
            return []
        skeleton, origins = fold(text)
        found: list[Match] = []
        for last, (key, owners) in self._automaton.iter(skeleton):
            first = last - len(key) + 1
            start, end = origins[first], origins[last] + 1
            # A repeated last character belongs to the word too (法轮@轮 is censored whole).
            probe = end
            while probe < len(text):
                folded = fold_char(text[probe])
                if folded and folded != skeleton[last]:
                    break
                probe += 1
                if folded:
                    end = probe
            if _ascii_word(key) and (_letter_at(text, start - 1) or _letter_at(text, end)):
                continue
            found.extend(Match(word, action, start, end) for word, action in owners)
        return found


CENSOR_MARK = "■"


@dataclass(frozen=True)
class Verdict:
    """What the watched words say of one text."""

    text: str  # as written
    matches: tuple[Match, ...]

    def words(self, action: WordAction) -> list[str]:
        return list(dict.fromkeys(m.word for m in self.matches if m.action == action))

    @property
    def blocked(self) -> list[str]:
        return self.words(WordAction.BLOCK)

    @property
    def held(self) -> bool:
        return any(m.action == WordAction.REQUIRE_APPROVAL for m in self.matches)

    @property
    def flagged(self) -> bool:
        return any(m.action == WordAction.FLAG for m in self.matches)

    @property
    def reviewed_words(self) -> list[str]:
        """The words that put it in the review queue (held first, then flagged)."""
        return self.words(WordAction.REQUIRE_APPROVAL) + self.words(WordAction.FLAG)

    @property
    def censored(self) -> str:
        """The text with each censored word's characters as ■ (what is kept and shown)."""
        return self.censoring(WordAction.CENSOR)

    def censoring(self, *actions: WordAction) -> str:
        """The text with the characters of each word of `actions` as ■."""
        spans = [(m.start, m.end) for m in self.matches if m.action in actions]
        if not spans:
            return self.text
        chars = list(self.text)
        for start, end in spans:
            for index in range(start, end):
                if not chars[index].isspace():
                    chars[index] = CENSOR_MARK
        return "".join(chars)

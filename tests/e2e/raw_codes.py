"""What a Chinese page shows that is a code, not a sentence: a snake_case identifier
(card_declined, pending_payment) or a stored state in English (refunded, cancelled), in the
text a person reads. Text inside <code>, <pre>, <script>, <style> and attributes is left out
(an identifier an operator reads is shown as code on purpose)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from web.rendering import STATUS_LABELS

SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
STATES = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, STATUS_LABELS), key=len, reverse=True)) + r")\b"
)
SKIPPED = {"script", "style", "code", "pre", "textarea", "template"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skipping = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self.skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def raw_codes(html: str) -> list[str]:
    """The codes a person would read on this page, each once."""
    text = visible_text(html)
    found = SNAKE.findall(text) + STATES.findall(text)
    return list(dict.fromkeys(found))

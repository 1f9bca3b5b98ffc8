"""What an auto-reply's input must be before it is saved (keywords.rules): at least one keyword
and one reply and not too many; each keyword says something, is short enough folded or not,
and is not given twice; a text reply has a text; a product, post or feed item reply names one
that exists. Every problem is reported at once, by the field it is about."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from community.board.models import Post
from community.feed.models import FeedItem
from errors import ValidationError
from keywords.matching import keyword_key
from keywords.models import KEYWORD_MAX, TEXT_MAX, MatchMode, ReplyKind
from store.models import Product
from translation import N_
from web.api import DB_INT_MAX, LINE_PATTERN, TEXT_PATTERN

_LINE = re.compile(LINE_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)
MAX_KEYWORDS = 20
MAX_REPLIES = 10
NEEDS_ID = {ReplyKind.PRODUCT: Product, ReplyKind.POST: Post, ReplyKind.FEED_ITEM: FeedItem}
NAMES_NOTHING = {
    ReplyKind.PRODUCT: N_("names no product"),
    ReplyKind.POST: N_("names no board post"),
    ReplyKind.FEED_ITEM: N_("names no feed item"),
}


@dataclass(frozen=True)
class KeywordInput:
    """A keyword as typed, and how it matches ("equal" or "contain")."""

    text: str
    match: str = MatchMode.EQUAL.value


@dataclass(frozen=True)
class ReplyInput:
    """A reply as given: its kind, and its text (a text) or the id of what it names."""

    kind: str
    text: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class CheckedKeyword:
    text: str
    key: str
    match: MatchMode


@dataclass(frozen=True)
class CheckedReply:
    kind: ReplyKind
    text: str | None
    target_id: int | None


class _Problems:
    """Every problem of a rule's input, so that a form shows them all at once."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, name: str, reason: str) -> None:
        self.found.append((name, reason))

    def check(self) -> None:
        if self.found:
            (name, reason), *_ = self.found
            raise ValidationError(name, reason, others=self.found)


def _shown(text: str, pattern: re.Pattern[str]) -> bool:
    """Whether `text` can be shown as it is: no control characters, no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return pattern.match(text) is not None


def _check_keywords(keywords: Sequence[KeywordInput], problems: _Problems) -> list[CheckedKeyword]:
    if not keywords:
        problems.add("keywords", "needs at least one keyword")
    if len(keywords) > MAX_KEYWORDS:
        problems.add("keywords", f"must have at most {MAX_KEYWORDS} entries")
        keywords = keywords[:MAX_KEYWORDS]
    checked: list[CheckedKeyword] = []
    seen: set[str] = set()
    for n, given in enumerate(keywords):
        text = " ".join(given.text.split())
        try:
            match = MatchMode(given.match)
        except ValueError:
            problems.add(f"keywords[{n}].match", "is not one of the allowed values")
            continue
        key = keyword_key(text, match)
        if not _shown(given.text, _LINE):
            problems.add(f"keywords[{n}].text", "must not contain control characters")
        elif not key:
            problems.add(f"keywords[{n}].text", "must contain a letter, digit or character")
        elif match == MatchMode.CONTAIN and len(key) == 1 and key.isascii() and key.isalnum():
            # One Latin letter or digit is in nearly every input: it would answer them all.
            problems.add(f"keywords[{n}].text", "must be more than one letter or digit")
        elif len(text) > KEYWORD_MAX or len(key) > KEYWORD_MAX:
            problems.add(f"keywords[{n}].text", f"must be at most {KEYWORD_MAX} characters")
        elif key in seen:
            problems.add(f"keywords[{n}].text", "is the same keyword as another of this rule")
        else:
            seen.add(key)
            checked.append(CheckedKeyword(text=text, key=key, match=match))
    return checked


async def _check_replies(replies: Sequence[ReplyInput], problems: _Problems) -> list[CheckedReply]:
    if not replies:
        problems.add("replies", "needs at least one reply")
    if len(replies) > MAX_REPLIES:
        problems.add("replies", f"must have at most {MAX_REPLIES} entries")
        replies = replies[:MAX_REPLIES]
    checked: list[CheckedReply] = []
    for n, given in enumerate(replies):
        try:
            kind = ReplyKind(given.kind)
        except ValueError:
            problems.add(f"replies[{n}].kind", "is not one of the allowed values")
            continue
        if kind == ReplyKind.TEXT:
            text = (given.text or "").strip()
            if not _shown(text, _TEXT):
                problems.add(f"replies[{n}].text", "must not contain control characters")
            elif not text:
                problems.add(f"replies[{n}].text", "is required")
            elif len(text) > TEXT_MAX:
                problems.add(f"replies[{n}].text", f"must be at most {TEXT_MAX} characters")
            else:
                checked.append(CheckedReply(kind, text, None))
        elif kind == ReplyKind.WINDOW:
            checked.append(CheckedReply(kind, None, None))
        elif given.id is None:
            problems.add(f"replies[{n}].id", "is required")
        elif not 1 <= given.id <= DB_INT_MAX:
            problems.add(f"replies[{n}].id", "must be an id")
        elif not await NEEDS_ID[kind].exists(id=given.id):
            problems.add(f"replies[{n}].id", NAMES_NOTHING[kind])
        else:
            checked.append(CheckedReply(kind, None, given.id))
    return checked


async def check_rule(
    keywords: Sequence[KeywordInput], replies: Sequence[ReplyInput]
) -> tuple[list[CheckedKeyword], list[CheckedReply]]:
    """A rule's keywords and replies checked: at least one of each, at most MAX_KEYWORDS and
    MAX_REPLIES; a keyword says something and is at most KEYWORD_MAX characters, folded or
    not, and not twice in one rule; a text reply has a text, a product, post or feed item
    reply names one that exists. Raises ValidationError listing every problem."""
    problems = _Problems()
    checked_keywords = _check_keywords(keywords, problems)
    checked_replies = await _check_replies(replies, problems)
    problems.check()
    return checked_keywords, checked_replies

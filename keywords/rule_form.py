"""The console's form of an auto-reply, as it is shown and read: a few keyword rows (a keyword
and how it matches) and reply rows (a choice: a text written below it, the enrollment window,
or a product, post or feed item from a list), empty rows ignored, so it works without
JavaScript. Its refusals are put beside the rows they are about."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from community.board.models import Post
from community.feed.models import FeedItem
from errors import DomainError, ValidationError
from keywords.checks import MAX_KEYWORDS, MAX_REPLIES, KeywordInput, ReplyInput
from keywords.models import MatchMode, ReplyKind, ReplyMode
from keywords.rules import RuleRecord
from store.models import Product
from web.api import DB_INT_MAX

ROWS = 5  # keyword rows and reply rows shown at least
LISTED = 200  # products, posts and feed items offered, the newest first
TYPED_MAX = 2000  # what is read of one field (the services say what is too long)
_ROW = re.compile(r"^(keywords|replies)\[(\d+)\](?:\.(\w+))?$")


@dataclass
class KeywordRow:
    text: str = ""
    match: str = MatchMode.EQUAL.value


@dataclass
class ReplyRow:
    choice: str = ReplyKind.TEXT.value  # "text", "window", or "<kind>:<id>"
    text: str = ""

    @property
    def empty(self) -> bool:
        return self.choice == ReplyKind.TEXT.value and not self.text.strip()


@dataclass
class RuleForm:
    keywords: list[KeywordRow]
    replies: list[ReplyRow]
    mode: str = ReplyMode.ALL.value
    errors: dict[str, str] = field(default_factory=dict)
    # Which row each keyword and reply given to the services came from (empty rows are not).
    keyword_rows: list[int] = field(default_factory=list)
    reply_rows: list[int] = field(default_factory=list)

    @classmethod
    def empty(cls, keyword: str = "") -> RuleForm:
        return cls(
            keywords=[KeywordRow(text=keyword), *(KeywordRow() for _ in range(ROWS - 1))],
            replies=[ReplyRow() for _ in range(ROWS)],
        )

    def inputs(self) -> dict[str, Any]:
        """What the rows say, as the services take it (keywords.rules.create_rule)."""
        self.keyword_rows = [n for n, row in enumerate(self.keywords) if row.text.strip()]
        self.reply_rows = [n for n, row in enumerate(self.replies) if not row.empty]
        return {
            "keywords": [
                KeywordInput(self.keywords[n].text, self.keywords[n].match)
                for n in self.keyword_rows
            ],
            "replies": [_reply_input(self.replies[n]) for n in self.reply_rows],
            "mode": self.mode,
        }

    def refused(self, exc: DomainError) -> None:
        """Put a ValidationError's problems beside their rows (`keyword-2`, `reply-0`)."""
        if not isinstance(exc, ValidationError):
            return
        for name, reason in reversed(exc.errors):
            self.errors[self._row_field(name)] = reason

    def _row_field(self, name: str) -> str:
        found = _ROW.match(name)
        if found is None:
            return name  # "keywords", "replies", "mode"
        rows = self.keyword_rows if found.group(1) == "keywords" else self.reply_rows
        given = int(found.group(2))
        row = rows[given] if given < len(rows) else given
        if found.group(1) == "keywords":
            return f"match-{row}" if found.group(3) == "match" else f"keyword-{row}"
        return f"reply-{row}"

    def targets(self) -> list[str]:
        """The products, posts and items the rows name ("product:7"): offered even when they
        are older than the lists."""
        return [row.choice for row in self.replies if ":" in row.choice]


def _reply_input(row: ReplyRow) -> ReplyInput:
    kind, _, target = row.choice.partition(":")
    if kind == ReplyKind.TEXT.value:
        return ReplyInput(kind, text=row.text)
    return ReplyInput(kind, id=_number(target))


def _text(form: Mapping[str, Any], name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value[:TYPED_MAX] if isinstance(value, str) else default


def read_rule_form(form: Mapping[str, Any]) -> RuleForm:
    """The rows as posted (keyword-N and match-N, reply-N and reply-N-text, mode)."""
    keywords = [
        KeywordRow(text=_text(form, f"keyword-{n}"), match=_text(form, f"match-{n}", "equal"))
        for n in range(MAX_KEYWORDS)
        if f"keyword-{n}" in form
    ]
    replies = [
        ReplyRow(choice=_text(form, f"reply-{n}", "text"), text=_text(form, f"reply-{n}-text"))
        for n in range(MAX_REPLIES)
        if f"reply-{n}" in form
    ]
    return RuleForm(keywords=keywords, replies=replies, mode=_text(form, "mode", "all"))


def form_values(record: RuleRecord) -> RuleForm:
    """A saved rule on the form, with an empty row or more to add to it."""
    keywords = [KeywordRow(k.text, k.match.value) for k in record.keywords]
    replies = [
        ReplyRow(
            choice=r.kind.value
            if r.kind in (ReplyKind.TEXT, ReplyKind.WINDOW)
            else f"{r.kind.value}:{r.target_id}",
            text=r.text or "",
        )
        for r in record.replies
    ]
    keywords += [
        KeywordRow() for _ in range(min(MAX_KEYWORDS, max(ROWS, len(keywords) + 1)) - len(keywords))
    ]
    replies += [
        ReplyRow() for _ in range(min(MAX_REPLIES, max(ROWS, len(replies) + 1)) - len(replies))
    ]
    return RuleForm(keywords=keywords, replies=replies, mode=record.rule.mode.value)


@dataclass(frozen=True)
class ReplyOptions:
    """What a reply row may name, by kind: (choice value, title) pairs, the newest first."""

    products: list[tuple[str, str]]
    posts: list[tuple[str, str]]
    items: list[tuple[str, str]]

    def names(self) -> dict[str, str]:
        return dict([*self.products, *self.posts, *self.items])


def _ids_of(targets: Iterable[str], kind: ReplyKind) -> list[int]:
    """The ids of `kind` that `targets` name ("product:7"), those an id can be only."""
    prefix = f"{kind.value}:"
    found = [_number(t[len(prefix) :]) for t in targets if t.startswith(prefix)]
    return [n for n in found if n is not None and 1 <= n <= DB_INT_MAX]


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None


async def reply_options(targets: Iterable[str] = ()) -> ReplyOptions:
    """The newest products, board posts and feed items (LISTED of each), and those `targets`
    name beside them."""
    wanted = list(targets)
    products = await Product.all().order_by("-id").limit(LISTED).values_list("id", "title")
    named = _ids_of(wanted, ReplyKind.PRODUCT)
    products += await Product.filter(id__in=named).values_list("id", "title") if named else []
    posts = (
        await Post.filter(deleted=False).order_by("-id").limit(LISTED).values_list("id", "title")
    )
    named = _ids_of(wanted, ReplyKind.POST)
    posts += await Post.filter(id__in=named).values_list("id", "title") if named else []
    items = (
        await FeedItem.all().order_by("-publish_at", "-id").limit(LISTED).values_list("id", "title")
    )
    named = _ids_of(wanted, ReplyKind.FEED_ITEM)
    items += await FeedItem.filter(id__in=named).values_list("id", "title") if named else []

    def choices(kind: ReplyKind, rows: list[Any]) -> list[tuple[str, str]]:
        return list(dict((f"{kind.value}:{row[0]}", row[1]) for row in rows).items())

    return ReplyOptions(
        products=choices(ReplyKind.PRODUCT, products),
        posts=choices(ReplyKind.POST, posts),
        items=choices(ReplyKind.FEED_ITEM, items),
    )

"""Which rule answers an input: every rule's keywords and replies, read into the worker's memory
(keywords.memory) every few seconds, and matched against the folded input.

The order: a rule with an `equal` keyword that is the whole input; then `contain` keywords found
anywhere in it, the longest keyword first, then the oldest rule. (The feed's live item, whose
keyword is the whole input, comes before all of them: keywords.services.answer.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from community.text import folded, normalise_keyword
from keywords.memory import KeywordMemory
from keywords.models import (
    AutoReply,
    AutoReplyAnswer,
    AutoReplyKeyword,
    MatchMode,
    ReplyKind,
    ReplyMode,
)

# How long another worker's change may take to reach this one's lookups.
REFRESH_SECONDS = 3.0


def contain_key(text: str) -> str:
    """How a `contain` keyword and the input it is looked for in are compared: folded as
    every keyword is (community.text.folded: NFKC, case, Traditional -> Simplified) with
    the spaces inside dropped, but nothing trimmed from the ends, so that "C++" stays
    "c++" (not "c") and "生日快乐🎉" keeps its "🎉". An `equal` keyword is
    community.text.normalise_keyword: this, then punctuation and symbols trimmed from the
    ends."""
    return re.sub(r"\s+", "", folded(text))


def keyword_key(text: str, match: MatchMode) -> str:
    """The folded key a keyword is stored and matched by, as its match mode says."""
    return contain_key(text) if match == MatchMode.CONTAIN else normalise_keyword(text)


@dataclass(frozen=True)
class StoredReply:
    """A reply as the rule holds it: a text, or what it names (looked up at each answer)."""

    kind: ReplyKind
    text: str | None
    target_id: int | None


@dataclass(frozen=True)
class Rule:
    id: int
    mode: ReplyMode
    replies: tuple[StoredReply, ...]


@dataclass(frozen=True)
class RuleBook:
    """Every rule by its keywords: `equal` by folded keyword; `contain` in the order they are
    tried (the longest keyword first, then the oldest rule)."""

    equal: dict[str, Rule]
    contain: tuple[tuple[str, Rule], ...]

    def candidates(self, typed: str) -> list[Rule]:
        """The rules that match the input `typed`, best first, each once: `equal` keywords
        against it folded by normalise_keyword, `contain` ones against it by contain_key."""
        found: list[Rule] = []
        key = normalise_keyword(typed)
        if key in self.equal:
            found.append(self.equal[key])
        whole = contain_key(typed)
        for keyword, rule in self.contain:
            if keyword in whole and rule not in found:
                found.append(rule)
        return found

    def answers(self, typed: str) -> bool:
        return bool(normalise_keyword(typed)) and bool(self.candidates(typed))


async def read_rule_book() -> RuleBook:
    """Every rule from the database (a few hundred keywords at most: three small queries)."""
    modes = dict(cast(list[tuple[int, str]], await AutoReply.all().values_list("id", "mode")))
    replies: dict[int, list[StoredReply]] = {}
    for row in (
        await AutoReplyAnswer.all()
        .order_by("rule_id", "position")
        .values("rule_id", "kind", "text", "target_id")
    ):
        replies.setdefault(row["rule_id"], []).append(
            StoredReply(ReplyKind(row["kind"]), row["text"], row["target_id"])
        )
    rules = {
        rule_id: Rule(rule_id, ReplyMode(mode), tuple(replies.get(rule_id, ())))
        for rule_id, mode in modes.items()
    }
    equal: dict[str, Rule] = {}
    contain: list[tuple[str, Rule]] = []
    for row in await AutoReplyKeyword.all().values("rule_id", "key", "match"):
        rule = rules.get(row["rule_id"])
        if rule is None:  # its rule was deleted between the queries
            continue
        if row["match"] == MatchMode.EQUAL:
            equal[row["key"]] = rule
        else:
            contain.append((row["key"], rule))
    contain.sort(key=lambda found: (-len(found[0]), found[1].id))
    return RuleBook(equal=equal, contain=tuple(contain))


async def rule_book(memory: KeywordMemory, now: datetime) -> RuleBook:
    """The rules as this worker remembers them: read again when REFRESH_SECONDS old, and at
    once after a change saved in this worker (KeywordMemory.written)."""

    async def until(filled: datetime) -> datetime:
        return filled + timedelta(seconds=REFRESH_SECONDS)

    book = await memory.rules.get_or_fill(("rules", memory.generation), now, read_rule_book, until)
    return cast(RuleBook, book)

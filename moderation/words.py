"""The watched words: admins' lists (add, remove, CSV in and out, a box to test a sentence),
and the one check every package that keeps members' words calls before it keeps them.

Each worker keeps one automaton (moderation.matcher.Matcher) in WatchedWords, wired per app
(WATCHED). A change to the lists raises WatchedWordsVersion in its transaction; a worker reads
the version at most once a second when it checks a text, and rebuilds its automaton when the
version moved: a change reaches every worker's next check a second later at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from changes import WATCHED_WORDS, announce
from errors import ValidationError
from moderation.errors import BlockedWords
from moderation.folding import fold_word
from moderation.matcher import Match, Matcher, Verdict
from moderation.models import WatchedWord, WatchedWordsVersion, WordAction
from wiring import NotWired, Wire

WORD_CHARS = 100
FOLDED_CHARS = 200  # WatchedWord.folded
WORDS_PER_CALL = 5_000
WORDS_AT_MOST = 50_000  # in all lists together
CSV_BYTES = 2_000_000
TEST_CHARS = 20_000
REFRESH_SECONDS = 1.0


# ---------------------------------------------------------------------------------------------
# Each worker's automaton


@dataclass
class WatchedWords:
    """One worker's automaton of the lists, and the version it was built from."""

    matcher: Matcher = field(default_factory=lambda: Matcher(()))
    version: int = -1
    checked_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Raised by forget(): a rebuild that began before it does not count as fresh.
    generation: int = 0

    def forget(self) -> None:
        """Read the lists again at the next check (this worker changed them; a test emptied
        the database)."""
        self.version = -1
        self.checked_at = float("-inf")
        self.generation += 1

    async def current(self) -> Matcher:
        """The automaton, rebuilt first when the lists changed (read at most once a second)."""
        if time.monotonic() - self.checked_at < REFRESH_SECONDS:
            return self.matcher
        async with self.lock:
            if time.monotonic() - self.checked_at < REFRESH_SECONDS:
                return self.matcher
            generation = self.generation
            version = await lists_version()
            if version != self.version:
                rows = await WatchedWord.all().values_list("word", "action")
                self.matcher = await asyncio.to_thread(Matcher, rows)
                self.version = version
            if generation == self.generation:  # else forgotten meanwhile: read again next time
                self.checked_at = time.monotonic()
        return self.matcher


WATCHED: Wire[WatchedWords] = Wire("moderation.words.WATCHED")


async def lists_version() -> int:
    row = await WatchedWordsVersion.get_or_none(id=1)
    return row.version if row is not None else 0


async def _bump() -> None:
    """Raise the lists' version (in the caller's transaction; the workers read it within
    REFRESH_SECONDS at the latest, every worker at once: _changed after the commit)."""
    if not await WatchedWordsVersion.filter(id=1).update(version=F("version") + 1):
        await WatchedWordsVersion.create(id=1, version=1)


async def _changed() -> None:
    """This worker reads the lists again at its next check, and every other worker too
    (called after the commit)."""
    with contextlib.suppress(NotWired):  # a script outside any app: no worker to tell
        WATCHED.get().forget()
    await announce(WATCHED_WORDS)


# ---------------------------------------------------------------------------------------------
# The check


async def verdict(text: str) -> Verdict:
    """What the watched words say of `text`, with this worker's automaton."""
    matcher = await WATCHED.get().current()
    return Verdict(text, tuple(matcher.find(text)))


@dataclass(frozen=True)
class Screened:
    """Texts that passed (no blocked word): as they are kept (censored words as ■), and the
    words that hold them for review or flag them."""

    texts: dict[str, str]
    held_words: list[str]
    flagged_words: list[str]

    @property
    def held(self) -> bool:
        return bool(self.held_words)

    @property
    def flagged(self) -> bool:
        return bool(self.flagged_words)

    @property
    def review_words(self) -> list[str]:
        return self.held_words + [w for w in self.flagged_words if w not in self.held_words]


async def screen(**texts: str) -> Screened:
    """Check the named texts together (a post's title and body). Raises BlockedWords naming
    every blocked word of all of them (and the first text that has one, as its `field`);
    else returns them censored, with what holds or flags them."""
    verdicts = {name: await verdict(text) for name, text in texts.items()}
    # What would be kept is read again: a word hidden inside a censored one (法赌博轮, 赌博
    # censored) must not come out as a word (法■■轮 reads as 法轮).
    kept = {name: await verdict(v.censored) for name, v in verdicts.items()}
    both = {name: (verdicts[name], kept[name]) for name in verdicts}
    blocked = list(dict.fromkeys(w for pair in both.values() for v in pair for w in v.blocked))
    if blocked:
        first = next(n for n, pair in both.items() if pair[0].blocked or pair[1].blocked)
        raise BlockedWords(blocked, field=first)
    every = [v for pair in both.values() for v in pair]
    held = list(dict.fromkeys(w for v in every for w in v.words(_HELD)))
    flagged = list(dict.fromkeys(w for v in every for w in v.words(_FLAG)))
    return Screened({n: v.censored for n, v in verdicts.items()}, held, flagged)


_HELD = WordAction.REQUIRE_APPROVAL
_FLAG = WordAction.FLAG
# Censoring a word leaves ■, which folding skips: the words around it may meet and make a
# new one (法赌博轮, 赌博 censored, reads 法■■轮: 法轮). A text is censored again this many
# times at most.
CENSOR_ROUNDS = 3


async def censor_refusals(text: str) -> str | None:
    """`text` with every word that would refuse or hold it (block, require approval) censored
    as ■ too, as a censor word is; flag words are kept. For words that come from elsewhere
    and must never stop what brought them (a WeChat nickname offered at a first sign-in).
    None when censoring keeps making new such words (CENSOR_ROUNDS)."""
    for _ in range(CENSOR_ROUNDS):
        found = await verdict(text)
        if not found.blocked and not found.held and not found.words(WordAction.CENSOR):
            return text  # read again after censoring: nothing left to hide
        text = found.censoring(WordAction.BLOCK, WordAction.CENSOR, _HELD)
    return None


@dataclass(frozen=True)
class FoundWord:
    word: str  # as the admin wrote it
    action: WordAction


async def watched_in(**texts: str) -> list[FoundWord]:
    """Every watched word in the named texts, once each with its action, in the order they
    are found; nothing refused or changed (a broadcast's draft: a warning for whoever
    writes it)."""
    found: dict[tuple[str, WordAction], None] = {}
    for text in texts.values():
        for match in (await verdict(text)).matches:
            found.setdefault((match.word, match.action))
    return [FoundWord(word, action) for word, action in found]


async def test_sentence(text: str) -> list[Match]:
    """The admins' test box: every match in `text`, with the lists as they are now (this
    worker's automaton rebuilt first if they changed). Raises ValidationError (text)."""
    if len(text) > TEST_CHARS:
        raise ValidationError("text", f"must be at most {TEST_CHARS:,} characters")
    words = WATCHED.get()
    words.checked_at = float("-inf")  # an admin testing sees the lists as they are now
    matcher = await words.current()
    return matcher.find(text)


# ---------------------------------------------------------------------------------------------
# The lists


def _clean_word(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValidationError("words", "must be strings")
    word = " ".join(unicodedata.normalize("NFC", raw).split())
    if not word:
        raise ValidationError("words", "must not be empty")
    if len(word) > WORD_CHARS:
        raise ValidationError("words", f"must be at most {WORD_CHARS} characters each: {word}")
    folded = fold_word(word)
    if not folded:
        raise ValidationError("words", f"must have a letter or a digit: {word}")
    if len(folded) > FOLDED_CHARS:  # NFKC spreads some characters (㍿ is 株式会社)
        raise ValidationError("words", f"is too long once normalised: {word[:20]}")
    return word


def _action(raw: object) -> WordAction:
    try:
        return WordAction(str(raw).strip())
    except ValueError:
        choices = ", ".join(a.value for a in WordAction)
        raise ValidationError("action", f"must be one of {choices}") from None


async def add_words(
    action: str | WordAction, words: Iterable[object], *, actor: User | None, now: datetime
) -> int:
    """Watch `words` with `action` (a word already watched moves to this action). Returns how
    many were added or moved. Audit: "watched_words.add". Raises ValidationError (action,
    words: empty, too long, punctuation only, too many)."""
    chosen = _action(action)
    cleaned = list(dict.fromkeys(_clean_word(word) for word in words))
    if not cleaned:
        raise ValidationError("words", "must list at least one word")
    if len(cleaned) > WORDS_PER_CALL:
        raise ValidationError("words", f"must be at most {WORDS_PER_CALL:,} at a time")
    async with in_transaction():
        existing = {w.word: w for w in await WatchedWord.filter(word__in=cleaned)}
        new = [w for w in cleaned if w not in existing]
        if await WatchedWord.all().count() + len(new) > WORDS_AT_MOST:
            raise ValidationError("words", f"the lists hold at most {WORDS_AT_MOST:,} words")
        moved = [w for w in cleaned if w in existing and existing[w].action != chosen]
        if moved:
            await WatchedWord.filter(word__in=moved).update(action=chosen)
        await WatchedWord.bulk_create(
            [
                WatchedWord(
                    word=w, folded=fold_word(w), action=chosen, created_at=now, created_by=actor
                )
                for w in new
            ],
            batch_size=1000,
        )
        changed = len(new) + len(moved)
        if changed:
            await _bump()
            await audit.record(
                actor=actor,
                action="watched_words.add",
                object_type="watched_words",
                after={"action": chosen.value, "count": changed, "words": (new + moved)[:50]},
                now=now,
            )
    if changed:
        await _changed()
    return changed


async def remove_word(word_id: int, *, actor: User | None, now: datetime) -> bool:
    """Stop watching a word. Audit: "watched_words.remove". False when it was gone already."""
    async with in_transaction():
        word = await WatchedWord.get_or_none(id=word_id)
        if word is None:
            return False
        await word.delete()
        await _bump()
        await audit.record(
            actor=actor,
            action="watched_words.remove",
            object_type="watched_words",
            object_id=word_id,
            before={"word": word.word, "action": word.action.value},
            now=now,
        )
    await _changed()
    return True


async def words_of(action: WordAction | None = None, *, limit: int = 500) -> list[WatchedWord]:
    query = WatchedWord.all() if action is None else WatchedWord.filter(action=action)
    return await query.order_by("action", "word").limit(limit)


async def counts() -> dict[WordAction, int]:
    return {action: await WatchedWord.filter(action=action).count() for action in WordAction}


CSV_HEADER = ("word", "action")


async def export_csv() -> str:
    """Every watched word as CSV: word,action (what import_csv reads back)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for word, action in (
        await WatchedWord.all().order_by("action", "word").values_list("word", "action")
    ):
        writer.writerow((word, str(action.value if isinstance(action, WordAction) else action)))
    return out.getvalue()


async def import_csv(
    data: bytes, *, default_action: str | None, actor: User | None, now: datetime
) -> int:
    """Words from a CSV file: one word per row, its action in the second column (or
    `default_action` for rows without one; a header row "word,action" is skipped). UTF-8,
    with or without a BOM. Every row is checked before any is kept, and all are kept in one
    transaction: a file is taken whole or not at all. Returns how many were added or moved.
    Raises ValidationError (file: too big, not UTF-8, not CSV, too many rows; action; words)."""
    if len(data) > CSV_BYTES:
        raise ValidationError("file", f"must be at most {CSV_BYTES // 1_000_000} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("file", "must be a CSV file in UTF-8") from None
    by_action: dict[WordAction, list[str]] = {}
    rows = 0
    try:
        for row in csv.reader(io.StringIO(text)):
            if not row or not "".join(row).strip():
                continue
            if rows == 0 and tuple(cell.strip().lower() for cell in row[:2]) == CSV_HEADER:
                continue
            rows += 1
            if rows > WORDS_AT_MOST:
                raise ValidationError("file", f"must have at most {WORDS_AT_MOST:,} rows")
            given = row[1].strip() if len(row) > 1 and row[1].strip() else default_action
            if given is None:
                raise ValidationError("action", f"is missing for “{row[0][:20]}”")
            by_action.setdefault(_action(given), []).append(_clean_word(row[0]))
    except csv.Error:  # a field over the csv module's limit, a stray NUL...
        raise ValidationError("file", "is not a CSV file we can read") from None
    if not by_action:
        raise ValidationError("file", "has no words")
    total = 0
    async with in_transaction():
        for action, words in by_action.items():
            for start in range(0, len(words), WORDS_PER_CALL):
                total += await add_words(
                    action, words[start : start + WORDS_PER_CALL], actor=actor, now=now
                )
    return total

"""Where a departed person is named in text others keep, it is replaced by ERASED_NAME. Two
kinds of values, treated differently, because display names are not unique and may be two
characters long ("个人", "王芳"), while an email address or a phone number is nobody else's:

- identifiers (email, phone numbers, tax id, their street addresses, WeChat ids, their
  identities' subjects) are replaced wherever they appear in a searched column, in any case;
- names (the display name, the WeChat nickname) only where they demonstrably refer to them: a
  JSON value equal to the name (a notice's `author`, an audit entry's field), the sentence of
  the same notice, and an @mention (`@name` not followed by a name's character) in posts.
  Never inside others' free text otherwise ("我个人认为" stays).

The rows are found by the database (LIKE, a scan of each searched column: the cost is the
size of those tables, once per erased person), the values replaced here."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise import connections
from tortoise.models import Model

from db import for_dialect

# What an erased account is called, and what replaces its name, email or phone in others' text.
ERASED_NAME = "已注销用户"
# Shorter identifiers (a street address "1号楼") would hit unrelated text: never replaced.
MIN_IDENTIFIER_LENGTH = 6
# What a name is made of in an @mention (accounts.profiles.MENTION).
_NAME_CHARACTER = r"[\w\u4e00-\u9fff·.-]"


@dataclass(frozen=True)
class Person:
    """What names one departed person: identifiers (replaced anywhere) and names (replaced
    only where they refer to them)."""

    identifiers: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.identifiers or self.names)


def person(identifiers: Iterable[str | None], names: Iterable[str | None]) -> Person:
    """The distinct values worth looking for, longest first (an email holding a shorter
    identifier is replaced whole first)."""
    kept = {v.strip() for v in identifiers if v and len(v.strip()) >= MIN_IDENTIFIER_LENGTH}
    named = {v.strip() for v in names if v and v.strip() and v.strip() != ERASED_NAME}
    return Person(
        sorted(kept, key=lambda value: (-len(value), value)),
        sorted(named, key=lambda value: (-len(value), value)),
    )


@dataclass(frozen=True)
class Texts:
    """The text-like columns of one table that may name a person.

    `text` (plain) and `json` (documents whose strings are searched): identifiers anywhere.
    `mentions`: plain columns where `@name` is replaced too. `named_json`: documents whose
    string values equal to a name are replaced; then the names in `follow` (the sentence made
    from that document) too. `render`: (html column, its source, how it is made), remade
    when the source changed."""

    model: type[Model]
    text: tuple[str, ...] = ()
    json: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    named_json: tuple[str, ...] = ()
    follow: tuple[str, ...] = ()
    render: tuple[str, str, Callable[[str], str]] | None = None


def replaced(text: str, values: Sequence[str]) -> str:
    """`text` with each of `values` replaced by ERASED_NAME (an email in any case)."""
    for value in values:
        text = re.sub(re.escape(value), ERASED_NAME, text, flags=re.IGNORECASE)
    return text


def mentions_replaced(text: str, names: Sequence[str]) -> str:
    """`text` with each `@name` (not followed by a name's character) naming ERASED_NAME."""
    for name in names:
        pattern = rf"(?<![\w@/.])@{re.escape(name)}(?!{_NAME_CHARACTER})"
        text = re.sub(pattern, f"@{ERASED_NAME}", text)
    return text


def replaced_in(document: Any, values: Sequence[str]) -> Any:
    """A JSON document with `values` replaced in every string, keys kept."""
    if isinstance(document, str):
        return replaced(document, values)
    if isinstance(document, list):
        return [replaced_in(item, values) for item in document]
    if isinstance(document, dict):
        return {key: replaced_in(item, values) for key, item in document.items()}
    return document


def equal_replaced_in(document: Any, names: Sequence[str]) -> Any:
    """A JSON document whose string values equal to one of `names` are ERASED_NAME."""
    if isinstance(document, str):
        return ERASED_NAME if document in names else document
    if isinstance(document, list):
        return [equal_replaced_in(item, names) for item in document]
    if isinstance(document, dict):
        return {key: equal_replaced_in(item, names) for key, item in document.items()}
    return document


def _like(value: str) -> str:
    escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _forms(value: str) -> list[str]:
    """How `value` is spelled in a column: as is, and as JSON text escapes it (SQLite keeps
    a JSON field as the text json.dumps wrote: "\\u7504..." for Chinese)."""
    escaped = json.dumps(value)[1:-1]
    return [value] if escaped == value else [value, escaped]


def _searches(texts: Texts, found: Person) -> list[tuple[str, str]]:
    """(column, LIKE pattern) pairs: a row matching any may need a change."""
    pairs = [
        (column, _like(form))
        for column in (*texts.text, *texts.json, *texts.mentions)
        for value in found.identifiers
        for form in _forms(value)
    ]
    pairs += [
        (column, _like("@" + form))
        for column in texts.mentions
        for name in found.names
        for form in _forms(name)
    ]
    pairs += [  # a JSON string equal to the name: its quotes around it
        (column, _like(f'"{form}"'))
        for column in texts.named_json
        for name in found.names
        for form in _forms(name)
    ]
    return list(dict.fromkeys(pairs))


async def rows_naming(texts: Texts, found: Person) -> list[int]:
    """Ids of the rows of `texts.model` whose columns may name `found`."""
    pairs = _searches(texts, found)
    if not pairs:
        return []
    patterns = list(dict.fromkeys(pattern for _, pattern in pairs))
    number = {pattern: index for index, pattern in enumerate(patterns, start=1)}
    meta = texts.model._meta
    conditions = [
        f'LOWER(CAST("{meta.fields_map[column].source_field or column}" AS TEXT)) '
        f"LIKE ${number[pattern]} ESCAPE '\\'"
        for column, pattern in pairs
    ]
    connection = connections.get("default")
    # Names from the models' metadata only; every searched value is a bound parameter.
    sql = f'SELECT "{meta.db_pk_column}" AS id FROM "{meta.db_table}" WHERE ' + " OR ".join(  # nosec B608
        conditions
    )
    # A pattern searched in several columns is bound once: SQLite's numbered ?n reuses it.
    _, rows = await connection.execute_query(
        for_dialect(sql, connection.capabilities.dialect), patterns
    )
    return [int(row["id"]) for row in rows]


def _changes(row: Model, texts: Texts, found: Person) -> dict[str, Any]:
    updates: dict[str, Any] = {}

    def now(column: str) -> Any:
        return updates.get(column, getattr(row, column))

    for column in (*texts.text, *texts.mentions):
        before = now(column)
        if isinstance(before, str):
            after = replaced(before, found.identifiers)
            if column in texts.mentions:
                after = mentions_replaced(after, found.names)
            if after != before:
                updates[column] = after
    for column in texts.json:
        before = now(column)
        if (after := replaced_in(before, found.identifiers)) != before:
            updates[column] = after
    named = False
    for column in texts.named_json:
        before = now(column)
        if (after := equal_replaced_in(before, found.names)) != before:
            updates[column] = after
            named = True
    if named:
        for column in texts.follow:
            before = now(column)
            if isinstance(before, str) and (after := replaced(before, found.names)) != before:
                updates[column] = after
    if texts.render is not None:
        html, source, render = texts.render
        if source in updates:
            updates[html] = render(updates[source])
    return updates


async def scrub(texts: Texts, found: Person) -> list[int]:
    """Replace what names `found` in `texts`' columns (see the module's docstring). Returns
    the ids of the rows changed."""
    changed: list[int] = []
    ids = await rows_naming(texts, found)
    for row in await texts.model.filter(pk__in=ids) if ids else []:
        updates = _changes(row, texts, found)
        if updates:
            await texts.model.filter(pk=row.pk).update(**updates)
            changed.append(int(row.pk))
    return changed


async def scrub_queued(model: type[Model], ids: Iterable[int], found: Person) -> int:
    """Names replaced in the queued rows `ids` of `model` (mail a notice of theirs caused,
    not yet sent: sent mail is history). Returns how many changed."""
    changed = 0
    for row in await model.filter(pk__in=list(ids)):
        updates = {
            column: after
            for column in ("subject", "text", "html")
            if isinstance(before := getattr(row, column), str)
            and (after := replaced(before, found.names)) != before
        }
        if updates:
            changed += await model.filter(pk=row.pk).update(**updates)
    return changed

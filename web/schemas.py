"""What the API's bodies, queries and answers are made of: msgspec bases (Body, Query, Answer)
and the constraints every field states (line, text, whole, Moment, Id), written so the
contract (the OpenAPI document) says them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar, get_type_hints

import msgspec
from starlette.requests import Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]
S = TypeVar("S", bound=msgspec.Struct)

# Text that a later page can always show: no C0 or C1 control characters, no U+FFFE/U+FFFF.
# Multi-line text may also hold tab, newline and carriage return. Written as patterns so the
# contract says so. Lone surrogates cannot reach them: the JSON decoder refuses a "\ud800"
# escape (400 invalid_json), and read_fields refuses them in forms.
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\ufffe\uffff]*$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]*$"
# The same with at least one character that is not a space: for fields that must say something.
_LINE = r"[^\x00-\x1f\x7f-\x9f\ufffe\uffff]"
_TEXT = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]"
_SHOWN = r"[^\s\x00-\x1f\x7f-\x9f\ufffe\uffff]"
VISIBLE_LINE_PATTERN = rf"^{_LINE}*{_SHOWN}{_LINE}*$"
VISIBLE_TEXT_PATTERN = rf"^{_TEXT}*{_SHOWN}{_TEXT}*$"
MOMENT_PATTERN = (
    r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]"
    r":[0-5][0-9](\.[0-9]{1,6})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
# Datetimes are accepted in the years 2000 to 2099 as written: from 2000-01-01T00:00Z up to,
# not including, 2100-01-01T00:00Z, give or take the offset the client wrote.
FIRST_YEAR, LAST_YEAR = 2000, 2099
MAX_JSON_DEPTH = 32
DB_INT_MAX = 2**31 - 1  # ids, counts and amounts are PostgreSQL integers
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": DB_INT_MAX}  # a path id (web.paths)


def line(max_length: int, *, min_length: int = 0, description: str | None = None) -> Any:
    """One line of text of at most `max_length` characters: Annotated[str, line(120)]. With a
    `min_length`, it must also show something: spaces alone are not a title."""
    return msgspec.Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=VISIBLE_LINE_PATTERN if min_length else LINE_PATTERN,
        description=description,
    )


def text(max_length: int, *, min_length: int = 0, description: str | None = None) -> Any:
    """Multi-line text (tab, newline and carriage return allowed): Annotated[str, text(5000)].
    With a `min_length`, it must also show something."""
    return msgspec.Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=VISIBLE_TEXT_PATTERN if min_length else TEXT_PATTERN,
        description=description,
    )


def whole(low: int, high: int, *, description: str | None = None) -> Any:
    """A whole number from `low` to `high`: Annotated[int, whole(1, 100)]."""
    return msgspec.Meta(ge=low, le=high, description=description)


# An RFC 3339 time with an offset, within the years the product can mean (checked again by
# Body.__post_init__, as msgspec reads a few more spellings than the pattern allows).
Moment = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description="RFC 3339 with an offset, in the years 2000 to 2099",
        extra_json_schema={"pattern": MOMENT_PATTERN},
    ),
]
Id = Annotated[int, msgspec.Meta(ge=1, le=DB_INT_MAX)]

# A day of the calendar, YYYY-MM-DD in the years 2000 to 2099, or empty (a form's filter left
# blank): the pattern knows each month's length and the leap years (2000 to 2099: every fourth),
# so a day the schema accepts is a day (2026-02-30 and 2027-02-29 are refused by it).
DAY_PATTERN = (
    r"^(?:20[0-9]{2}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"|20(?:[02468][048]|[13579][26])-02-29)?$"
)
OptionalDay = Annotated[
    str, msgspec.Meta(pattern=DAY_PATTERN, description="A day, YYYY-MM-DD, or empty")
]


def _datetime_fields(cls: type) -> tuple[str, ...]:
    hints = get_type_hints(cls, include_extras=True)
    return tuple(name for name, hint in hints.items() if "datetime" in repr(hint))


class Body(msgspec.Struct, kw_only=True):
    """A JSON request body: types as declared (no "5" for 5), undeclared fields ignored.

    `schema_rules` are JSON Schema keywords (if/then/else) for a rule across fields that a
    schema can state, added to the body's component by web.openapi; a rule it cannot state
    (one time after another) goes in the docstring, which is the component's description."""

    _moments: ClassVar[tuple[str, ...]] = ()
    schema_rules: ClassVar[Mapping[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._moments = _datetime_fields(cls)

    def __post_init__(self) -> None:
        for name in self._moments:
            moment = getattr(self, name)
            if moment is None:
                continue
            if not FIRST_YEAR <= moment.year <= LAST_YEAR:
                raise ValueError(f"must be in the years 2000 to 2099 - at `$.{name}`")
            setattr(self, name, moment.astimezone(UTC))


class Query(msgspec.Struct, kw_only=True):
    """Query parameters: text from the URL, converted to the declared types."""


class Answer(msgspec.Struct, kw_only=True):
    """A response's shape, for the contract (answers are written as plain dicts)."""

"""Page cursors: a moment and an id ("1764633600000000_42"), or an offset ("o30").

Opaque to clients, but shaped so that the API's contract can state exactly what is accepted:
anything matching the pattern is a cursor this server could have given out, and anything else
is a 422 naming `cursor`, never a lookup with a value the database cannot hold.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from errors import ValidationError
from web.paths import ID_PATTERN

# Microseconds since 1970, 15 or 16 digits: 1998 to 2103, every one a valid moment.
_MICROS = "(?:9[0-9]{14}|[1-3][0-9]{15}|4[01][0-9]{14})"
MOMENT_CURSOR_PATTERN = rf"^{_MICROS}_{ID_PATTERN}$"
OFFSET_CURSOR_PATTERN = r"^o[0-9]{1,5}$"
CURSOR_PATTERN = rf"^(?:{_MICROS}_{ID_PATTERN}|o[0-9]{{1,5}})$"
_MOMENT = re.compile(MOMENT_CURSOR_PATTERN)
_OFFSET = re.compile(OFFSET_CURSOR_PATTERN)


def _refused() -> ValidationError:
    return ValidationError("cursor", "is not a cursor this server gave out")


def moment_cursor(moment: datetime, item_id: int) -> str:
    return f"{int(moment.timestamp() * 1_000_000)}_{item_id}"


def offset_cursor(offset: int) -> str:
    return f"o{offset}"


def is_offset_cursor(cursor: str) -> bool:
    return bool(_OFFSET.match(cursor))


def read_moment_cursor(cursor: str) -> tuple[datetime, int]:
    """The (moment, id) a cursor made by moment_cursor() continues from."""
    if not _MOMENT.match(cursor):
        raise _refused()
    micros, _, item_id = cursor.partition("_")
    return datetime.fromtimestamp(int(micros) / 1_000_000, UTC), int(item_id)


def read_offset_cursor(cursor: str) -> int:
    """The offset a cursor made by offset_cursor() continues from."""
    if not _OFFSET.match(cursor):
        raise _refused()
    return int(cursor[1:])

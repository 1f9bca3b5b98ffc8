"""Reading admin form fields as people type them (yuan, Beijing time), and CSV downloads."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from starlette.responses import Response, StreamingResponse

from errors import DomainError, ValidationError
from web.rendering import SHANGHAI

T = TypeVar("T")


def field_errors(exc: DomainError) -> dict[str, str]:
    """A form's errors by field: every one of a ValidationError, else the message as "form"."""
    if isinstance(exc, ValidationError):
        return {name: reason for name, reason in reversed(exc.errors)} | {exc.field: exc.reason}
    return {"form": exc.message}


def _digits(text: str) -> bool:
    """Only the digits 0-9 (str.isdigit also takes "²" and "٣", which int() refuses)."""
    return text.isascii() and text.isdigit()


def yuan_to_fen(field: str, text: str) -> int:
    """ "199", "199.5", "¥1,199.50" -> fen. Money is typed in yuan and stored in fen."""
    cleaned = text.strip().replace(",", "").removeprefix("¥")
    whole, _, fraction = cleaned.partition(".")
    if not _digits(whole) or (fraction and (not _digits(fraction) or len(fraction) > 2)):
        raise ValidationError(field, "must be an amount in yuan, e.g. 199 or 199.50")
    return int(whole) * 100 + int((fraction or "0").ljust(2, "0"))


def beijing_time(field: str, text: str) -> datetime:
    """A datetime-local value read as Asia/Shanghai time, as aware UTC."""
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=SHANGHAI).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 in Shanghai is before UTC's
        raise ValidationError(field, "must be a date and time, e.g. 2027-01-01T08:00") from None


def optional_beijing_time(field: str, text: str) -> datetime | None:
    return beijing_time(field, text) if text.strip() else None


def whole_number(field: str, text: str, *, default: int | None = None) -> int:
    """A non-negative whole number; an empty field gives `default`, or is an error without one."""
    if not text.strip() and default is not None:
        return default
    if not _digits(text.strip()) or len(text.strip()) > 12:
        raise ValidationError(field, "must be a whole number")
    return int(text)


def optional_whole_number(field: str, text: str) -> int | None:
    return whole_number(field, text) if text.strip() else None


# A cell Excel or LibreOffice would read as a formula (OWASP's CSV injection): these leading
# characters, and the tab and carriage return that can hide one.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A value as a CSV cell a spreadsheet shows as text: a cell that starts like a formula
    gets a leading apostrophe (=1+1 shows as =1+1, not 2). Numbers are left alone, negative
    ones included (a refund of -5.00 stays a number)."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


CSV_CHUNK = 64 * 1024


async def _each(
    rows: Iterable[Sequence[object]] | AsyncIterable[Sequence[object]],
) -> AsyncIterator[Sequence[object]]:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


class _Line:
    """A file-like sink that hands back what csv.writer wrote for one row."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def csv_download(
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]] | AsyncIterable[Sequence[object]],
) -> Response:
    """A CSV attachment streamed row by row (rows may be an async iterator reading the
    database a batch at a time: a 100,000-row export never sits in memory), with a byte-order
    mark so Excel opens the Chinese text as UTF-8, and formula-like cells escaped."""
    line = _Line()
    writer = csv.writer(line)

    def encode(row: Sequence[object]) -> bytes:
        writer.writerow([csv_cell(cell) for cell in row])
        return line.text.encode()

    async def body() -> AsyncIterator[bytes]:
        # Rows go out in chunks of about CSV_CHUNK bytes: one message per row would pass each
        # row through every middleware (compression first) on its own.
        chunk = ["\ufeff".encode() + encode(header)]
        size = len(chunk[0])
        async for row in _each(rows):
            line = encode(row)
            chunk.append(line)
            size += len(line)
            if size >= CSV_CHUNK:
                yield b"".join(chunk)
                chunk, size = [], 0
        if chunk:
            yield b"".join(chunk)

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


class Fields:
    """Read a form's fields one by one, keeping every problem instead of stopping at the first,
    so the page shows them all at once beside their fields (and keeps what was typed).

        fields = Fields()
        price = fields.read(lambda: yuan_to_fen("price_yuan", text))
        ...
        fields.check()  # raises a ValidationError listing every problem, if any
    """

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}

    def read(self, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except ValidationError as exc:
            for name, reason in exc.errors:
                self.problems.setdefault(name, reason)
            return None

    async def read_async(self, parse: Awaitable[T]) -> T | None:
        """read(), for a parse that is awaited (a picture decoded in the pool)."""
        try:
            return await parse
        except ValidationError as exc:
            for name, reason in exc.errors:
                self.problems.setdefault(name, reason)
            return None

    def check(self) -> None:
        if self.problems:
            (field, reason), *_ = self.problems.items()
            raise ValidationError(field, reason, others=list(self.problems.items()))

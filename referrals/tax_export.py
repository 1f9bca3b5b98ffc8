"""The ledger of a tax year for withholding: every entry, and each referrer's yearly totals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q

from accounts.models import User
from referrals.models import EntryKind, LedgerEntry
from tallies import SHANGHAI

EXPORT_BATCH = 1000
TOTAL = "total"  # the kind column of a referrer's total row
# The CSV's header (web.forms.csv_download(name, EXPORT_COLUMNS, export_rows(year))). Money
# in whole fen, as stored; times in Asia/Shanghai. On an entry's row `amount_fen` is the
# entry; on a total row it is the year's net change, with `earned_fen` (credits less
# reversals: the income to withhold on) and `paid_out_fen` (approved payouts) beside it.
EXPORT_COLUMNS = (
    "referrer_id",
    "referrer",
    "entry_id",
    "time",
    "kind",
    "payment_id",
    "amount_fen",
    "earned_fen",
    "paid_out_fen",
    "note",
)
ExportRow = tuple[int, str, int | str, str, str, int | str, int, int | str, int | str, str]
_FIELDS = ("id", "referrer_id", "created_at", "kind", "payment_id", "amount_fen", "note")


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The tax year `year` (a calendar year in Asia/Shanghai) as a half-open UTC range."""
    start = datetime(year, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    return start, datetime(year + 1, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class _Totals:
    """One referrer's sums over the rows read so far."""

    referrer_id: int
    net_fen: int = 0
    earned_fen: int = 0
    paid_out_fen: int = 0

    def add(self, kind: str, amount_fen: int) -> None:
        self.net_fen += amount_fen
        if kind == EntryKind.PAYOUT:
            self.paid_out_fen -= amount_fen
        else:
            self.earned_fen += amount_fen

    def row(self, name: str) -> ExportRow:
        return (
            self.referrer_id, name, "", "", TOTAL, "",
            self.net_fen, self.earned_fen, self.paid_out_fen, "",
        )  # fmt: skip


async def _names(referrer_ids: Iterable[int]) -> dict[int, str]:
    rows = await User.filter(id__in=sorted(set(referrer_ids))).values_list("id", "display_name")
    return {int(user_id): str(name) for user_id, name in rows}


async def export_rows(year: int) -> AsyncIterator[ExportRow]:
    """Every ledger entry written in the tax year `year`, by referrer (in id order) and in
    the order written, each referrer's entries followed by their total row (kind "total").
    Read a batch at a time by (referrer, id): an export of a million entries holds one batch
    and one referrer's sums in memory."""
    since, until = year_bounds(year)
    in_year = LedgerEntry.filter(created_at__gte=since, created_at__lt=until)
    after: tuple[int, int] | None = None
    totals: _Totals | None = None
    name = ""
    while True:
        rows = in_year
        if after is not None:
            referrer_id, entry_id = after
            rows = rows.filter(
                Q(referrer_id__gt=referrer_id) | Q(referrer_id=referrer_id, id__gt=entry_id)
            )
        batch = await rows.order_by("referrer_id", "id").limit(EXPORT_BATCH).values(*_FIELDS)
        names = await _names(row["referrer_id"] for row in batch)
        for row in batch:
            if totals is None or totals.referrer_id != row["referrer_id"]:
                if totals is not None:
                    yield totals.row(name)
                totals = _Totals(row["referrer_id"])
                name = names.get(row["referrer_id"], "")
            kind = str(row["kind"])
            totals.add(kind, row["amount_fen"])
            yield (
                row["referrer_id"],
                name,
                row["id"],
                row["created_at"].astimezone(SHANGHAI).isoformat(),
                kind,
                row["payment_id"] if row["payment_id"] is not None else "",
                row["amount_fen"],
                "",
                "",
                row["note"],
            )
        if len(batch) < EXPORT_BATCH:
            break
        after = (batch[-1]["referrer_id"], batch[-1]["id"])
    if totals is not None:
        yield totals.row(name)

"""Holding a seat for an enrollment: the one place that knows the SQL of a seat.

On PostgreSQL a new enrollment and its seat are one statement (sql/hold_seat.sql); elsewhere,
and for an enrollment taking a seat again, sql/claim_seat.sql inside a transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import metrics
from accounts.models import User
from db import for_dialect, from_row, read_sql
from membership.errors import AlreadyEnrolled
from membership.models import Enrollment, EnrollmentStatus, EnrollmentWindow, WaitlistEntry

HOLD_FOR = timedelta(minutes=15)  # a seat is held this long while its holder pays
SQL = Path(__file__).resolve().parent / "sql"
_HOLD_SEAT = read_sql(SQL / "hold_seat.sql")
_CLAIM_SEAT = read_sql(SQL / "claim_seat.sql")


def active_key(window: EnrollmentWindow, user: User) -> str:
    """Unique while an enrollment holds or has paid a seat: one per person and window."""
    return f"{window.id}:{user.id}"


async def hold_seat(window: EnrollmentWindow, user: User, now: datetime) -> Enrollment | None:
    """A new enrollment holding a seat for HOLD_FOR, or None when no seat is free. Raises
    AlreadyEnrolled when the person holds a seat in this window already."""
    try:
        enrollment = await _hold_seat(window, user, now)
    except AlreadyEnrolled:
        metrics.SEAT_HOLDS.labels(outcome="already_enrolled").inc()
        raise
    metrics.SEAT_HOLDS.labels(outcome="held" if enrollment is not None else "full").inc()
    return enrollment


async def _hold_seat(window: EnrollmentWindow, user: User, now: datetime) -> Enrollment | None:
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        return await _hold_seat_one_statement(window, user, now)
    try:
        async with in_transaction():
            try:
                enrollment = await Enrollment.create(
                    window_id=window.id,
                    user_id=user.id,
                    amount_fen=window.price_fen,
                    hold_expires_at=now + HOLD_FOR,
                    active_key=active_key(window, user),
                )
            except IntegrityError:
                raise AlreadyEnrolled() from None
            if not await claim_seat(enrollment, window, user, now=now):
                raise _NoSeat()  # rolls the enrollment back with the transaction
            await WaitlistEntry.filter(window_id=window.id, user_id=user.id).delete()
    except _NoSeat:
        return None
    return enrollment


async def claim_seat(
    enrollment: Enrollment, window: EnrollmentWindow, user: User, *, now: datetime
) -> bool:
    """Claim a free seat of `window` for `enrollment` (in the caller's transaction)."""
    connection = connections.get("default")
    dialect = connection.capabilities.dialect
    lock = "FOR UPDATE SKIP LOCKED" if dialect == "postgres" else ""
    sql = for_dialect(_CLAIM_SEAT.replace("/* lock */", lock), dialect)
    rows = await connection.execute_query_dict(
        sql, [enrollment.id, window.id, now, user.id, user.id]
    )
    return bool(rows)


async def _hold_seat_one_statement(
    window: EnrollmentWindow, user: User, now: datetime
) -> Enrollment | None:
    connection = connections.get("default")
    expires = now + HOLD_FOR
    key = active_key(window, user)
    try:
        rows = await connection.execute_query_dict(
            _HOLD_SEAT, [window.id, now, user.id, key, window.price_fen, expires]
        )
    except IntegrityError:
        raise AlreadyEnrolled() from None
    if not rows:
        return None
    return from_row(
        Enrollment,
        id=rows[0]["id"],
        window_id=window.id,
        user_id=user.id,
        status=EnrollmentStatus.PENDING_PAYMENT.value,
        active_key=key,
        amount_fen=window.price_fen,
        hold_expires_at=expires,
        payment_id=None,
        created_at=now,
        paid_at=None,
    )


class _NoSeat(Exception):
    """Rolls back an enrollment that found no seat."""

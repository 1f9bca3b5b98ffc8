"""Holding a seat for an enrollment: the one place that knows the SQL of a seat.

On PostgreSQL a new enrollment and its seat are one statement (the function in
sql/hold_seat.sql), which also finds a bearer token's owner; seat holds waiting in a worker go
to the database in batches (membership_hold_seat_many, through the worker's
batches.StatementBatch). Elsewhere, and for an enrollment taking a seat again, sql/claim_seat.sql
runs inside a transaction. Both keep the same rules; tests/membership/test_seat_engines.py
runs the same story through both and demands the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import metrics
from accounts import services as accounts
from accounts.errors import Unauthorized
from accounts.models import User
from batches import StatementBatch
from db import AsyncpgClient, for_dialect, from_row, read_sql
from errors import DomainError
from membership import grants
from membership.errors import AlreadyEnrolled, AlreadyMember
from membership.models import Enrollment, EnrollmentStatus, EnrollmentWindow, WaitlistEntry

HOLD_FOR = timedelta(minutes=15)  # a seat is held this long while its holder pays
SQL = Path(__file__).resolve().parent / "sql"
_CLAIM_SEAT = read_sql(SQL / "claim_seat.sql")
HOLD_ONE_SQL = (
    "SELECT * FROM membership_hold_seat($1, $2, $3, $4, $5, $6, $7, $8)"  # sql/hold_seat.sql
)
HOLD_MANY_SQL = "SELECT * FROM membership_hold_seat_many($1, $2, $3, $4, $5, $6, $7, $8)"


def _batch_order(params: Sequence[Any]) -> tuple[int, int, str]:
    """By window, then person (user id, or token digest): two batches meet each other's
    enrollments (the unique active_key) in the same order."""
    return (params[3], params[0] or 0, params[1] or "")


def seat_batch() -> StatementBatch:
    """A worker's queue of seat holds waiting to go to the database together."""
    return StatementBatch(HOLD_ONE_SQL, HOLD_MANY_SQL, order=_batch_order)


def active_key(window: EnrollmentWindow, user: User) -> str:
    """Unique while an enrollment holds or has paid a seat: one per person and window
    (sql/hold_seat.sql builds the same key)."""
    return f"{window.id}:{user.id}"


def single_statement() -> bool:
    """Whether seats are held by membership_hold_seat (on PostgreSQL)."""
    return str(connections.get("default").capabilities.dialect) == "postgres"


async def hold_seat(
    window: EnrollmentWindow,
    holder: User | str,
    now: datetime,
    *,
    batch: StatementBatch | None = None,
    engine: str | None = None,
) -> Enrollment | None:
    """A new enrollment holding a seat for HOLD_FOR, or None when no seat is free.

    `holder` is a user, or the digest of a bearer token whose owner the statement finds.
    `engine` is "single" (membership_hold_seat, PostgreSQL) or "portable"; by default the
    fastest that can. `batch`: the worker's queue of seat holds (seat_batch()); without one the
    hold goes alone. Raises Unauthorized or SessionEnded (a token), AlreadyMember (grants.
    may_enroll says no), AlreadyEnrolled (the person holds a seat in this window already).
    """
    engine = engine or ("single" if single_statement() else "portable")
    try:
        if engine == "single":
            enrollment = await _hold_seat_one_statement(window, holder, now, batch)
        else:
            enrollment = await _hold_seat_portable(window, holder, now)
    except DomainError as exc:
        metrics.SEAT_HOLDS.labels(outcome=str(exc.code)).inc()
        raise
    metrics.SEAT_HOLDS.labels(outcome="held" if enrollment is not None else "full").inc()
    return enrollment


async def _hold_seat_portable(
    window: EnrollmentWindow, holder: User | str, now: datetime
) -> Enrollment | None:
    if isinstance(holder, str):
        user = await accounts.user_for_token_digest(holder, now=now, consented=True)
        if user is None:
            raise Unauthorized()
        holder = user
    if not grants.may_enroll(holder, at=now):
        raise AlreadyMember()
    try:
        async with in_transaction():
            try:
                enrollment = await Enrollment.create(
                    window_id=window.id,
                    user_id=holder.id,
                    amount_fen=window.price_fen,
                    hold_expires_at=now + HOLD_FOR,
                    active_key=active_key(window, holder),
                    created_at=now,
                )
            except IntegrityError:
                raise AlreadyEnrolled() from None
            if not await claim_seat(enrollment, window, holder, now=now):
                raise _NoSeat()  # rolls the enrollment back with the transaction
            await WaitlistEntry.filter(window_id=window.id, user_id=holder.id).delete()
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
    window: EnrollmentWindow, holder: User | str, now: datetime, batch: StatementBatch | None
) -> Enrollment | None:
    expires = now + HOLD_FOR
    params = [
        holder.id if isinstance(holder, User) else None,
        holder if isinstance(holder, str) else None,
        now - accounts.TOKEN_TOUCH_INTERVAL,
        window.id,
        now,
        window.price_fen,
        expires,
        grants.renewal_from(now),
    ]
    connection = connections.get("default")
    if isinstance(connection, AsyncpgClient) and batch is not None:
        row = await batch.run(connection, params)
    else:  # inside a caller's transaction, or alone
        [row] = await connection.execute_query_dict(HOLD_ONE_SQL, params)
    outcome = row["outcome"]
    if outcome == "unauthorized":
        if isinstance(holder, str):
            raise await accounts.refused_token(holder, now=now)
        raise Unauthorized()
    if outcome == "already_member":
        raise AlreadyMember()
    if outcome == "already_enrolled":
        raise AlreadyEnrolled()
    if outcome == "full":
        return None
    return from_row(
        Enrollment,
        id=row["held_enrollment_id"],
        window_id=window.id,
        user_id=row["holder_id"],
        status=EnrollmentStatus.PENDING_PAYMENT.value,
        active_key=f"{window.id}:{row['holder_id']}",
        amount_fen=window.price_fen,
        hold_expires_at=expires,
        payment_id=None,
        created_at=now,
        paid_at=None,
    )


class _NoSeat(Exception):
    """Rolls back an enrollment that found no seat."""

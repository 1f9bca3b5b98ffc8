"""The hottest reads (db.fetch_one: the session of every page) go in one round trip on
PostgreSQL (psycopg, never prepared, so PgBouncer's transaction mode passes them), and a
connection the server closed costs no page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

import db
from accounts.models import User
from tests.factories import make_user


def test_placeholders_become_psycopgs() -> None:
    sql = "-- $1 the id, 5% of it\nSELECT $2, '50%' WHERE id = $1 OR parent = $1"
    statement, order = db._for_psycopg(sql)
    assert statement == "SELECT %s, '50%%' WHERE id = %s OR parent = %s"
    assert order == (1, 0, 0)


async def test_a_read_gives_the_row_or_none_in_and_out_of_a_transaction() -> None:
    user = await make_user(name="读者")
    sql = "SELECT id, display_name, created_at FROM accounts_user WHERE id = $1 AND id = $1"
    row = await db.fetch_one(sql, [user.id])
    assert row is not None and dict(row)["display_name"] == "读者"
    created = dict(row)["created_at"]
    if not isinstance(created, str):  # SQLite's raw rows keep its text
        assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)  # aware, the same instant
    assert await db.fetch_one(sql, [user.id + 1000]) is None
    async with in_transaction():  # the transaction's own connection: through Tortoise
        await User.filter(id=user.id).update(display_name="读者二")
        inside = await db.fetch_one(sql, [user.id])
        assert inside is not None and dict(inside)["display_name"] == "读者二"


@pytest.mark.postgres_only
async def test_a_read_on_a_connection_the_server_closed_is_tried_again() -> None:
    user = await make_user()
    sql = "SELECT id FROM accounts_user WHERE id = $1"
    assert await db.fetch_one(sql, [user.id]) is not None  # the reads' pool is open
    # As a PgBouncer or PostgreSQL restart leaves them: closed under the pool.
    closed = await connections.get("default").execute_query_dict(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity "
        "WHERE application_name = $1",
        [db.READS_APPLICATION],
    )
    assert closed[0]["n"] >= 1
    for _ in range(3):  # every connection it had is gone; each read still answers
        row = await db.fetch_one(sql, [user.id])
        assert row is not None and dict(row)["id"] == user.id

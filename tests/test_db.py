"""The hottest reads (db.fetch_one: the session of every page) go in one round trip on
PostgreSQL (psycopg, never prepared, so PgBouncer's transaction mode passes them), and a
connection the server closed costs no page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

import db
from accounts.models import User
from settings import Settings
from tests.factories import make_user
from web.errors import database_unreachable


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


@pytest.fixture
async def through_pgbouncer_client(settings: Settings) -> AsyncIterator[db.AsyncpgClient]:
    """A client configured as the hosts behind PgBouncer are (no statement cache), here
    straight to the test's database: its reads go through the psycopg pool."""
    config = db.tortoise_config(settings.database_url, pooled=True)["connections"]["default"]
    client = db.AsyncpgClient(connection_name="reads", **config["credentials"])
    await client.create_connection(with_db=True)
    yield client
    await client.close()


@pytest.mark.postgres_only
async def test_through_pgbouncer_reads_take_the_one_round_trip_pool(
    through_pgbouncer_client: db.AsyncpgClient,
) -> None:
    client = through_pgbouncer_client
    user = await make_user(name="读者")
    row = await client.read_row("SELECT display_name FROM accounts_user WHERE id = $1", [user.id])
    assert row == {"display_name": "读者"}
    active = await connections.get("default").execute_query_dict(
        "SELECT count(*) AS n FROM pg_stat_activity "
        "WHERE application_name = $1 AND datname = current_database()",
        [db.READS_APPLICATION],
    )
    assert active[0]["n"] >= 1


@pytest.mark.postgres_only
async def test_a_read_on_connections_the_server_closed_finds_one_that_answers(
    through_pgbouncer_client: db.AsyncpgClient,
) -> None:
    client = through_pgbouncer_client
    user = await make_user()
    sql = "SELECT id, pg_sleep(0.2) FROM accounts_user WHERE id = $1"
    # Every connection of the pool in use at once, then back in it.
    await asyncio.gather(*(client.read_row(sql, [user.id]) for _ in range(db.READ_CONNECTIONS)))
    # As a PgBouncer or PostgreSQL restart leaves them: all closed under the pool.
    closed = await connections.get("default").execute_query_dict(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity "
        "WHERE application_name = $1 AND datname = current_database()",
        [db.READS_APPLICATION],
    )
    assert closed[0]["n"] == db.READ_CONNECTIONS
    for _ in range(db.READ_CONNECTIONS + 1):  # each read still answers
        row = await client.read_row("SELECT id FROM accounts_user WHERE id = $1", [user.id])
        assert row == {"id": user.id}


@pytest.mark.postgres_only
async def test_a_failing_statement_is_not_run_again_and_stays_a_server_error(
    through_pgbouncer_client: db.AsyncpgClient,
) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero):
        await through_pgbouncer_client.read_row("SELECT 1 / $1 AS n", [0])
    assert not database_unreachable(psycopg.errors.DeadlockDetected("deadlock"))
    assert database_unreachable(psycopg.OperationalError("server closed the connection"))

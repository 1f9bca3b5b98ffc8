"""The Tortoise ORM configuration: which apps, which models, which database."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from tortoise import connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.models import Model

# One Tortoise app per domain package, listed in dependency order. Each app's migrations live in
# migrations/<app>/ and are checked in.
APPS = (
    "accounts",
    "moderation",
    "payments",
    "membership",
    "store",
    "community",
    "jobs",
    "stats",
    "crm",
    "support",
    "keywords",
    "referrals",
    "privacy",
)
# Where each app's models are (the community's two rooms keep theirs apart).
MODELS = {
    "community": ["community.models", "community.feed.models", "community.board.models"],
}


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """asyncpg's pool resets every connection it takes back: one more round trip per query
    (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`). Shuyuan leaves no
    session state behind (no SET, LISTEN, advisory locks or cursors), and the pool's own
    bookkeeping before this call still rolls back a transaction left open, so nothing is left
    to do. Measured in bench/drop_rush.py: it halves the database round trips of an order."""


# How long a read waits for a connection of its pool before the page is told the database does
# not answer (web.errors: 503 with Retry-After).
READ_WAIT_SECONDS = 3.0
READ_CONNECTIONS = 3  # the reads' pool, beside Tortoise's (docs/operations.md counts both)
READS_APPLICATION = "shuyuan reads"  # what PostgreSQL's pg_stat_activity calls the reads' pool


class AsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client with a pool that skips the per-release reset query; through
    PgBouncer, a second small pool for the hottest reads (fetch_one), in one round trip each."""

    _reads: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]] | None = None

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await asyncpg.create_pool(None, reset=_nothing_to_reset, **kwargs)

    def _reads_in_one_round_trip(self) -> bool:
        """Through PgBouncer (no statement cache) and with nothing in the URL that psycopg
        would not be given alike (TLS, a schema, server settings, a password to compute).
        Straight to PostgreSQL, asyncpg's cached statements already take one round trip and
        keep their plans."""
        return (
            self.extra.get("statement_cache_size") == 0
            and not ({"ssl", "direct_tls", "server_settings"} & set(self.extra))
            and not self.schema
            and not self.server_settings
            and (self.password is None or isinstance(self.password, str))
        )

    async def create_connection(self, with_db: bool) -> None:
        await super().create_connection(with_db)
        if with_db and self._reads is None and self._reads_in_one_round_trip():
            reads: AsyncConnectionPool[psycopg.AsyncConnection[dict[str, Any]]]
            reads = AsyncConnectionPool(
                psycopg.conninfo.make_conninfo(
                    host=self.host,
                    port=self.port,
                    user=self.user,
                    password=self.password if isinstance(self.password, str) else None,
                    dbname=self.database,
                    application_name=READS_APPLICATION,
                ),
                min_size=1,
                max_size=READ_CONNECTIONS,
                timeout=READ_WAIT_SECONDS,
                # Never prepared (PgBouncer's transaction mode keeps no prepared statement),
                # each statement its own transaction.
                kwargs={"autocommit": True, "prepare_threshold": None, "row_factory": dict_row},
                connection_class=psycopg.AsyncConnection[dict[str, Any]],
                open=False,
            )
            await reads.open(wait=False)
            self._reads = reads

    async def _close(self) -> None:
        reads, self._reads = self._reads, None
        if reads is not None:
            await reads.close()
        await super()._close()

    async def fetch_row(self, sql: str, params: Sequence[Any]) -> Mapping[str, Any] | None:
        """One row of one statement run on its own (not in a caller's transaction), straight
        from asyncpg's pool. For the hottest statement (a drop's hold): Tortoise's wrapping
        of a query (its pool wrapper, exception translation, loop check, rows to dicts) cost
        about a tenth of an order's CPU in the profile of bench/drop_rush.py."""
        if self._pool is None:  # the pool is made by the first query through Tortoise
            rows = await self.execute_query_dict(sql, list(params))
            return rows[0] if rows else None
        row: Mapping[str, Any] | None = await self._pool.fetchrow(sql, *params)
        return row

    async def read_row(self, sql: str, params: Sequence[Any]) -> Mapping[str, Any] | None:
        """One row of a read run on its own. Through PgBouncer in one round trip: psycopg
        sends the statement, its values and the request for its rows together, where asyncpg
        (with no statement cache, as PgBouncer's transaction mode needs) first asks the
        database to describe the statement and then runs it. The session read through
        PgBouncer: 0.70 -> 0.34 ms of PostgreSQL's and PgBouncer's CPU and 0.30 -> 0.23 ms of
        the client's (2,000 reads, measured from /proc beside bench/morning_push.py; issue 40's
        note). A connection the server closed (PgBouncer or PostgreSQL restarted: every
        connection of the pool at once) is given up and the next one tried, until one answers;
        any other error is the read's."""
        reads = self._reads
        if reads is None:  # straight to PostgreSQL, or before the first query through Tortoise
            return await self.fetch_row(sql, params)
        statement, order = _for_psycopg(sql)
        values = [params[index] for index in order]
        for attempt in range(READ_CONNECTIONS + 1):
            async with reads.connection() as connection:
                try:
                    cursor = await connection.execute(statement, values)
                    return await cursor.fetchone()
                except psycopg.OperationalError:
                    if not connection.broken or attempt == READ_CONNECTIONS:
                        raise
            # The broken connection went back to the pool, which drops it and opens another.
        raise AssertionError("unreachable")  # pragma: no cover

    async def fetch_rows(self, sql: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        """All rows of one statement run on its own, as fetch_row."""
        if self._pool is None:
            return list(await self.execute_query_dict(sql, list(params)))
        rows: list[Mapping[str, Any]] = await self._pool.fetch(sql, *params)
        return rows


@lru_cache(maxsize=256)
def _for_psycopg(sql: str) -> tuple[str, tuple[int, ...]]:
    """`sql` written with $1, $2... placeholders as psycopg takes it: %s in order of
    appearance (and the index of the value each takes), a literal % doubled, whole-line
    comments gone (they may name placeholders)."""
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    order = tuple(int(number) - 1 for number in _PLACEHOLDER.findall(sql))
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%")), order


client_class = AsyncpgClient  # this module is the Tortoise engine of PostgreSQL URLs


def read_sql(path: Path) -> str:
    """A statement kept in a .sql file beside the code that runs it (comments and all: the
    database ignores them), read once by that code or by the migration that installs it."""
    return path.read_text(encoding="utf-8")


_PLACEHOLDER = re.compile(r"\$(\d+)")


@lru_cache(maxsize=256)
def for_dialect(sql: str, dialect: str) -> str:
    """`sql` written with $1, $2... placeholders, as `dialect` takes them on SQLite: "?" when
    each $n appears once and in order, else SQLite's numbered "?n" (a value used twice). A
    number skipped raises ValueError (a statement that would bind the wrong values is refused
    when it is first used, not run)."""
    if dialect == "postgres":
        return sql
    # Whole-line comments go first: they may name the placeholders ("$1 order, $2 product").
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    numbers = [int(n) for n in _PLACEHOLDER.findall(sql)]
    if numbers == list(range(1, len(numbers) + 1)):
        return _PLACEHOLDER.sub("?", sql)
    if sorted(set(numbers)) != list(range(1, max(numbers, default=0) + 1)):
        raise ValueError(f"placeholders must be $1..$n with none missing, not {numbers}")
    return _PLACEHOLDER.sub(r"?\1", sql)  # SQLite's numbered ?NNN: one value, used again


async def fetch_one(sql: str, params: Sequence[Any]) -> Mapping[str, Any] | None:
    """The first row of a read `sql` (written with $1, $2... placeholders) on the default
    database, or None. Straight from a pool when no transaction holds the connection (the
    hottest reads: the session of every page; AsyncpgClient.read_row: in one round trip through
    PgBouncer), else through Tortoise (SQLite; inside a transaction). `sql` holds no `$` or `%`
    but its placeholders in a literal or a trailing comment (_for_psycopg)."""
    connection = connections.get("default")
    if isinstance(connection, AsyncpgClient):
        return await connection.read_row(sql, params)
    dialect = connection.capabilities.dialect
    rows = await connection.execute_query_dict(for_dialect(sql, dialect), list(params))
    return rows[0] if rows else None


# The few ORM internals the application needs, kept here so no package reaches into Tortoise.
M = TypeVar("M", bound=Model)


def from_row(model: type[M], **values: Any) -> M:
    """An instance of `model` for a row that a statement of ours wrote or read, built as the
    ORM builds the rows it reads (saved, no default filling): Model.__init__ cost a tenth of
    a drop's CPU in the profile, and a row written by SQL is already in the database."""
    return model._init_from_db(**values)


def python_value(model: type[Model], field: str, raw: Any) -> Any:
    """A raw database value of `model`'s `field` as the ORM gives it (a datetime, an enum)."""
    return model._meta.fields_map[field].to_python_value(raw)


def table_name(model: type[Model]) -> str:
    return str(model._meta.db_table)


def _connection(database_url: str, pooled: bool) -> str | dict[str, Any]:
    if database_url.split(":", 1)[0] not in ("postgres", "postgresql", "asyncpg"):
        return database_url
    expanded = expand_db_url(database_url)
    if pooled:
        # PgBouncer in transaction mode hands each transaction whichever server connection is
        # free: a statement asyncpg prepared and cached on one is missing on the next
        # ("prepared statement __asyncpg_stmt_2__ does not exist"). Without the cache asyncpg
        # prepares each statement unnamed, in the same exchange that runs it.
        expanded["credentials"]["statement_cache_size"] = 0
    return {**expanded, "engine": __name__}


def tortoise_config(database_url: str, *, pooled: bool = False) -> dict[str, Any]:
    """The Tortoise config dict for a database URL (sqlite:// or postgres://); `pooled`: the
    URL goes through PgBouncer in transaction mode (Settings.pooled)."""
    return {
        "connections": {"default": _connection(database_url, pooled)},
        "apps": {
            app: {
                "models": MODELS.get(app, [f"{app}.models"]),
                "default_connection": "default",
                "migrations": f"migrations.{app}",
            }
            for app in APPS
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the `tortoise` command-line tool (makemigrations, sqlmigrate), which reads this name from
# pyproject.toml. The application itself always builds its config from Settings.
TORTOISE_ORM = tortoise_config("sqlite://var/shuyuan.sqlite3")

"""The Tortoise ORM configuration: which apps, which models, which database."""

from __future__ import annotations

from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.base.config_generator import expand_db_url

# One Tortoise app per domain package, listed in dependency order. Each app's migrations live in
# migrations/<app>/ and are checked in.
APPS = ("accounts", "payments", "membership", "store", "community")


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """asyncpg's pool resets every connection it takes back: one more round trip per query
    (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`). Shuyuan leaves no
    session state behind (no SET, LISTEN, advisory locks or cursors), and the pool's own
    bookkeeping before this call still rolls back a transaction left open, so nothing is left
    to do. Measured in bench/drop_rush.py: it halves the database round trips of an order."""


class AsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client with a pool that skips the per-release reset query."""

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await asyncpg.create_pool(None, reset=_nothing_to_reset, **kwargs)


client_class = AsyncpgClient  # this module is the Tortoise engine of PostgreSQL URLs


def _connection(database_url: str) -> str | dict[str, Any]:
    if database_url.split(":", 1)[0] not in ("postgres", "postgresql", "asyncpg"):
        return database_url
    expanded = expand_db_url(database_url)
    return {**expanded, "engine": __name__}


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config dict for a database URL (sqlite:// or postgres://)."""
    return {
        "connections": {"default": _connection(database_url)},
        "apps": {
            app: {
                "models": [f"{app}.models"],
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

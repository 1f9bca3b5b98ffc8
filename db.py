"""The Tortoise ORM configuration: which apps, which models, which database."""

from __future__ import annotations

from typing import Any

# One Tortoise app per domain package, listed in dependency order. Each app's migrations live in
# migrations/<app>/ and are checked in.
APPS = ("accounts", "payments", "membership", "store", "community")


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config dict for a database URL (sqlite:// or postgres://)."""
    return {
        "connections": {"default": database_url},
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

"""The test database is the app's database, and the models match the checked-in migrations."""

from __future__ import annotations

import httpx
from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from db import tortoise_config
from tests.factories import bearer, make_user, token_for


async def test_request_handlers_see_the_fixtures_database(client: httpx.AsyncClient) -> None:
    user = await make_user(name="夫子")
    response = await client.get("/api/v1/me", headers=bearer(await token_for(user)))
    assert response.status_code == 200
    assert response.json()["display_name"] == "夫子"


async def test_models_have_no_changes_missing_a_migration(settings) -> None:  # type: ignore[no-untyped-def]
    apps_config = tortoise_config(settings.database_url)["apps"]
    detector = MigrationAutodetector(Tortoise.apps, apps_config)
    writers = await detector.changes()
    missing = [f"{writer.app_label}.{writer.name}" for writer in writers]
    assert missing == [], f"run `make migrations`: models changed without a migration {missing}"


async def test_healthz_answers_ok_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}

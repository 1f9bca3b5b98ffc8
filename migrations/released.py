"""What the last release named: its migrations and its models' tables and columns
(migrations/released.json), written when a release is cut and read by migrations/check.py.

`python -m migrations.released` (or `make release-snapshot`) lists every migration on disk as
released and describes the models they build. The models are read from the migration state
after exactly the listed migrations, not from the live models: so the file is a function of
the checked-in migrations and its own list, and tests/test_migrations_check.py can rebuild it
at any time (no git history or tag needed) and fail when it was edited by hand or when a
released migration was changed afterwards. At a release the two are the same thing:
tests/test_database.py fails while the models differ from what the migrations build.
"""

from __future__ import annotations

import asyncio
import json
import pkgutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from tortoise.fields.relational import (
    BackwardFKRelation,
    ForeignKeyFieldInstance,
    ManyToManyFieldInstance,
    OneToOneFieldInstance,
)
from tortoise.migrations.graph import MigrationKey
from tortoise.migrations.loader import MigrationLoader
from tortoise.migrations.recorder import MigrationRecorder
from tortoise.migrations.schema_generator.state import State
from tortoise.migrations.schema_generator.state_apps import StateApps
from tortoise.models import Model

from db import APPS, tortoise_config

SNAPSHOT = Path(__file__).resolve().parent / "released.json"
ABOUT = (
    "The last release: the migrations it shipped and the columns its models name. Written by "
    "`make release-snapshot` when a release is cut; migrations/check.py refuses a later "
    "migration that drops or renames what is named here (docs/upgrades.md)."
)

# {app label: [migration name, ...]}
Listed = Mapping[str, Sequence[str]]


def migrations_on_disk() -> dict[str, list[str]]:
    """Every checked-in migration of every app, by name, as Tortoise's loader finds them."""
    found: dict[str, list[str]] = {}
    for app in APPS:
        package = import_module(f"migrations.{app}")
        found[app] = sorted(
            name
            for _, name, is_package in pkgutil.iter_modules(package.__path__)
            if not is_package and name[0] not in "_~"
        )
    return found


class _NothingApplied(MigrationRecorder):
    """The loader asks which migrations a database has applied; here there is no database."""

    def __init__(self) -> None:
        super().__init__(connection=None)

    async def applied_migrations(self) -> list[MigrationKey]:
        return []


async def state_after(listed: Listed) -> State:
    """The migration state (models, tables, fields) after exactly the `listed` migrations, in
    the order `shuyuan migrate` applies them."""
    apps_config = tortoise_config("sqlite://:memory:")["apps"]
    loader = MigrationLoader(apps_config, _NothingApplied())
    await loader.build_graph()
    wanted = {MigrationKey(app, name) for app, names in listed.items() for name in names}
    missing = wanted - set(loader.graph.nodes)
    if missing:
        raise ValueError(f"released migrations missing from disk: {sorted(map(str, missing))}")
    connections = dict.fromkeys(apps_config, "default")
    state = State(models={}, apps=StateApps(default_connections=connections))
    done: set[MigrationKey] = set()
    for leaf in loader.graph.leaf_nodes():
        for key in loader.graph.forwards_plan(leaf):
            migration = loader.graph.nodes[key]
            if key in wanted and key not in done and migration is not None:
                done.add(key)
                await migration.apply(state, dry_run=True, schema_editor=None)
    return state


def describe_models(models: Iterable[type[Model]]) -> dict[str, dict[str, Any]]:
    """{"app.Model": {"table", "fields": {field: column}, "optional": [fields an INSERT may
    leave out]}} for `models` (live ones or a migration state's). A foreign key is named by its
    field (`user`) and stands for its column (`user_id`); reverse relations name no column."""
    described: dict[str, dict[str, Any]] = {}
    for model in models:
        meta = model._meta
        keys = _key_fields(model)
        columns: dict[str, str] = {}
        optional: list[str] = []
        for name, field in meta.fields_map.items():
            if isinstance(field, ManyToManyFieldInstance):
                # None so far: refused rather than half described (its through table would
                # need describing, and checking, too).
                raise ValueError(
                    f"{meta.app}.{model.__name__}.{name}: the snapshot cannot describe a "
                    "many-to-many field"
                )
            if isinstance(field, BackwardFKRelation) or name in keys:
                continue
            if isinstance(field, ForeignKeyFieldInstance | OneToOneFieldInstance):
                column = meta.fields_db_projection[str(field.source_field)]
            else:
                column = meta.fields_db_projection[name]
            columns[name] = column
            if field.null or field.has_db_default():
                optional.append(name)
        described[f"{meta.app}.{model.__name__}"] = {
            "table": meta.db_table,
            "fields": dict(sorted(columns.items())),
            "optional": sorted(optional),
        }
    return dict(sorted(described.items()))


def _key_fields(model: type[Model]) -> set[str]:
    """The `user_id` data fields behind the foreign keys (named through their `user` field)."""
    meta = model._meta
    return {str(meta.fields_map[name].source_field) for name in meta.fk_fields | meta.o2o_fields}


async def snapshot(listed: Listed) -> dict[str, Any]:
    """The snapshot of a release that shipped the `listed` migrations."""
    state = await state_after(listed)
    return {
        "about": ABOUT,
        "migrations": {app: sorted(names) for app, names in sorted(listed.items())},
        "models": describe_models(state.apps.get_models_iterable()),
    }


def as_text(snapshot: Mapping[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n"


def read(path: Path = SNAPSHOT) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def main() -> int:
    """Cut a release: every migration on disk is released, and its models are written down."""
    listed = migrations_on_disk()
    SNAPSHOT.write_text(as_text(asyncio.run(snapshot(listed))), encoding="utf-8")
    count = sum(len(names) for names in listed.values())
    print(f"{SNAPSHOT.name}: {count} migrations released; commit it with the release")
    return 0


if __name__ == "__main__":
    sys.exit(main())

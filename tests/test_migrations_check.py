"""Migrations written since the last release only expand (migrations/check.py): what the hosts
still on that release name in their SELECTs and INSERTs is never dropped or renamed under them,
and a retired column really stays in the database until the next release drops it."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from migrations import released
from migrations.check import check
from tests.live import ROOT

MIGRATIONS = ROOT / "migrations"
HEAD = """\
from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from migrations.operations import ForgetField, ForgetModel

class Migration(migrations.Migration):
    dependencies = [("community", "0007_board_ip_region")]
    operations = [
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the checked-in migrations, where a test adds the migration it means."""
    copied = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, copied, ignore=shutil.ignore_patterns("__pycache__"))
    return copied


def add(tree: Path, *operations: str, name: str = "0008_next") -> Path:
    """A community migration after the released ones, with `operations` (Python source)."""
    body = "".join(f"        {operation},\n" for operation in operations)
    path = tree / "community" / f"{name}.py"
    path.write_text(HEAD + body + "    ]\n", encoding="utf-8")
    return path


def refused(tree: Path, snapshot: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    return [(refusal.rule, refusal.target) for refusal in check(tree, snapshot or released.read())]


def test_the_checked_in_migrations_take_nothing_the_last_release_names() -> None:
    assert check(MIGRATIONS, released.read()) == []


async def test_the_snapshot_is_what_its_released_migrations_build() -> None:
    """Rebuilt from its own list of migrations, so it holds at any time (no git history): a
    hand edit, or a released migration changed afterwards, fails here."""
    snapshot = released.read()
    assert await released.snapshot(snapshot["migrations"]) == snapshot
    assert set(snapshot["migrations"]) == set(released.migrations_on_disk())


def test_removing_a_released_column_is_refused(tree: Path) -> None:
    add(tree, "ops.RemoveField(model_name='Post', name='title')")
    assert refused(tree) == [("drops-released-column", "community_post.title")]


def test_renaming_a_released_column_is_refused(tree: Path) -> None:
    add(tree, "ops.RenameField(model_name='Post', old_name='title', new_name='headline')")
    assert refused(tree) == [("renames-released-column", "community_post.title")]


def test_moving_a_released_field_to_another_column_is_refused(tree: Path) -> None:
    add(
        tree,
        "ops.AlterField(model_name='Post', name='title',"
        " field=fields.CharField(max_length=200, source_field='headline'))",
    )
    assert refused(tree) == [("moves-released-column", "community_post.title")]


def test_deleting_or_renaming_a_released_model_is_refused(tree: Path) -> None:
    add(tree, "ops.DeleteModel(name='PostLike')", "ops.RenameModel('Reply', 'Answer')")
    assert refused(tree) == [
        ("drops-released-table", "community_post_like"),
        ("renames-released-table", "community_reply"),
    ]


@pytest.mark.parametrize(
    ("sql", "target"),
    [
        ("ALTER TABLE community_post DROP COLUMN title", "community_post.title"),
        ('alter table if exists public."community_post" drop "title"', "community_post.title"),
        ("ALTER TABLE community_post RENAME COLUMN title TO headline", "community_post.title"),
        ("ALTER TABLE community_post RENAME TO board_post", "community_post"),
        ("SELECT 1; DROP TABLE IF EXISTS gone, community_post_like", "community_post_like"),
        ([("ALTER TABLE community_post DROP title", [])], "community_post.title"),
    ],
)
def test_sql_dropping_or_renaming_what_the_release_names_is_refused(
    tree: Path, sql: object, target: str
) -> None:
    add(tree, f"ops.RunSQL({sql!r})")
    assert refused(tree) == [("sql-drops-released", target)]


def test_sql_that_keeps_the_released_columns_passes(tree: Path) -> None:
    add(
        tree,
        "ops.RunSQL('ALTER TABLE community_post ALTER COLUMN title DROP NOT NULL;"
        " ALTER TABLE community_post DROP CONSTRAINT some_check')",
        "ops.RunSQL('-- DROP TABLE community_post (a comment)\\n"
        "CREATE INDEX i ON community_post (title)')",
    )
    assert refused(tree) == []


def test_a_not_null_column_without_a_database_default_is_refused_on_a_released_table(
    tree: Path,
) -> None:
    """The old hosts' INSERTs leave the new column out; Python's default= is only the new
    code's."""
    add(
        tree,
        "ops.AddField(model_name='Post', name='score', field=fields.IntField(default=0))",
        "ops.AddField(model_name='Post', name='editor', field=fields.ForeignKeyField("
        "'accounts.User', source_field='editor_id', related_name='edited'))",
        "ops.AddField(model_name='Post', name='views', field=fields.IntField(null=True))",
        "ops.AddField(model_name='Post', name='stars', field=fields.IntField(db_default=0))",
    )
    assert refused(tree) == [
        ("insert-needs-new-column", "community_post.score"),
        ("insert-needs-new-column", "community_post.editor_id"),
    ]


def test_what_no_released_model_names_may_be_added_and_taken_away(tree: Path) -> None:
    add(
        tree,
        "ops.CreateModel(name='Badge', fields=[('id', fields.IntField(primary_key=True)),"
        " ('label', fields.CharField(max_length=20))], options={'table': 'community_badge'})",
        "ops.AddField(model_name='Badge', name='colour', field=fields.CharField(max_length=7))",
        "ops.RemoveField(model_name='Badge', name='label')",
        "ops.DeleteModel(name='Badge')",
        "ops.AddField(model_name='Post', name='mood', field=fields.CharField(null=True,"
        " max_length=9))",
        "ops.RemoveField(model_name='Post', name='mood')",
    )
    assert refused(tree) == []


def test_a_column_the_release_no_longer_names_may_be_dropped(tree: Path) -> None:
    """The contract step: the release forgot `title`, so no running host names it."""
    snapshot = copy.deepcopy(released.read())
    del snapshot["models"]["community.Post"]["fields"]["title"]
    add(
        tree,
        "ops.RemoveField(model_name='Post', name='title')",
        "ops.RunSQL('ALTER TABLE community_post DROP COLUMN title')",
    )
    assert refused(tree, snapshot) == []


def test_forgetting_a_required_column_is_refused_until_it_is_made_nullable(tree: Path) -> None:
    add(tree, "ForgetField(model_name='Post', name='title')", "ForgetModel(name='PostLike')")
    assert refused(tree) == [("retires-required-column", "community_post.title")]
    add(
        tree,
        "ops.AlterField(model_name='Post', name='title', field=fields.CharField(null=True,"
        " max_length=200))",
        "ForgetField(model_name='Post', name='title')",
        "ForgetField(model_name='Post', name='ip_region')",  # nullable already
    )
    assert refused(tree) == []


def test_a_released_migration_is_not_checked_again(tree: Path) -> None:
    add(tree, "ops.RemoveField(model_name='Post', name='title')")
    snapshot = copy.deepcopy(released.read())
    snapshot["migrations"]["community"].append("0008_next")
    assert refused(tree, snapshot) == []


def test_the_command_names_the_file_the_operation_the_column_and_the_rule(tree: Path) -> None:
    add(tree, "ops.RemoveField(model_name='Post', name='title')", name="0008_drop_title")
    done = subprocess.run(
        [sys.executable, "-m", "migrations.check", "--root", str(tree)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].startswith(
        "migrations/community/0008_drop_title.py: RemoveField Post.title:"
        " drops-released-column (community_post.title)"
    )


# A model that loses its `note`: release 1 ships 0001; release 2 makes the column nullable
# and forgets it (0002); release 3 drops it (0003).
PROBE_MIGRATIONS = {
    "0001_initial": """
        ops.CreateModel(name='Thing', fields=[
            ('id', fields.IntField(primary_key=True)),
            ('name', fields.CharField(max_length=20)),
            ('note', fields.CharField(max_length=20)),
        ], options={'table': 'probe_thing', 'app': 'probe', 'pk_attr': 'id'}, bases=['Model'])""",
    "0002_retire_note": """
        ops.AlterField(model_name='Thing', name='note',
                       field=fields.CharField(max_length=20, null=True)),
        ForgetField(model_name='Thing', name='note')""",
    "0003_drop_note": """
        ops.RunSQL('ALTER TABLE probe_thing DROP COLUMN note',
                   reverse_sql='ALTER TABLE probe_thing ADD COLUMN note VARCHAR(20)')""",
}
PROBE_MODELS = """
from tortoise import fields
from tortoise.models import Model

class Thing(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=20)

    class Meta:
        table = "probe_thing"
"""
# Each release's migrations, then what its hosts write and read.
UPGRADE_ONE_RELEASE_AT_A_TIME = textwrap.dedent(
    """
    import asyncio, sys
    from tortoise import Tortoise, connections
    from tortoise.migrations.api.migrate import migrate
    from tortoise.migrations.autodetector import MigrationAutodetector

    CONFIG = {
        "connections": {"default": sys.argv[1]},
        "apps": {"probe": {"models": ["probe_models"], "default_connection": "default",
                           "migrations": "probe_migrations.probe"}},
    }

    async def columns():
        rows = await connections.get("default").execute_query_dict(
            "SELECT * FROM probe_thing ORDER BY id")
        return sorted(rows[0]), [row["note"] if "note" in row else "-" for row in rows]

    async def main():
        await migrate(config=CONFIG, target="probe.0001_initial")
        db = connections.get("default")
        await db.execute_script("INSERT INTO probe_thing (name, note) VALUES ('one', 'n')")
        await Tortoise.close_connections()
        await migrate(config=CONFIG, target="probe.0002_retire_note")
        await Tortoise.init(config=CONFIG)
        from probe_models import Thing
        await Thing.create(name="two")  # a host of release 2: no note
        await connections.get("default").execute_script(
            "INSERT INTO probe_thing (name, note) VALUES ('three', 'n')")  # still release 1
        detector = MigrationAutodetector(Tortoise.apps, CONFIG["apps"])
        print("missing migrations:", [writer.name for writer in await detector.changes()])
        print(*await columns())
        await Tortoise.close_connections()
        await migrate(config=CONFIG)
        print(*await columns())
        await Tortoise.close_connections()

    try:
        asyncio.run(main())
    except BaseException:  # a connection's thread would keep the process alive: say and go
        import os, traceback
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    """
)


def probe_app(folder: Path) -> Path:
    """The probe app: its models as of release 2 (probe_models.py) and its three migrations
    (probe_migrations/probe/, the layout of migrations/<app>/). Returns probe_migrations/."""
    (folder / "probe_models.py").write_text(PROBE_MODELS, encoding="utf-8")
    root = folder / "probe_migrations"
    (root / "probe").mkdir(parents=True)
    (root / "__init__.py").write_text("", encoding="utf-8")
    (root / "probe" / "__init__.py").write_text("", encoding="utf-8")
    previous: list[tuple[str, str]] = []
    for name, operations in PROBE_MIGRATIONS.items():
        head = HEAD.replace('[("community", "0007_board_ip_region")]', repr(previous))
        body = textwrap.indent(textwrap.dedent(operations).strip(), " " * 8)
        (root / "probe" / f"{name}.py").write_text(head + body + ",\n    ]\n", encoding="utf-8")
        previous = [("probe", name)]
    return root


def test_a_forgotten_column_may_be_dropped_only_by_the_next_release(tmp_path: Path) -> None:
    root = probe_app(tmp_path)
    columns = {"id": "id", "name": "name", "note": "note"}
    thing = {"table": "probe_thing", "fields": columns, "optional": []}
    release_1 = {"migrations": {"probe": ["0001_initial"]}, "models": {"probe.Thing": thing}}
    refusals = check(root, release_1)
    assert [(refusal.file, refusal.rule) for refusal in refusals] == [
        ("probe_migrations/probe/0003_drop_note.py", "sql-drops-released")
    ]
    release_2 = {
        "migrations": {"probe": ["0001_initial", "0002_retire_note"]},
        "models": {"probe.Thing": {**thing, "fields": {"id": "id", "name": "name"}}},
    }
    assert check(root, release_2) == []


def test_a_forgotten_column_stays_for_the_old_hosts_until_the_next_release_drops_it(
    tmp_path: Path, empty_database: str
) -> None:
    probe_app(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", UPGRADE_ONE_RELEASE_AT_A_TIME, empty_database],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    missing, release_2, release_3 = done.stdout.strip().splitlines()[-3:]
    # The models of release 2 match its migrations, though the column is still there...
    assert missing == "missing migrations: []"
    # ...for release 1's hosts, which still write it beside release 2's, which leave it out.
    assert release_2 == "['id', 'name', 'note'] ['n', None, 'n']"
    assert release_3 == "['id', 'name'] ['-', '-', '-']"

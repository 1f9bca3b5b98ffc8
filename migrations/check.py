"""Refuses a migration that hosts of the last release could not run beside (`make lint`).

Hosts are upgraded one at a time (docs/upgrades.md): the new release's migrations run while
hosts of the last release still serve, and those name, in every SELECT and INSERT, the columns
and tables of their models (migrations/released.json). So a migration written since the
release may add (expand) but not take away what they name (contract a release later):

- drops-released-column: RemoveField of a field the released models name;
- renames-released-column: RenameField of one;
- moves-released-column: AlterField giving one another column (source_field);
- drops-released-table, renames-released-table: DeleteModel, RenameModel of a released model;
- sql-drops-released: RunSQL whose SQL drops or renames a released table or column;
- insert-needs-new-column: AddField of a NOT NULL column without a database default to a
  released table (the old hosts' INSERTs leave it out); `default=` is Python's, which they lack;
- retires-required-column: ForgetField (migrations/operations.py) of a column that is NOT NULL
  without a database default, not relaxed by an AlterField before it: the new hosts' INSERTs
  leave it out.

A released migration is never checked again (released history stays as it is). RunSQL is read
with regular expressions (DROP TABLE, ALTER TABLE ... DROP [COLUMN], RENAME [COLUMN] ... TO,
RENAME TO): a guard against the plain cases, not a parser; SQL built at run time, RunPython,
and a stored function's changed signature are left to review (docs/upgrades.md lists them).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tortoise.fields import Field
from tortoise.fields.relational import ForeignKeyFieldInstance, OneToOneFieldInstance
from tortoise.migrations.operations import (
    AddField,
    AlterField,
    DeleteModel,
    Operation,
    RemoveField,
    RenameField,
    RenameModel,
    RunSQL,
)

from migrations import released
from migrations.operations import ForgetField, ForgetModel

ROOT = Path(__file__).resolve().parent
HINT = "expand now, contract a release later: docs/upgrades.md"


@dataclass(frozen=True)
class Refusal:
    file: str
    operation: str  # "RemoveField Post.title"
    target: str  # "community_post.title"
    rule: str

    def __str__(self) -> str:
        return f"{self.file}: {self.operation}: {self.rule} ({self.target}); {HINT}"


@dataclass(frozen=True)
class Unreleased:
    app: str
    name: str
    path: Path


def unreleased(root: Path, snapshot: Mapping[str, Any]) -> list[Unreleased]:
    """The migration files under `root` (one folder per app) that the snapshot does not list,
    in the order of their names within each app."""
    shipped = snapshot["migrations"]
    found = []
    for folder in sorted(path for path in root.iterdir() if (path / "__init__.py").is_file()):
        for path in sorted(folder.glob("*.py")):
            if path.stem[0] not in "_~" and path.stem not in shipped.get(folder.name, ()):
                found.append(Unreleased(folder.name, path.stem, path))
    return found


def operations_of(migration: Unreleased) -> list[Operation]:
    """The operations of a migration file, loaded from its path (it is not imported as part
    of a package: the check also reads copies in temporary folders)."""
    spec = importlib.util.spec_from_file_location(
        f"_unreleased_{migration.app}_{migration.name}", migration.path
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.Migration.operations)


def column_of(name: str, field: Field[Any]) -> str:
    """The column a field of an operation names (a foreign key `user`: `user_id`)."""
    if isinstance(field, ForeignKeyFieldInstance | OneToOneFieldInstance):
        return str(field.source_field or f"{name}_id")
    return str(field.source_field or name)


def check(root: Path, snapshot: Mapping[str, Any]) -> list[Refusal]:
    """Every refusal among the migrations under `root` that `snapshot` does not list."""
    models: Mapping[str, Mapping[str, Any]] = snapshot["models"]
    refusals: list[Refusal] = []
    relaxed: set[tuple[str, str, str]] = set()  # (app, model, field) made nullable since
    for migration in unreleased(root, snapshot):
        file = str(migration.path.relative_to(root.parent))
        for op in operations_of(migration):
            for operation, target, rule in _judge(migration.app, op, models, relaxed):
                refusals.append(Refusal(file, operation, target, rule))
    return refusals


def _judge(
    app: str,
    op: Operation,
    models: Mapping[str, Mapping[str, Any]],
    relaxed: set[tuple[str, str, str]],
) -> Iterator[tuple[str, str, str]]:
    """(operation, table.column, rule) for each thing `op` takes from the released models."""
    kind = type(op).__name__
    if isinstance(op, RunSQL):
        for table, column, verb in _sql_takes(op.sql, models):
            yield f"RunSQL {verb}", f"{table}.{column}" if column else table, "sql-drops-released"
        return
    if isinstance(op, DeleteModel | RenameModel):
        name = op.name if isinstance(op, DeleteModel) else op.old_name
        model = models.get(f"{app}.{name}")
        if model and not isinstance(op, ForgetModel):
            rule = "drops" if isinstance(op, DeleteModel) else "renames"
            yield f"{kind} {name}", model["table"], f"{rule}-released-table"
        return
    if not isinstance(op, AddField | AlterField | RemoveField | RenameField):
        return
    model = models.get(f"{app}.{op.model_name}")
    if model is None:  # a model made since the release: nothing old names it
        return
    field_name = op.old_name if isinstance(op, RenameField) else op.name
    where = f"{op.model_name}.{field_name}"
    column = model["fields"].get(field_name)
    target = f"{model['table']}.{column}"
    if isinstance(op, AddField):
        new = op.field
        if column is None and isinstance(new, Field) and not (new.null or new.has_db_default()):
            added = f"{model['table']}.{column_of(op.name, new)}"
            yield f"AddField {where}", added, "insert-needs-new-column"
    elif column is None:  # a field added since the release (or retired already)
        return
    elif isinstance(op, ForgetField):
        key = (app, op.model_name, op.name)
        if op.name not in model["optional"] and key not in relaxed:
            yield f"ForgetField {where}", target, "retires-required-column"
    elif isinstance(op, RemoveField):
        yield f"RemoveField {where}", target, "drops-released-column"
    elif isinstance(op, RenameField):
        yield f"RenameField {where} to {op.new_name}", target, "renames-released-column"
    elif isinstance(op, AlterField) and isinstance(op.field, Field):
        if column_of(op.name, op.field) != column:
            yield f"AlterField {where}", target, "moves-released-column"
        if op.field.null or op.field.has_db_default():
            relaxed.add((app, op.model_name, op.name))


# One identifier, maybe quoted, maybe with its schema: public."community_post".
_NAME = r'(?:"[^"]+"|`[^`]+`|\w+)(?:\.(?:"[^"]+"|`[^`]+`|\w+))?'
_DROP_TABLE = re.compile(rf"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?((?:{_NAME}\s*,\s*)*{_NAME})", re.I)
_ALTER_TABLE = re.compile(rf"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?({_NAME})", re.I)
_DROP_COLUMN = re.compile(rf"\bDROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?({_NAME})", re.I)
_RENAME_COLUMN = re.compile(rf"\bRENAME\s+(?:COLUMN\s+)?({_NAME})\s+TO\b", re.I)
_RENAME_TABLE = re.compile(r"\bRENAME\s+TO\b", re.I)
_COMMENT = re.compile(r"--[^\n]*")


def _plain(name: str) -> str:
    """community_post for public."community_post" (unquoted names fold to lower case)."""
    last = re.split(r"\.(?=[^.]*$)", name.strip())[-1]
    return last[1:-1] if last[0] in '"`' else last.lower()


def _statements(sql: Any) -> Iterator[str]:
    """Each statement of RunSQL's `sql`: a string, or a list of strings or (sql, params)."""
    pieces = [sql] if isinstance(sql, str) else list(sql)
    for piece in pieces:
        if isinstance(piece, tuple | list):  # (sql, params)
            piece = piece[0]
        yield from _COMMENT.sub("", piece).split(";")


def _sql_takes(sql: Any, models: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """(table, column or "", what) for each released table or column the SQL drops or renames."""
    columns = {model["table"]: set(model["fields"].values()) for model in models.values()}
    for statement in _statements(sql):
        for match in _DROP_TABLE.finditer(statement):
            for name in re.split(r"\s*,\s*", match.group(1)):
                if _plain(name) in columns:
                    yield _plain(name), "", "DROP TABLE"
        altered = _ALTER_TABLE.search(statement)
        if not altered or _plain(altered.group(1)) not in columns:
            continue
        table, rest = _plain(altered.group(1)), statement[altered.end() :]
        if _RENAME_TABLE.search(rest):
            yield table, "", "RENAME TO"
        for pattern, verb in ((_DROP_COLUMN, "DROP COLUMN"), (_RENAME_COLUMN, "RENAME COLUMN")):
            for match in pattern.finditer(rest):
                if _plain(match.group(1)) in columns[table]:
                    yield table, _plain(match.group(1)), verb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migrations.check", description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="the folder of the app folders")
    parser.add_argument("--snapshot", type=Path, default=released.SNAPSHOT)
    arguments = parser.parse_args(argv)
    snapshot = released.read(arguments.snapshot)
    refusals = check(arguments.root, snapshot)
    for refusal in refusals:
        print(refusal, file=sys.stderr)
    checked = len(unreleased(arguments.root, snapshot))
    if refusals:
        print(f"{len(refusals)} refused in {checked} unreleased migrations", file=sys.stderr)
        return 1
    print(f"migrations: {checked} unreleased, none takes what the last release names")
    return 0


if __name__ == "__main__":
    sys.exit(main())

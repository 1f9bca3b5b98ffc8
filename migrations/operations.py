"""Operations that stop the models naming a column or a table while leaving it in the database.

The contract half of expand-then-contract (docs/upgrades.md). A release that stops using a
field takes it out of its models, and `make migrations` writes a RemoveField, which would drop
the column while hosts of the release before still SELECT and INSERT it. Tortoise has no
"state only" operation (Django's SeparateDatabaseAndState), so these are RemoveField and
DeleteModel without their database half: the migration state, and so the models, forget the
field or model; the column or table stays, and a migration of the next release drops it with
RunSQL once no running host names it (migrations/check.py holds both halves to that).

A retired column must accept rows that leave it out (new hosts no longer write it): make it
nullable, or give it a database default, with an AlterField before the ForgetField (the check
refuses a ForgetField of a NOT NULL column without one).
"""

from __future__ import annotations

from tortoise.migrations.operations import DeleteModel, RemoveField
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state import State


class _ModelsOnly:
    """An operation's database half left out: the database is not touched either way."""

    async def database_forward(
        self,
        app_label: str,
        old_state: State,
        new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        return None

    async def database_backward(
        self,
        app_label: str,
        old_state: State,
        new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        return None


class ForgetField(_ModelsOnly, RemoveField):
    """RemoveField for the models only: the column stays until a later release drops it."""

    def describe(self) -> str:
        return f"Forget field {self.name} of {self.model_name} (its column stays)"


class ForgetModel(_ModelsOnly, DeleteModel):
    """DeleteModel for the models only: the table stays until a later release drops it."""

    def describe(self) -> str:
        return f"Forget model {self.name} (its table stays)"

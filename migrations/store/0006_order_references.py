from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

# The database constraints named here go (see store.models.OrderItem): on PostgreSQL each order
# of a drop locked its product row and its own new order row to check them. AlterField records
# the change but leaves the constraints in place, so they are dropped here. SQLite has no
# concurrent writers and cannot drop a constraint in place: it keeps them.
CONSTRAINTS = (
    ("store_order_item", "store_order_item_product_id_fkey", "product_id",
     "store_product", "RESTRICT"),
    ("store_order_item", "store_order_item_order_id_fkey", "order_id", "store_order", "CASCADE"),
    ("store_order_event", "store_order_event_order_id_fkey", "order_id", "store_order", "CASCADE"),
    ("store_allowance", "store_allowance_product_id_fkey", "product_id", "store_product",
     "CASCADE"),
)  # fmt: skip


async def drop_constraints(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect != "postgres":
        return
    for table, name, *_ in CONSTRAINTS:
        await state_editor.client.execute_script(
            f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"'
        )


async def add_constraints(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect != "postgres":
        return
    for table, name, column, target, on_delete in CONSTRAINTS:
        await state_editor.client.execute_script(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" FOREIGN KEY ("{column}") '
            f'REFERENCES "{target}" ("id") ON DELETE {on_delete}'
        )


class AlterFieldOnPostgres(ops.AlterField):
    """On SQLite, Tortoise 1.1.9 alters a field by rebuilding the table and loses its other
    constraints and indexes (store_allowance lost its unique (product, user), which the
    per-customer limit stands on). SQLite keeps its constraints, so only the indexes are
    added there (below); the model state moves on either way."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "postgres":
            await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "postgres":
            await super().database_backward(app_label, old_state, new_state, state_editor)


INDEXES = (
    ("idx_store_order_user_id_367787", "store_order", "user_id"),
    ("idx_store_order_order_i_c63272", "store_order_item", "order_id"),
    ("idx_store_order_order_i_a26cea", "store_order_event", "order_id"),
)


async def add_sqlite_indexes(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect == "postgres":
        return
    for name, table, column in INDEXES:
        await state_editor.client.execute_script(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")'
        )


async def drop_sqlite_indexes(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect == "postgres":
        return
    for name, _, _ in INDEXES:
        await state_editor.client.execute_script(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("store", "0005_free_units_index")]

    initial = False

    operations = [
        AlterFieldOnPostgres(
            model_name="Allowance",
            name="product",
            field=fields.ForeignKeyField(
                "store.Product",
                source_field="product_id",
                db_constraint=False,
                to_field="id",
                related_name="allowances",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        AlterFieldOnPostgres(
            model_name="Order",
            name="user",
            field=fields.ForeignKeyField(
                "accounts.User",
                source_field="user_id",
                db_index=True,
                db_constraint=True,
                to_field="id",
                related_name="orders",
                on_delete=OnDelete.RESTRICT,
            ),
        ),
        AlterFieldOnPostgres(
            model_name="OrderEvent",
            name="order",
            field=fields.ForeignKeyField(
                "store.Order",
                source_field="order_id",
                db_index=True,
                db_constraint=False,
                to_field="id",
                related_name="events",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        AlterFieldOnPostgres(
            model_name="OrderItem",
            name="order",
            field=fields.ForeignKeyField(
                "store.Order",
                source_field="order_id",
                db_index=True,
                db_constraint=False,
                to_field="id",
                related_name="items",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        AlterFieldOnPostgres(
            model_name="OrderItem",
            name="product",
            field=fields.ForeignKeyField(
                "store.Product",
                source_field="product_id",
                db_constraint=False,
                to_field="id",
                related_name="order_items",
                on_delete=OnDelete.RESTRICT,
            ),
        ),
        ops.RunPython(drop_constraints, reverse_code=add_constraints),
        ops.RunPython(add_sqlite_indexes, reverse_code=drop_sqlite_indexes),
    ]

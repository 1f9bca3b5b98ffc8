from tortoise import migrations
from tortoise.migrations import operations as ops

# (History: the current definition is store/sql/hold.sql, installed by 0009.)
# Several holds in one statement and one transaction: store_hold (migration 0007, where the
# invariants are written) for each element of the arrays, in order, one answer row each.
# store/holds.py batches the holds that wait for the database under a crowd: one round trip
# and one commit for up to a batch of them (pgbench, 4 clients, 8 holds a call: 4,670-4,870
# holds/s against 3,615-4,091 one at a time). A business refusal (sold out, over the limit,
# an unknown token) is an answer row, never an error, so one buyer's refusal does not undo
# another's hold. PostgreSQL only.
HOLD_MANY = """
CREATE OR REPLACE FUNCTION store_hold_many(
    p_user_ids integer[], p_token_hashes text[], p_touch_befores timestamptz[],
    p_product_ids integer[], p_quantities integer[], p_limits integer[],
    p_unit_prices integer[], p_nows timestamptz[], p_expires timestamptz[], p_marks integer[]
) RETURNS TABLE (
    outcome text, buyer_id integer, held_order_id integer, last_unit_id integer,
    any_free boolean
) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. cardinality(p_product_ids) LOOP
        RETURN QUERY SELECT * FROM store_hold(
            p_user_ids[i], p_token_hashes[i], p_touch_befores[i], p_product_ids[i],
            p_quantities[i], p_limits[i], p_unit_prices[i], p_nows[i], p_expires[i],
            p_marks[i]
        );
    END LOOP;
END
$$
"""


async def create_function(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect == "postgres":
        await state_editor.client.execute_script(HOLD_MANY)


async def drop_function(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect == "postgres":
        await state_editor.client.execute_script(
            "DROP FUNCTION IF EXISTS store_hold_many(integer[], text[], timestamptz[], "
            "integer[], integer[], integer[], integer[], timestamptz[], timestamptz[], integer[])"
        )


class Migration(migrations.Migration):
    dependencies = [("store", "0007_hold_function")]

    initial = False

    operations = [ops.RunPython(create_function, reverse_code=drop_function)]

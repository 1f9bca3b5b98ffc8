from tortoise import migrations
from tortoise.migrations import operations as ops

# (History: the current definition is store/sql/hold.sql, installed by 0009; store/holds.py
# calls it.) One order of one product, held in one statement: the
# caller (a user id, or a bearer token's hash resolved by accounts_token_owner), the
# per-customer allowance, the units and the order's rows, in one round trip and one
# transaction. PostgreSQL only; SQLite orders are held portably (store/holds.py).
#
# Invariant "never oversell": units are claimed with FOR UPDATE SKIP LOCKED and
# "order_id IS NULL" rechecked in the UPDATE; the order is written only when all p_quantity
# were claimed. A short claim gives back what it took (and the allowance), so nothing is kept.
# Invariant "per-customer limit": the allowance upsert only raises a customer's units while
# they stay within p_limit; its row lock makes one customer's concurrent orders take turns.
#
# Free units are found from p_mark up (the unit the calling worker claimed last: claimed
# units leave dead entries in the partial index store_unit_free until a vacuum, and a look
# from the lowest id would step over all of them); units below the mark (returned by expired
# or cancelled orders) are looked for when that finds too few, so "sold out" follows a full
# look. "id = ANY(ARRAY(...))": a generic plan of "id IN (...)" chose a hash join over every
# unit once the table had statistics.
#
# A hold commits asynchronously (synchronous_commit off for its own transaction only): a
# PostgreSQL crash can lose the holds of its last fraction of a second, each one whole (units
# and order go together; the buyer's order id then answers 404 and the units are for sale
# again). Nothing is paid on a hold; paying and every later change commit synchronously, and
# a synchronous commit flushes every hold written before it. Measured with pgbench (16
# clients, this function): 2,930 holds/s synchronous, 3,860 asynchronous.
#
# outcome: held | sold_out | limit_exceeded | unauthorized. last_unit_id: the highest unit
# claimed (the caller's next mark; after a look below the mark it moves down with it, so a
# restocked drop is not looked for twice per order). any_free (sold_out only): whether any unit
# of the product is free at all, locked ones included (they may yet come back).
HOLD = """
CREATE OR REPLACE FUNCTION store_hold(
    p_user_id integer, p_token_hash text, p_touch_before timestamptz,
    p_product_id integer, p_quantity integer, p_limit integer, p_unit_price integer,
    p_now timestamptz, p_expires timestamptz, p_mark integer,
    OUT outcome text, OUT buyer_id integer, OUT held_order_id integer,
    OUT last_unit_id integer, OUT any_free boolean
) LANGUAGE plpgsql AS $$
DECLARE
    v_order integer;
    v_units integer[];
    v_more integer[];
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    buyer_id := coalesce(p_user_id, accounts_token_owner(p_token_hash, p_now, p_touch_before));
    IF buyer_id IS NULL THEN
        outcome := 'unauthorized';
        RETURN;
    END IF;
    IF p_limit IS NOT NULL THEN
        IF p_quantity > p_limit THEN
            outcome := 'limit_exceeded';
            RETURN;
        END IF;
        INSERT INTO store_allowance AS a (product_id, user_id, units)
        VALUES (p_product_id, buyer_id, p_quantity)
        ON CONFLICT (product_id, user_id) DO UPDATE SET units = a.units + excluded.units
        WHERE a.units + excluded.units <= p_limit;
        IF NOT FOUND THEN
            outcome := 'limit_exceeded';
            RETURN;
        END IF;
    END IF;
    v_order := nextval(pg_get_serial_sequence('store_order', 'id'));
    WITH claimed AS (
        UPDATE store_unit AS u SET order_id = v_order
        WHERE u.id = ANY(ARRAY(
            SELECT f.id FROM store_unit AS f
            WHERE f.product_id = p_product_id AND f.order_id IS NULL AND f.id > p_mark
            ORDER BY f.id LIMIT p_quantity FOR UPDATE SKIP LOCKED
        )) AND u.order_id IS NULL
        RETURNING u.id
    )
    SELECT coalesce(array_agg(claimed.id), '{}') INTO v_units FROM claimed;
    IF cardinality(v_units) < p_quantity AND p_mark > 0 THEN
        WITH claimed AS (
            UPDATE store_unit AS u SET order_id = v_order
            WHERE u.id = ANY(ARRAY(
                SELECT f.id FROM store_unit AS f
                WHERE f.product_id = p_product_id AND f.order_id IS NULL AND f.id <= p_mark
                ORDER BY f.id LIMIT p_quantity - cardinality(v_units) FOR UPDATE SKIP LOCKED
            )) AND u.order_id IS NULL
            RETURNING u.id
        )
        SELECT coalesce(array_agg(claimed.id), '{}') INTO v_more FROM claimed;
        v_units := v_units || v_more;
    END IF;
    last_unit_id := (SELECT max(unit) FROM unnest(v_units) AS unit);
    IF cardinality(v_units) < p_quantity THEN
        IF cardinality(v_units) > 0 THEN
            UPDATE store_unit AS u SET order_id = NULL WHERE u.id = ANY(v_units);
        END IF;
        IF p_limit IS NOT NULL THEN
            UPDATE store_allowance AS a SET units = a.units - p_quantity
            WHERE a.product_id = p_product_id AND a.user_id = buyer_id;
        END IF;
        outcome := 'sold_out';
        last_unit_id := NULL;
        any_free := EXISTS (
            SELECT 1 FROM store_unit AS f WHERE f.product_id = p_product_id AND f.order_id IS NULL
        );
        RETURN;
    END IF;
    INSERT INTO store_order (id, user_id, status, total_fen, hold_expires_at, created_at)
    VALUES (v_order, buyer_id, 'pending_payment', p_unit_price * p_quantity, p_expires, p_now);
    INSERT INTO store_order_item (order_id, product_id, quantity, unit_price_fen)
    VALUES (v_order, p_product_id, p_quantity, p_unit_price);
    INSERT INTO store_order_event (order_id, status, note, at)
    VALUES (v_order, 'pending_payment', '', p_now);
    outcome := 'held';
    held_order_id := v_order;
END
$$
"""


async def create_function(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect == "postgres":
        await state_editor.client.execute_script(HOLD)


async def drop_function(apps, state_editor) -> None:
    if state_editor.client.capabilities.dialect == "postgres":
        await state_editor.client.execute_script(
            "DROP FUNCTION IF EXISTS store_hold(integer, text, timestamptz, integer, integer, "
            "integer, integer, timestamptz, timestamptz, integer)"
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_token_owner_function"), ("store", "0006_order_references")]

    initial = False

    operations = [ops.RunPython(create_function, reverse_code=drop_function)]

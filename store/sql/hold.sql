-- One order of one product, held in one statement and one transaction (store.holds): the
-- caller (a user id, or a bearer token's hash resolved by accounts_token_owner), the
-- per-customer allowance, the units, and the order's rows with the shipping address given with
-- it (the district's code too) and its shipping fee (store.shipping.shipping_fee: the caller
-- computes it; the order's total is its goods and that fee). PostgreSQL only; store.holds runs the same rules portably on SQLite (and on PostgreSQL
-- when asked, for the contract test that compares the two). Installed by migration store/0009,
-- and again by each migration that changed it (the latest: store/0019, the fee and the code).
--
-- Invariant "never oversell": units are claimed with FOR UPDATE SKIP LOCKED and
-- "order_id IS NULL" rechecked in the UPDATE; the order is written only when all p_quantity
-- were claimed. A short claim gives back what it took (and the allowance), so nothing is kept.
-- Invariant "per-customer limit": the allowance upsert only raises a customer's units while
-- they stay within p_limit; its row lock makes one customer's concurrent orders take turns.
--
-- Free units are found from p_mark up (the unit the calling worker claimed last: claimed
-- units leave dead entries in the partial index store_unit_free until a vacuum, and a look
-- from the lowest id would step over all of them); units below the mark (returned by expired
-- or cancelled orders) are looked for when that finds too few, so "sold out" follows a full
-- look. "id = ANY(ARRAY(...))": a generic plan of "id IN (...)" chose a hash join over every
-- unit once the table had statistics.
--
-- A hold commits asynchronously (synchronous_commit off for its own transaction only): a
-- PostgreSQL crash can lose the holds of its last fraction of a second, each one whole (units
-- and order go together; the buyer's order id then answers 404 and the units are for sale
-- again). Nothing is paid on a hold; paying and every later change commit synchronously, and
-- a synchronous commit flushes every hold written before it. Measured with pgbench (16
-- clients, this function): 2,930 holds/s synchronous, 3,860 asynchronous.
--
-- outcome: held | sold_out | limit_exceeded | unauthorized. last_unit_id: the highest unit
-- claimed (the caller's next mark; after a look below the mark it moves down with it, so a
-- restocked drop is not looked for twice per order). any_free (sold_out only): whether any unit
-- of the product is free at all, locked ones included (they may yet come back).
DROP FUNCTION IF EXISTS store_hold_many(
    integer[], text[], timestamptz[], integer[], integer[], integer[], integer[],
    timestamptz[], timestamptz[], integer[]
);
DROP FUNCTION IF EXISTS store_hold(
    integer, text, timestamptz, integer, integer, integer, integer, timestamptz, timestamptz,
    integer
);
DROP FUNCTION IF EXISTS store_hold_many(
    integer[], text[], timestamptz[], integer[], integer[], integer[], integer[],
    timestamptz[], timestamptz[], integer[], text[], text[], text[], text[], text[], text[]
);
DROP FUNCTION IF EXISTS store_hold(
    integer, text, timestamptz, integer, integer, integer, integer, timestamptz, timestamptz,
    integer, text, text, text, text, text, text
);
CREATE OR REPLACE FUNCTION store_hold(
    p_user_id integer, p_token_hash text, p_touch_before timestamptz,
    p_product_id integer, p_quantity integer, p_limit integer, p_unit_price integer,
    p_now timestamptz, p_expires timestamptz, p_mark integer,
    p_ship_name text, p_ship_phone text, p_ship_province text, p_ship_city text,
    p_ship_district text, p_ship_address text, p_ship_district_code text,
    p_shipping_fee integer,
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
    INSERT INTO store_order (
        id, user_id, status, total_fen, shipping_fee_fen, hold_expires_at, created_at,
        ship_name, ship_phone, ship_province, ship_city, ship_district, ship_address,
        ship_district_code
    ) VALUES (
        v_order, buyer_id, 'pending_payment', p_unit_price * p_quantity + p_shipping_fee,
        p_shipping_fee, p_expires, p_now, p_ship_name, p_ship_phone, p_ship_province,
        p_ship_city, p_ship_district, p_ship_address, p_ship_district_code
    );
    INSERT INTO store_order_item (order_id, product_id, quantity, unit_price_fen)
    VALUES (v_order, p_product_id, p_quantity, p_unit_price);
    INSERT INTO store_order_event (order_id, status, note, at)
    VALUES (v_order, 'pending_payment', '', p_now);
    outcome := 'held';
    held_order_id := v_order;
END
$$;

-- Several holds in one statement and one transaction: store_hold for each element of the
-- arrays, in order, one answer row each. store.holds batches the holds that wait for the
-- database under a crowd: one round trip and one commit for up to a batch of them (pgbench, 4
-- clients, 8 holds a call: 4,670-4,870 holds/s against 3,615-4,091 one at a time). A business
-- refusal (sold out, over the limit, an unknown token) is an answer row, never an error, so
-- one buyer's refusal does not undo another's hold.
CREATE OR REPLACE FUNCTION store_hold_many(
    p_user_ids integer[], p_token_hashes text[], p_touch_befores timestamptz[],
    p_product_ids integer[], p_quantities integer[], p_limits integer[],
    p_unit_prices integer[], p_nows timestamptz[], p_expires timestamptz[], p_marks integer[],
    p_ship_names text[], p_ship_phones text[], p_ship_provinces text[], p_ship_cities text[],
    p_ship_districts text[], p_ship_addresses text[], p_ship_district_codes text[],
    p_shipping_fees integer[]
) RETURNS TABLE (
    outcome text, buyer_id integer, held_order_id integer, last_unit_id integer,
    any_free boolean
) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. cardinality(p_product_ids) LOOP
        RETURN QUERY SELECT * FROM store_hold(
            p_user_ids[i], p_token_hashes[i], p_touch_befores[i], p_product_ids[i],
            p_quantities[i], p_limits[i], p_unit_prices[i], p_nows[i], p_expires[i],
            p_marks[i], p_ship_names[i], p_ship_phones[i], p_ship_provinces[i],
            p_ship_cities[i], p_ship_districts[i], p_ship_addresses[i],
            p_ship_district_codes[i], p_shipping_fees[i]
        );
    END LOOP;
END
$$;

-- For one release: the 16-parameter signatures the release before calls, so hosts can be
-- upgraded one at a time while a drop runs (no fee, no district code: that release knew
-- neither). The next migration that installs this file without them contracts.
CREATE OR REPLACE FUNCTION store_hold(
    p_user_id integer, p_token_hash text, p_touch_before timestamptz,
    p_product_id integer, p_quantity integer, p_limit integer, p_unit_price integer,
    p_now timestamptz, p_expires timestamptz, p_mark integer,
    p_ship_name text, p_ship_phone text, p_ship_province text, p_ship_city text,
    p_ship_district text, p_ship_address text,
    OUT outcome text, OUT buyer_id integer, OUT held_order_id integer,
    OUT last_unit_id integer, OUT any_free boolean
) LANGUAGE sql AS $$
    SELECT * FROM store_hold(
        p_user_id, p_token_hash, p_touch_before, p_product_id, p_quantity, p_limit,
        p_unit_price, p_now, p_expires, p_mark, p_ship_name, p_ship_phone, p_ship_province,
        p_ship_city, p_ship_district, p_ship_address, NULL::text, 0
    )
$$;

CREATE OR REPLACE FUNCTION store_hold_many(
    p_user_ids integer[], p_token_hashes text[], p_touch_befores timestamptz[],
    p_product_ids integer[], p_quantities integer[], p_limits integer[],
    p_unit_prices integer[], p_nows timestamptz[], p_expires timestamptz[], p_marks integer[],
    p_ship_names text[], p_ship_phones text[], p_ship_provinces text[], p_ship_cities text[],
    p_ship_districts text[], p_ship_addresses text[]
) RETURNS TABLE (
    outcome text, buyer_id integer, held_order_id integer, last_unit_id integer,
    any_free boolean
) LANGUAGE sql AS $$
    SELECT * FROM store_hold_many(
        p_user_ids, p_token_hashes, p_touch_befores, p_product_ids, p_quantities, p_limits,
        p_unit_prices, p_nows, p_expires, p_marks, p_ship_names, p_ship_phones,
        p_ship_provinces, p_ship_cities, p_ship_districts, p_ship_addresses,
        array_fill(NULL::text, ARRAY[cardinality(p_product_ids)]),
        array_fill(0, ARRAY[cardinality(p_product_ids)])
    )
$$;

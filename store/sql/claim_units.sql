-- Invariant "never oversell" (the portable hold, store.holds): a unit row is claimed by one
-- order only ("order_id IS NULL" again in the UPDATE); fewer rows than wanted means sold out,
-- and the caller's transaction rolls back (the claimed ids come back to be counted).
-- $1 order, $2 product, $3 quantity. On PostgreSQL store.holds puts FOR UPDATE SKIP LOCKED
-- at the lock marker (SQLite has one writer).
UPDATE store_unit SET order_id = $1
WHERE id IN (
    SELECT id FROM store_unit WHERE product_id = $2 AND order_id IS NULL ORDER BY id LIMIT $3
    /* lock */
) AND order_id IS NULL
RETURNING id

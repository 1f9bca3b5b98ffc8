-- Invariant "never oversell" (store.catalogue.change_stock): only free units are removed. A
-- unit a hold is claiming right now is locked by it and skipped here, as a unit locked here is
-- skipped by the hold; "order_id IS NULL" is checked again on the row deleted. Fewer rows than
-- asked means some are sold or held: the caller rolls back (the deleted ids come back to be
-- counted). Newest units go first (they were added last).
-- $1 product, $2 how many. On PostgreSQL store.catalogue puts FOR UPDATE SKIP LOCKED at the
-- lock marker (SQLite has one writer).
DELETE FROM store_unit
WHERE id IN (
    SELECT id FROM store_unit WHERE product_id = $1 AND order_id IS NULL
    ORDER BY number DESC LIMIT $2
    /* lock */
) AND order_id IS NULL
RETURNING id

-- Invariant "per-customer limit" (the portable hold, store.holds): raise the customer's units
-- only while units + quantity stays within the limit; the row lock makes one customer's
-- concurrent orders take turns. $1 product, $2 user, $3 quantity, $4 limit.
INSERT INTO store_allowance (product_id, user_id, units) VALUES ($1, $2, $3)
ON CONFLICT (product_id, user_id) DO UPDATE SET units = store_allowance.units + excluded.units
WHERE store_allowance.units + excluded.units <= $4
RETURNING units

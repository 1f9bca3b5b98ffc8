-- The buyer's newest order still held for them and not paid yet (store.orders.order_to_pay),
-- shown on their front page: on every signed-in visit at 07:00, so a statement of ours.
-- $1 the buyer's id, $2 the pending-payment status, $3 now (a hold that ran out is not shown).
SELECT * FROM store_order
WHERE user_id = $1 AND status = $2 AND hold_expires_at > $3
ORDER BY id DESC
LIMIT 1

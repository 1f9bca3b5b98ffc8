-- A batch of a broadcast's recipients still to deliver (crm.broadcasts.deliver_batch), locked
-- for the batch's transaction: on PostgreSQL another worker's batch skips them, so two workers
-- take disjoint batches. In user order, so that two batches (of two broadcasts) writing the
-- same people's reach of the day lock them in one order and cannot deadlock.
-- $1 broadcast, $2 how many.
SELECT id, user_id
FROM crm_broadcast_recipient
WHERE broadcast_id = $1 AND state = 'pending'
ORDER BY user_id
LIMIT $2
/* lock */

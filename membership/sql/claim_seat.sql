-- Invariant "never more members than seats" (the portable seat hold, membership.seats): one
-- free seat row is claimed for enrollment $1 in one statement ("enrollment_id IS NULL" again
-- in the UPDATE); no row means no seat, and the caller's transaction rolls the enrollment back.
-- A seat offered from the waitlist is for that person only, and theirs first. On PostgreSQL
-- membership.seats puts FOR UPDATE SKIP LOCKED at the lock marker.
-- $1 enrollment, $2 window, $3 now, $4 user, $5 user again.
UPDATE membership_seat SET enrollment_id = $1, offered_to_id = NULL, offer_until = NULL
WHERE id = (
    SELECT id FROM membership_seat
    WHERE window_id = $2 AND enrollment_id IS NULL
      AND (offer_until IS NULL OR offer_until <= $3 OR offered_to_id = $4)
    ORDER BY CASE WHEN offered_to_id = $5 THEN 0 ELSE 1 END, number
    LIMIT 1 /* lock */
) AND enrollment_id IS NULL
RETURNING id

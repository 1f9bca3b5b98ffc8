-- A seat held for a new enrollment, in one statement (membership.seats.hold_seat on
-- PostgreSQL; SQLite runs claim_seat.sql inside a transaction instead).
--
-- Invariant "never more members than seats": claim a free seat row for a new enrollment id,
-- create the enrollment only if a row was claimed, and take the person off the waitlist.
-- SKIP LOCKED lets concurrent buyers take different rows instead of queueing on one counter;
-- the UNIQUE active_key makes a second seat for the same person fail the whole statement
-- (nothing is claimed). A seat offered from the waitlist (offered_to_id, until offer_until)
-- is for that person only, and theirs first.
-- A hold commits asynchronously (as store_hold's do): a PostgreSQL crash can lose the holds
-- of its last fraction of a second, each whole (the seat stays free, the enrollment is gone);
-- nothing is paid on a hold, and paying commits synchronously, flushing every earlier hold.
-- $1 window, $2 now, $3 user, $4 active key, $5 price (fen), $6 hold expires at.
WITH quick AS (
    SELECT set_config('synchronous_commit', 'off', true) AS done
), seat AS (
    UPDATE membership_seat
    SET enrollment_id = nextval(pg_get_serial_sequence('membership_enrollment', 'id')),
        offered_to_id = NULL, offer_until = NULL
    WHERE id = (
        SELECT id FROM membership_seat
        WHERE window_id = $1 AND enrollment_id IS NULL
          AND (offer_until IS NULL OR offer_until <= $2 OR offered_to_id = $3)
          AND EXISTS (SELECT 1 FROM quick)  -- evaluated, so the setting holds
        ORDER BY CASE WHEN offered_to_id = $3 THEN 0 ELSE 1 END, number
        LIMIT 1 FOR UPDATE SKIP LOCKED
    ) AND enrollment_id IS NULL
    RETURNING enrollment_id
), enrollment AS (
    INSERT INTO membership_enrollment
        (id, window_id, user_id, status, active_key, amount_fen, hold_expires_at, created_at)
    SELECT enrollment_id, $1, $3, 'pending_payment', $4, $5, $6, $2 FROM seat
    RETURNING id
), off_waitlist AS (
    DELETE FROM membership_waitlist
    WHERE window_id = $1 AND user_id = $3 AND EXISTS (SELECT 1 FROM enrollment)
)
SELECT id FROM enrollment

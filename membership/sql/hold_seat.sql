-- A seat held for a new enrollment, in one statement and one transaction (membership.seats on
-- PostgreSQL): the caller (a user id, or a bearer token's hash resolved by
-- accounts_token_owner), whether they may take a seat, the seat, the enrollment, and their
-- waitlist entry. SQLite (and PostgreSQL when asked, for the contract test
-- tests/membership/test_seat_engines.py) runs the same rules with claim_seat.sql inside a
-- transaction. Installed by migration membership/0003 from this file.
--
-- Invariant "never more members than seats": a free seat row is claimed with FOR UPDATE SKIP
-- LOCKED and "enrollment_id IS NULL" rechecked in the UPDATE (concurrent buyers take different
-- rows instead of queueing on one counter); the enrollment is written only when a row was
-- claimed. Invariant "one seat per person and window": the UNIQUE active_key; a person's second
-- attempt at once finds the conflict and gives the seat back as it was.
-- A seat offered from the waitlist (offered_to_id, until offer_until) is for that person only,
-- and theirs first.
-- Who may take a seat (membership.grants.may_enroll): someone who is not a member, or whose
-- membership ends no later than p_renewal_from (grants.renewal_from: renewal is due).
--
-- A hold commits asynchronously (as store_hold's do): a PostgreSQL crash can lose the holds of
-- its last fraction of a second, each whole (the seat stays free, the enrollment is gone);
-- nothing is paid on a hold, and paying commits synchronously, flushing every earlier hold.
--
-- outcome: held | full | already_enrolled | already_member | unauthorized.
DROP FUNCTION IF EXISTS membership_hold_seat_many(
    integer[], text[], timestamptz[], integer[], timestamptz[], integer[], timestamptz[],
    timestamptz[]
);
CREATE OR REPLACE FUNCTION membership_hold_seat(
    p_user_id integer, p_token_hash text, p_touch_before timestamptz, p_window_id integer,
    p_now timestamptz, p_price integer, p_expires timestamptz, p_renewal_from timestamptz,
    OUT outcome text, OUT holder_id integer, OUT held_enrollment_id integer
) LANGUAGE plpgsql AS $$
DECLARE
    v_member_until timestamptz;
    v_key text;
    v_seat integer;
    v_offered_to integer;
    v_offer_until timestamptz;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    holder_id := coalesce(p_user_id, accounts_token_owner(p_token_hash, p_now, p_touch_before));
    IF holder_id IS NULL THEN
        outcome := 'unauthorized';
        RETURN;
    END IF;
    SELECT u.member_until INTO v_member_until FROM accounts_user AS u WHERE u.id = holder_id;
    IF v_member_until IS NOT NULL AND v_member_until > p_renewal_from THEN
        outcome := 'already_member';
        RETURN;
    END IF;
    v_key := p_window_id::text || ':' || holder_id::text;  -- membership.seats.active_key
    IF EXISTS (SELECT 1 FROM membership_enrollment AS e WHERE e.active_key = v_key) THEN
        outcome := 'already_enrolled';
        RETURN;
    END IF;
    SELECT s.id, s.offered_to_id, s.offer_until INTO v_seat, v_offered_to, v_offer_until
    FROM membership_seat AS s
    WHERE s.window_id = p_window_id AND s.enrollment_id IS NULL
      AND (s.offer_until IS NULL OR s.offer_until <= p_now OR s.offered_to_id = holder_id)
    ORDER BY CASE WHEN s.offered_to_id = holder_id THEN 0 ELSE 1 END, s.number
    LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF v_seat IS NULL THEN
        outcome := 'full';
        RETURN;
    END IF;
    held_enrollment_id := nextval(pg_get_serial_sequence('membership_enrollment', 'id'));
    INSERT INTO membership_enrollment
        (id, window_id, user_id, status, active_key, amount_fen, hold_expires_at, created_at)
    VALUES (held_enrollment_id, p_window_id, holder_id, 'pending_payment', v_key, p_price,
            p_expires, p_now)
    ON CONFLICT (active_key) DO NOTHING;
    IF NOT FOUND THEN  -- the same person's other attempt got there first: the seat stays free
        outcome := 'already_enrolled';
        held_enrollment_id := NULL;
        RETURN;
    END IF;
    UPDATE membership_seat AS s
    SET enrollment_id = held_enrollment_id, offered_to_id = NULL, offer_until = NULL
    WHERE s.id = v_seat;
    DELETE FROM membership_waitlist AS w WHERE w.window_id = p_window_id AND w.user_id = holder_id;
    outcome := 'held';
END
$$;

-- Several seat holds in one statement and one transaction: membership_hold_seat for each
-- element of the arrays, in order, one answer row each (batches.StatementBatch sends the holds
-- waiting in a worker this way under a crowd: one round trip and one commit for a batch).
CREATE OR REPLACE FUNCTION membership_hold_seat_many(
    p_user_ids integer[], p_token_hashes text[], p_touch_befores timestamptz[],
    p_window_ids integer[], p_nows timestamptz[], p_prices integer[], p_expires timestamptz[],
    p_renewal_froms timestamptz[]
) RETURNS TABLE (outcome text, holder_id integer, held_enrollment_id integer)
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. cardinality(p_window_ids) LOOP
        RETURN QUERY SELECT * FROM membership_hold_seat(
            p_user_ids[i], p_token_hashes[i], p_touch_befores[i], p_window_ids[i], p_nows[i],
            p_prices[i], p_expires[i], p_renewal_froms[i]
        );
    END LOOP;
END
$$;

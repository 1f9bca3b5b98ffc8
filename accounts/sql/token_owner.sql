-- The owner of a live bearer token, for statements that act for a caller in one round trip
-- (store_hold, store/sql/hold.sql): the token table stays the accounts package's business.
-- It also records the token's use, at most once per p_touch_before
-- (accounts.services.TOKEN_TOUCH_INTERVAL), as accounts.services.user_for_token does.
-- NULL for an unknown or revoked token. PostgreSQL only; installed by migration store/0009
-- (the function store_hold calls it). The portable twin is accounts/sql/token_user.sql.
CREATE OR REPLACE FUNCTION accounts_token_owner(
    p_token_hash text, p_now timestamptz, p_touch_before timestamptz
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_token integer;
    v_owner integer;
    v_used timestamptz;
BEGIN
    SELECT t.id, t.user_id, t.last_used_at INTO v_token, v_owner, v_used
    FROM accounts_api_token AS t
    WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL;
    IF v_owner IS NOT NULL AND (v_used IS NULL OR v_used < p_touch_before) THEN
        UPDATE accounts_api_token AS t SET last_used_at = p_now WHERE t.id = v_token;
    END IF;
    RETURN v_owner;
END
$$;

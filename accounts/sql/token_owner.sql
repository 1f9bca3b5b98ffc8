-- The owner of a live bearer token, for statements that act for a caller in one round trip
-- (store_hold, store/sql/hold.sql; membership_hold_seat): the token table stays the accounts
-- package's business. It also records the token's use, at most once per p_touch_before
-- (accounts.services.TOKEN_TOUCH_INTERVAL), as accounts.services.user_for_token does.
-- NULL for an unknown or revoked token, for an account being cancelled (accounts.leaving:
-- its owner acts again only by signing in, which undoes it), and for a person who must agree
-- first (accounts.consents.outstanding, the gate's rule: once both the terms and the privacy
-- policy are published, an agreed version below the current one, or no age statement).
-- accounts.services.refused_token then says why. PostgreSQL only; installed by migration
-- store/0009, again by accounts/0021 (the function store_hold calls it). The portable twin is
-- accounts/sql/token_user.sql with accounts.services.user_for_token_digest(consented=True).
CREATE OR REPLACE FUNCTION accounts_token_owner(
    p_token_hash text, p_now timestamptz, p_touch_before timestamptz
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_token integer;
    v_owner integer;
    v_used timestamptz;
    v_terms integer;
    v_privacy integer;
    v_agreed_terms integer;
    v_agreed_privacy integer;
BEGIN
    SELECT t.id, t.user_id, t.last_used_at, u.agreed_terms, u.agreed_privacy
    INTO v_token, v_owner, v_used, v_agreed_terms, v_agreed_privacy
    FROM accounts_api_token AS t
    JOIN accounts_user AS u ON u.id = t.user_id
    WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL AND u.erase_after IS NULL;
    IF v_owner IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_used IS NULL OR v_used < p_touch_before THEN
        UPDATE accounts_api_token AS t SET last_used_at = p_now WHERE t.id = v_token;
    END IF;
    -- The current versions: the last row of each kind on the unique (kind, version) index.
    SELECT max(d.version) INTO v_terms FROM accounts_legal_document AS d WHERE d.kind = 'terms';
    SELECT max(d.version) INTO v_privacy
    FROM accounts_legal_document AS d WHERE d.kind = 'privacy';
    IF v_terms IS NOT NULL AND v_privacy IS NOT NULL AND (
        v_agreed_terms < v_terms
        OR v_agreed_privacy < v_privacy
        OR NOT EXISTS (
            SELECT 1 FROM accounts_consent AS c
            WHERE c.user_id = v_owner AND c.purpose = 'age_14' AND c.granted
        )
    ) THEN
        RETURN NULL;  -- consent outstanding: the gate's rule
    END IF;
    RETURN v_owner;
END
$$;

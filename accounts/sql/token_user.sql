-- The user a bearer token belongs to, with the token's id, last use and revocation
-- (accounts.services.user_for_token_digest): one round trip for every API call. $1 the token's
-- SHA-256 digest (hex); the database never sees the token itself.
SELECT u.*, t.id AS token_id__, t.last_used_at AS token_used__, t.revoked_at AS token_revoked__
FROM accounts_api_token t
JOIN accounts_user u ON u.id = t.user_id
WHERE t.token_hash = $1

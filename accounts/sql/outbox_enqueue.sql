-- A message to send later, in the caller's transaction (accounts.outbox.enqueue).
-- Invariant "one message per change": a key already written enqueues nothing (a retried
-- change, a double click), without failing the caller's transaction.
-- $1 channel, $2 recipient, $3 subject, $4 text, $5 html, $6 headers (JSON text or NULL),
-- $7 key, $8 and $9 now, $10 the Message-ID's random token.
INSERT INTO accounts_outbox
    (channel, recipient, subject, text, html, headers, dedupe_key, state, attempts,
     next_attempt_at, created_at, message_token)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, $10)
ON CONFLICT (dedupe_key) DO NOTHING

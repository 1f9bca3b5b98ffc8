-- Messages due now, claimed for one delivery run (accounts.outbox.deliver_due).
-- Invariant "never sent twice": a message is moved to 'sending' (and the move committed)
-- before anything is sent; only a 'pending' message is ever claimed, and a run that died
-- while sending leaves it 'sending', which no run claims again. SKIP LOCKED on PostgreSQL lets
-- two runs take different messages.
-- $1 and $2 now, $3 how many.
UPDATE accounts_outbox
SET state = 'sending', attempts = attempts + 1, claimed_at = $1
WHERE id IN (
    SELECT id FROM accounts_outbox
    WHERE state = 'pending' AND next_attempt_at <= $2
    ORDER BY id
    LIMIT $3 /* lock */
) AND state = 'pending'
RETURNING id, channel, recipient, subject, text, html, headers, attempts, message_token

-- The badge every page shows a signed-in person (accounts.services.unread_count): their
-- notifications not read yet, on the (user_id, read_at) index. $1 the user's id.
SELECT count(*) AS unread FROM accounts_notification WHERE user_id = $1 AND read_at IS NULL

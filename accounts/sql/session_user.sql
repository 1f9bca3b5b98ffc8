-- The session a browser's cookie key opens, with its account (none for a visitor's session):
-- accounts.sessions.load, on every request that carries a cookie. One round trip, and no
-- query built per request (building the ORM's two-table query cost more CPU than the
-- database's answer: bench/morning_push.py). $1 the SHA-256 of the key (hex); the database
-- never sees the key itself. The account's unread notices come along (the badge every page
-- shows: accounts/sql/unread_count.sql says the same), on the (user_id, read_at) index, so a
-- page needs no second round trip for them. So do the scalars the packages above ask for
-- (accounts.sessions.SessionScalars: the store's order waiting to be paid, for the front page),
-- put in by the app where the line below says.
SELECT u.*,
    s.id AS session_id__,
    s.created_at AS session_created__,
    s.last_seen_at AS session_seen__,
    s.user_agent AS session_agent__,
    s.address AS session_address__,
    s.privileges AS session_privileges__,
    s.data AS session_data__,
    -- (the scalars the packages above ask for: accounts.sessions.SessionScalars)
    (SELECT count(*) FROM accounts_notification n
        WHERE n.user_id = u.id AND n.read_at IS NULL) AS session_unread__
FROM accounts_session s
LEFT JOIN accounts_user u ON u.id = s.user_id
WHERE s.key_hash = $1

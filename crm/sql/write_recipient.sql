-- One recipient of a broadcast, written when it starts (crm.broadcasts.start), on SQLite (run
-- for each person with executemany, in the start's transaction). $1 broadcast, $2 person.
INSERT INTO crm_broadcast_recipient (broadcast_id, user_id, state) VALUES ($1, $2, 'pending')

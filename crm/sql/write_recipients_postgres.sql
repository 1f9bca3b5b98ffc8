-- A broadcast's recipients, written when it starts (crm.broadcasts.start), on PostgreSQL: the
-- audience's ids as one array in one statement (row objects took seconds for 100,000).
-- $1 broadcast, $2 the people's ids.
INSERT INTO crm_broadcast_recipient (broadcast_id, user_id, state)
SELECT $1, person, 'pending' FROM unnest($2::int[]) AS person

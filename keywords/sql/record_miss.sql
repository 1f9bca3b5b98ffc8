-- Lookups that nothing answered, counted (keywords.misses.flush): one row per Asia/Shanghai
-- day and folded keyword, its count added to. Past $5 different keywords on a day a new one is
-- counted in the day's row with an empty key instead, so a bot typing random words cannot fill
-- the table (two new keywords at the same moment may both pass the check: a bound, not an
-- exact count). Written for SQLite and PostgreSQL alike.
-- $1 day, $2 folded keyword, $3 the keyword as typed, $4 the last lookup, $5 the most keywords
-- kept a day, $6 how many lookups.
WITH kept AS (
    SELECT EXISTS (SELECT 1 FROM keywords_miss WHERE day = $1 AND key = CAST($2 AS TEXT))
        OR (SELECT count(*) FROM keywords_miss WHERE day = $1) < $5 AS yes
)
INSERT INTO keywords_miss (day, key, sample, count, last_at)
VALUES (
    $1,
    (SELECT CASE WHEN yes THEN CAST($2 AS TEXT) ELSE '' END FROM kept),
    (SELECT CASE WHEN yes THEN CAST($3 AS TEXT) ELSE '' END FROM kept),
    $6,
    $4
)
ON CONFLICT (day, key) DO UPDATE SET count = keywords_miss.count + excluded.count,
    last_at = excluded.last_at

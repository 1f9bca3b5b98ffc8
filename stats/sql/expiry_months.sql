-- Memberships current at $1 that end within [$2, $3): one month of the renewals to come
-- (stats.rollups.refresh_expiry_months).
SELECT count(*) AS members FROM accounts_user
 WHERE member_until > $1 AND member_until >= $2 AND member_until < $3

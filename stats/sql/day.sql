-- One Asia/Shanghai day's numbers (stats.rollups.refresh): $1 the day's start and $2 its end
-- (UTC, half-open), $3 the day itself (the key of the per-day counters).
--
-- A member on the day: someone with a membership grant made before the day ended, reaching
-- past its start, not revoked before it (grants are each extension of a membership, so the
-- lapsed months between two grants count as no one's). An active member: a member who on the
-- day did something recorded: read the feed or an item, played its audio, looked a keyword up,
-- read a product, posted or replied on the board, or paid for anything.
SELECT
    (SELECT count(*) FROM accounts_user
      WHERE created_at >= $1 AND created_at < $2) AS new_accounts,
    (SELECT count(DISTINCT user_id) FROM membership_grant
      WHERE created_at < $2 AND new_until > $1
        AND (revoked_at IS NULL OR revoked_at > $1)) AS members,
    (SELECT count(*) FROM (
        SELECT user_id FROM accounts_activity WHERE day = $3
        UNION SELECT author_id FROM community_post WHERE created_at >= $1 AND created_at < $2
        UNION SELECT author_id FROM community_reply WHERE created_at >= $1 AND created_at < $2
        UNION SELECT user_id FROM payments_payment WHERE succeeded_at >= $1 AND succeeded_at < $2
      ) AS active
      WHERE EXISTS (
        SELECT 1 FROM membership_grant g
         WHERE g.user_id = active.user_id AND g.created_at < $2 AND g.new_until > $1
           AND (g.revoked_at IS NULL OR g.revoked_at > $1))) AS active_members,
    (SELECT coalesce(sum(views), 0) FROM community_feed_item_day WHERE day = $3) AS feed_views,
    (SELECT coalesce(sum(plays), 0) FROM community_feed_item_day WHERE day = $3) AS feed_plays,
    (SELECT coalesce(sum(lookups), 0) FROM community_feed_item_day
      WHERE day = $3) AS keyword_lookups,
    (SELECT coalesce(sum(views), 0) FROM store_product_day WHERE day = $3) AS product_views,
    (SELECT count(*) FROM community_post
      WHERE created_at >= $1 AND created_at < $2) AS board_posts,
    (SELECT count(*) FROM community_reply
      WHERE created_at >= $1 AND created_at < $2) AS board_replies,
    -- Money counts the day it arrived, refunded later or not; refunds count the day they left.
    (SELECT coalesce(sum(amount_fen), 0) FROM payments_payment
      WHERE succeeded_at >= $1 AND succeeded_at < $2) AS revenue_fen,
    -- Each order paid that day looks its items up (by order): a join let PostgreSQL read
    -- every item ever sold to find the day's few thousand.
    (SELECT coalesce(sum((SELECT sum(i.quantity) FROM store_order_item i
                           WHERE i.order_id = o.id)), 0)
       FROM store_order o WHERE o.paid_at >= $1 AND o.paid_at < $2) AS units_sold,
    (SELECT coalesce(sum(amount_fen), 0) FROM payments_refund
      WHERE created_at >= $1 AND created_at < $2) AS refunds_fen

"""Two years of a large community, loaded into an app database with SQL (generate_series), the
way the app stores it: the data bench/admin_stats.py measures the numbers' queries on.

At scale 1: 1,000,000 accounts made over DAYS days (more each day as the community grows);
30% of them members through enrollment windows (a grant per enrollment, paid; half renew a
year later); 10,000,000 feed events (views, plays, keyword lookups) both as per-(item, day)
counters and as per-(person, day, kind) activity, the same events counted twice as the app
counts them; board posts and replies; product views per day; orders with their items and
payments (a few declined, some refunded); and a drop whose opening sold DROP_PAID units in
two hours, with its per-minute page views.

What nothing measured reads is left out: seats of the (past) windows, units of the everyday
products, allowances, the search index, notices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from tallies import shanghai_day

DAYS = 730
MEMBER_SHARE = 0.30
RENEWING_SHARE = 0.5
PRODUCTS = 200
# The drop: units paid for, orders still holding units when measured, orders whose hold ran
# out (their units went back), and units never sold.
DROP_PAID = 10_000
DROP_PENDING = 300
DROP_EXPIRED = 500
DROP_UNSOLD = 200
# Feed events per reader-day drawn: views 1-3, a play two times in five (one or two), a
# lookup one time in five.
EVENTS_PER_READER_DAY = 2.8


@dataclass(frozen=True)
class Scale:
    accounts: int
    feed_events: int
    orders: int
    posts: int

    @classmethod
    def of(cls, factor: float) -> Scale:
        return cls(
            accounts=int(1_000_000 * factor),
            feed_events=int(10_000_000 * factor),
            orders=int(600_000 * factor),
            posts=int(100_000 * factor),
        )


@dataclass(frozen=True)
class Loaded:
    now: datetime
    drop_id: int
    drop_opens_at: datetime
    last_window_id: int
    seconds: dict[str, float]  # per step
    counts: dict[str, int]  # rows (or events) per table


def _ts(at: datetime) -> str:
    return f"'{at.isoformat()}'::timestamptz"


# Deterministic functions of an order's number: how many items, which products, how many of
# each, at what price; the order's total is their sum, so orders and items agree.
FUNCTIONS = f"""
CREATE FUNCTION pg_temp.items(n bigint) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT 1 + (n % 3 = 0)::int + (n % 7 = 0)::int $$;
CREATE FUNCTION pg_temp.product(n bigint, j int) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT 1 + ((n * 31 + j * 17) % {PRODUCTS})::int $$;
CREATE FUNCTION pg_temp.quantity(n bigint, j int) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT 1 + ((n + j) % 4 = 0)::int $$;
CREATE FUNCTION pg_temp.price(p int) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT 2900 + (p % 20) * 500 $$;
CREATE FUNCTION pg_temp.total(n bigint) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT sum(pg_temp.quantity(n, j) * pg_temp.price(pg_temp.product(n, j)))::int
       FROM generate_series(1, pg_temp.items(n)) AS j $$;
"""


def steps(scale: Scale, now: datetime) -> list[tuple[str, str]]:
    """(name, SQL) in order; each step may read what the ones before it made."""
    start = now - timedelta(days=DAYS)
    days = (shanghai_day(now) - shanghai_day(start)).days + 1  # the first and last in part
    first_day = f"'{shanghai_day(start)}'::date"
    drop_at = (now - timedelta(hours=3)).replace(second=0, microsecond=0)
    START, NOW, DROP_AT = _ts(start), _ts(now), _ts(drop_at)
    span = f"({NOW} - {START})"
    reader_draws = int(scale.feed_events / EVENTS_PER_READER_DAY)
    drop_id = PRODUCTS + 1
    drop_orders = DROP_PAID + DROP_PENDING + DROP_EXPIRED
    return [
        (
            "accounts",
            f"""
INSERT INTO accounts_user (email, display_name, password_hash, is_admin, created_at,
                           avatar_version, bio, email_verified_at)
SELECT 'reader' || n || '@bench.cn', '读者' || n, 'bench-signs-in-with-no-password', false,
       at, 0, '', at
  FROM (SELECT n, {START} + sqrt(random()) * {span} AS at
          FROM generate_series(1, {scale.accounts}) AS n) AS made
 ORDER BY at;
-- Each Shanghai day of the history, and the last account made by its end (ids grow with
-- time): a person drawn for a day is 1 + floor(random() * last_id).
CREATE TEMP TABLE bench_day AS
WITH made AS (
    SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date AS day, max(id) AS last_id
      FROM accounts_user GROUP BY 1)
SELECT d::date AS day, d::date - {first_day} AS n,
       greatest(1, max(made.last_id) OVER (ORDER BY d)) AS last_id
  FROM generate_series({first_day}, {first_day} + {days - 1}, interval '1 day') AS d
  LEFT JOIN made ON made.day = d::date;
""",
        ),
        (
            "memberships",
            f"""
INSERT INTO membership_window (name, price_fen, seats, opens_at, closes_at, term_days,
                               benefits, faq, created_at)
SELECT '第' || (q + 1) || '期会员', 19900, 1000000, {START} + q * interval '91 days',
       {START} + (q + 1) * interval '91 days', 365, '[]', '[]',
       {START} + q * interval '91 days' - interval '7 days'
  FROM generate_series(0, {DAYS // 91}) AS q;
CREATE TEMP TABLE bench_member AS
SELECT id AS user_id, created_at + random() * interval '30 days' AS first_at
  FROM accounts_user WHERE random() < {MEMBER_SHARE};
-- Each grant is an enrollment paid: n is its enrollment's id and its payment's.
CREATE TEMP TABLE bench_grant AS
SELECT row_number() OVER (ORDER BY at) AS n, * FROM (
    SELECT user_id, first_at AS at, NULL::timestamptz AS previous_until,
           first_at + interval '365 days' AS new_until
      FROM bench_member
    UNION ALL
    SELECT user_id, first_at + interval '365 days' - random() * interval '25 days',
           first_at + interval '365 days', first_at + interval '730 days'
      FROM bench_member WHERE random() < {RENEWING_SHARE}
) AS g WHERE at < {NOW};
INSERT INTO membership_enrollment (id, window_id, user_id, status, active_key, amount_fen,
                                   hold_expires_at, payment_id, paid_at, created_at)
SELECT n, w.id, g.user_id, 'paid', w.id || ':' || g.user_id, 19900,
       g.at + interval '13 minutes', n, g.at, g.at - interval '2 minutes'
  FROM bench_grant g JOIN membership_window w ON g.at >= w.opens_at AND g.at < w.closes_at;
INSERT INTO membership_grant (source, enrollment_id, days, previous_until, new_until,
                              created_at, user_id)
SELECT 'enrollment', n, 365, previous_until, new_until, at, user_id FROM bench_grant ORDER BY n;
INSERT INTO membership_member (since, user_id)
SELECT min(at), user_id FROM bench_grant GROUP BY user_id ORDER BY 1;
UPDATE accounts_user u SET member_until = g.until
  FROM (SELECT user_id, max(new_until) AS until FROM bench_grant GROUP BY user_id) AS g
 WHERE u.id = g.user_id;
INSERT INTO payments_payment (id, purpose, subject_id, amount_fen, currency, status,
    active_key, provider_intent_id, refunded_fen, fulfilled_at, created_at, updated_at,
    user_id, settlement, method, confirmed_at, succeeded_at)
SELECT n, 'membership', n::text, 19900, 'cny', 'succeeded', 'membership:' || n,
       'pi_bench_m' || n, 0, at, at - interval '1 minute', at, user_id, 'fulfilled',
       (ARRAY['card', 'wechat_pay', 'alipay'])[1 + n % 3], at, at
  FROM bench_grant ORDER BY 1;
""",
        ),
        (
            "orders",
            f"""
INSERT INTO store_category (name, position) VALUES ('书', 0), ('文具', 1), ('周边', 2),
    ('逼格工场', 3);
INSERT INTO store_product (id, title, description, price_fen, stock, members_only,
    member_head_start_minutes, created_at, category_id, raffle_purchase_minutes,
    requires_shipping, published)
SELECT p, '第' || p || '号商品', '', pg_temp.price(p), 100000, false, 0, {START}, 1 + p % 3,
       60, true, true
  FROM generate_series(1, {PRODUCTS}) AS p;
INSERT INTO store_product (id, title, description, price_fen, stock, per_customer_limit,
    members_only, member_head_start_minutes, sale_starts_at, created_at, category_id,
    raffle_purchase_minutes, requires_shipping, published)
VALUES ({drop_id}, '限量黄铜书签', '', 9900, {DROP_PAID + DROP_PENDING + DROP_UNSOLD}, 1, false,
        30, {DROP_AT}, {DROP_AT} - interval '7 days', 4, 60, true, true);
CREATE TEMP TABLE bench_order AS
SELECT row_number() OVER (ORDER BY at) AS n, at, user_id FROM (
    SELECT r.at, 1 + floor(random() * d.last_id)::int AS user_id
      FROM (SELECT {START} + cbrt(random()) * {span} AS at
              FROM generate_series(1, {scale.orders})) AS r
      JOIN bench_day d ON d.day = (r.at AT TIME ZONE 'Asia/Shanghai')::date
) AS o;
-- One order in 25 is never paid (declined, then its hold ran out); one in 50 is refunded.
INSERT INTO store_order (id, status, total_fen, hold_expires_at, ship_name, ship_phone,
    ship_province, ship_city, ship_district, ship_address, created_at, paid_at, user_id)
SELECT n,
       CASE WHEN n % 25 = 0 THEN 'cancelled' WHEN n % 50 = 7 THEN 'refunded'
            WHEN at < {NOW} - interval '7 days' THEN 'delivered'
            WHEN at < {NOW} - interval '2 days' THEN 'shipped' ELSE 'paid' END,
       pg_temp.total(n), at + interval '15 minutes', '张三', '13812345678', '北京市',
       '北京市', '海淀区', '中关村大街 1 号', at,
       CASE WHEN n % 25 <> 0 THEN at + (20 + random() * 280) * interval '1 second' END, user_id
  FROM bench_order ORDER BY n;
INSERT INTO store_order_item (quantity, unit_price_fen, order_id, product_id)
SELECT pg_temp.quantity(o.id, j), pg_temp.price(pg_temp.product(o.id, j)), o.id,
       pg_temp.product(o.id, j)
  FROM store_order o, generate_series(1, pg_temp.items(o.id)) AS j
 ORDER BY o.id, j;
-- The drop: one unit per person, most orders in its first minutes.
INSERT INTO store_order (id, status, total_fen, hold_expires_at, ship_name, ship_phone,
    ship_province, ship_city, ship_district, ship_address, created_at, paid_at, user_id)
SELECT {scale.orders} + row_number() OVER (ORDER BY at), status, 9900,
       at + interval '15 minutes', '李四', '13912345678', '上海市', '上海市', '徐汇区',
       '漕溪北路 1 号', at,
       CASE WHEN status = 'paid' THEN at + (20 + random() * 100) * interval '1 second' END,
       user_id
  FROM (SELECT {DROP_AT} + random() ^ 3 * interval '2 hours' AS at,
               1 + (k - 1) * {max(1, scale.accounts // drop_orders)} % {scale.accounts} AS user_id,
               CASE WHEN k <= {DROP_PAID} THEN 'paid'
                    WHEN k <= {DROP_PAID + DROP_PENDING} THEN 'pending_payment'
                    ELSE 'cancelled' END AS status
          FROM generate_series(1, {drop_orders}) AS k) AS d;
INSERT INTO store_order_item (quantity, unit_price_fen, order_id, product_id)
SELECT 1, 9900, id, {drop_id} FROM store_order WHERE id > {scale.orders} ORDER BY id;
INSERT INTO store_unit (number, order_id, product_id)
SELECT u, holding.id, {drop_id}
  FROM generate_series(1, {DROP_PAID + DROP_PENDING + DROP_UNSOLD}) AS u
  LEFT JOIN (SELECT id, row_number() OVER (ORDER BY id) AS r FROM store_order
              WHERE id > {scale.orders} AND status IN ('paid', 'pending_payment')) AS holding
    ON holding.r = u;
-- A payment per order, numbered after the memberships' (its id: that count + the order's).
INSERT INTO payments_payment (id, purpose, subject_id, amount_fen, currency, status,
    active_key, provider_intent_id, failure_code, refunded_fen, fulfilled_at, created_at,
    updated_at, user_id, settlement, method, confirmed_at, succeeded_at)
SELECT m.n + o.id, 'order', o.id::text, o.total_fen, 'cny',
       CASE WHEN o.status = 'pending_payment' THEN 'requires_action'
            WHEN o.paid_at IS NULL THEN 'failed'
            WHEN o.status = 'refunded' THEN 'refunded' ELSE 'succeeded' END,
       CASE WHEN o.paid_at IS NOT NULL OR o.status = 'pending_payment'
            THEN 'order:' || o.id END,
       'pi_bench_o' || o.id,
       CASE WHEN o.status = 'cancelled' THEN 'card_declined' END,
       CASE WHEN o.status = 'refunded' THEN o.total_fen ELSE 0 END,
       o.paid_at, o.created_at + interval '10 seconds',
       coalesce(o.paid_at, o.created_at + interval '1 minute'), o.user_id,
       CASE WHEN o.paid_at IS NOT NULL THEN 'fulfilled' END,
       (ARRAY['card', 'wechat_pay', 'alipay'])[1 + o.id % 3], o.paid_at, o.paid_at
  FROM store_order o, (SELECT count(*) AS n FROM bench_grant) AS m
 ORDER BY o.id;
UPDATE store_order o SET payment_id = m.n + o.id
  FROM (SELECT count(*) AS n FROM bench_grant) AS m WHERE o.paid_at IS NOT NULL;
INSERT INTO payments_refund (payment_id, amount_fen, automatic, created_at)
SELECT payment_id, total_fen, false, least(paid_at + interval '3 days', {NOW})
  FROM store_order WHERE status = 'refunded' ORDER BY 4;
""",
        ),
        (
            "views",
            f"""
INSERT INTO store_product_minute (product_id, minute, views)
SELECT {drop_id}, {DROP_AT} + m * interval '1 minute',
       (20 + 8000 * exp(-abs(m) / CASE WHEN m < 0 THEN 10.0 ELSE 25.0 END))::int
  FROM generate_series(-30, 119) AS m;
INSERT INTO store_product_day (product_id, day, views)
SELECT p, d.day, (random() * 60 * (d.n + 30) / {days + 30}.0)::int
  FROM generate_series(1, {PRODUCTS}) AS p, bench_day d ORDER BY d.day, p;
INSERT INTO store_product_day (product_id, day, views)
SELECT {drop_id}, ({DROP_AT} AT TIME ZONE 'Asia/Shanghai')::date, sum(views)
  FROM store_product_minute;
""",
        ),
        (
            "feed events",
            f"""
INSERT INTO community_feed_item (id, title, body, body_html, keyword, keyword_key,
    live_keyword, members_only, publish_at, unpublished, views, plays, lookups, created_at,
    updated_at, teaser)
SELECT d.n + 1, '第' || (d.n + 1) || '期：每天六十秒', '今天我们聊聊终身学习。',
       '<p>今天我们聊聊终身学习。</p>', '关键词' || d.n, '关键词' || d.n, '关键词' || d.n,
       d.n % 5 = 0, (d.day + time '07:00') AT TIME ZONE 'Asia/Shanghai', false, 0, 0, 0,
       (d.day + time '06:00') AT TIME ZONE 'Asia/Shanghai',
       (d.day + time '06:00') AT TIME ZONE 'Asia/Shanghai', ''
  FROM bench_day d ORDER BY d.n;
-- Reader-days: as many more each day as there are more accounts (days drawn with density
-- growing as the square of the day, like the accounts), the reader any account made by then.
CREATE TEMP TABLE bench_reader_day AS
SELECT user_id, day, count(*) AS times FROM (
    SELECT d.day, 1 + floor(random() * d.last_id)::int AS user_id
      FROM (SELECT floor({days} * cbrt(random()))::int AS n
              FROM generate_series(1, {reader_draws})) AS r
      JOIN bench_day d USING (n)
) AS s GROUP BY user_id, day;
-- Each reader-day reads one item, mostly the day's own (else one a few days old).
CREATE TEMP TABLE bench_event AS
WITH r AS MATERIALIZED (
    SELECT user_id, day, times, random() AS a, random() AS b, random() AS c,
           1 + greatest(0, (day - {first_day})
                           - least(floor(-ln(1 - random()) * 1.5)::int, 29)) AS item_id
      FROM bench_reader_day)
SELECT r.user_id, r.day, k.kind, k.n, r.item_id
  FROM r CROSS JOIN LATERAL (VALUES
      ('feed.view', r.times * (1 + floor(r.a * 3)::int)),
      ('feed.play', CASE WHEN r.b < 0.4 THEN r.times * (1 + (r.b < 0.2)::int) ELSE 0 END),
      ('feed.lookup', CASE WHEN r.c < 0.2 THEN r.times ELSE 0 END)) AS k(kind, n)
 WHERE k.n > 0;
INSERT INTO accounts_activity (user_id, day, kind, count)
SELECT user_id, day, kind, n FROM bench_event ORDER BY day, user_id, kind;
INSERT INTO community_feed_item_day (item_id, day, views, plays, lookups)
SELECT item_id, day, coalesce(sum(n) FILTER (WHERE kind = 'feed.view'), 0),
       coalesce(sum(n) FILTER (WHERE kind = 'feed.play'), 0),
       coalesce(sum(n) FILTER (WHERE kind = 'feed.lookup'), 0)
  FROM bench_event GROUP BY item_id, day ORDER BY day, item_id;
UPDATE community_feed_item i SET views = s.views, plays = s.plays, lookups = s.lookups
  FROM (SELECT item_id, sum(views) AS views, sum(plays) AS plays, sum(lookups) AS lookups
          FROM community_feed_item_day GROUP BY item_id) AS s
 WHERE i.id = s.item_id;
""",
        ),
        (
            "board",
            f"""
INSERT INTO community_post (id, category, title, body, body_html, created_at,
    last_activity_at, reply_count, like_count, hidden, locked, pinned, deleted, author_id)
SELECT n, (ARRAY['knowledge', 'question', 'hiring'])[1 + n % 3], '帖子 ' || n,
       '读书笔记。', '<p>读书笔记。</p>', at, at, n % 8, 0, false, false, false, false,
       user_id
  FROM (SELECT row_number() OVER (ORDER BY r.at) AS n, r.at,
               1 + floor(random() * d.last_id)::int AS user_id
          FROM (SELECT {START} + cbrt(random()) * {span} AS at
                  FROM generate_series(1, {scale.posts})) AS r
          JOIN bench_day d ON d.day = (r.at AT TIME ZONE 'Asia/Shanghai')::date) AS p
 ORDER BY n;
INSERT INTO community_reply (body, body_html, created_at, hidden, author_id, post_id)
SELECT '同意。', '<p>同意。</p>', at, false, author_id, post_id FROM (
    SELECT least(p.created_at + random() * interval '3 days', {NOW}) AS at,
           1 + floor(random() * p.author_id)::int AS author_id, p.id AS post_id
      FROM community_post p, generate_series(1, p.reply_count) AS j) AS r
 ORDER BY at;
UPDATE community_post p SET last_activity_at = r.last
  FROM (SELECT post_id, max(created_at) AS last FROM community_reply GROUP BY post_id) AS r
 WHERE p.id = r.post_id;
""",
        ),
        (
            "sequences and statistics",
            """
SELECT setval(pg_get_serial_sequence('store_order', 'id'), (SELECT max(id) FROM store_order));
SELECT setval(pg_get_serial_sequence('payments_payment', 'id'),
              (SELECT max(id) FROM payments_payment));
SELECT setval(pg_get_serial_sequence('membership_enrollment', 'id'),
              (SELECT max(id) FROM membership_enrollment));
SELECT setval(pg_get_serial_sequence('store_product', 'id'), (SELECT max(id) FROM store_product));
SELECT setval(pg_get_serial_sequence('community_feed_item', 'id'),
              (SELECT max(id) FROM community_feed_item));
SELECT setval(pg_get_serial_sequence('community_post', 'id'),
              (SELECT max(id) FROM community_post));
""",
        ),
    ]


COUNTED = {
    "accounts": "SELECT count(*) FROM accounts_user",
    "members": "SELECT count(*) FROM accounts_user WHERE member_until IS NOT NULL",
    "grants": "SELECT count(*) FROM membership_grant",
    "feed events": "SELECT sum(views + plays + lookups) FROM community_feed_item_day",
    "feed events (activity)": "SELECT sum(count) FROM accounts_activity",
    "activity rows": "SELECT count(*) FROM accounts_activity",
    "feed item-days": "SELECT count(*) FROM community_feed_item_day",
    "posts": "SELECT count(*) FROM community_post",
    "replies": "SELECT count(*) FROM community_reply",
    "orders": "SELECT count(*) FROM store_order",
    "order items": "SELECT count(*) FROM store_order_item",
    "payments": "SELECT count(*) FROM payments_payment",
    "refunds": "SELECT count(*) FROM payments_refund",
    "drop orders": f"SELECT count(*) FROM store_order_item WHERE product_id = {PRODUCTS + 1}",
}


async def load(dsn: str, scale: Scale, *, progress: bool = True) -> Loaded:
    """Load the history into the (migrated, empty) database at `dsn`; `now` is the moment
    the history ends (the present of the measurements)."""
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn.replace("postgres://", "postgresql://", 1))
    seconds: dict[str, float] = {}
    try:
        # The same history on every run (random() follows the seed within this session).
        await connection.execute(
            "SET synchronous_commit = off; SET work_mem = '256MB';"
            "SET maintenance_work_mem = '512MB'; SELECT setseed(0.29);"
        )
        await connection.execute(FUNCTIONS)
        for name, sql in steps(scale, now):
            started = time.perf_counter()
            await connection.execute(sql)
            seconds[name] = time.perf_counter() - started
            if progress:
                print(f"  loaded {name} in {seconds[name]:.1f} s", flush=True)
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")  # as autovacuum would have, in time
        seconds["vacuum analyze"] = time.perf_counter() - started
        counts = {name: int(await connection.fetchval(sql) or 0) for name, sql in COUNTED.items()}
        last_window = await connection.fetchval("SELECT max(id) FROM membership_window")
    finally:
        await connection.close()
    drop_at = (now - timedelta(hours=3)).replace(second=0, microsecond=0)
    return Loaded(now, PRODUCTS + 1, drop_at, int(last_window), seconds, counts)

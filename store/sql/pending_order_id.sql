-- Whether the person has an order waiting to be paid (store.orders.PENDING_ORDER): the newest
-- one's id, or NULL. Read with the session of the front page (accounts.sessions.SessionScalars,
-- a scalar subquery on the session's account `u`), on store_order's (user_id) index, so that
-- the front page asks for the order (order_to_pay.sql, which also says whether its hold still
-- runs) only when there is one: most people have none, and a statement of its own cost every
-- front page a round trip more. 'pending_payment' is OrderStatus.PENDING_PAYMENT
-- (tests/store/test_order_to_pay.py holds them together).
(SELECT max(o.id) FROM store_order o
    WHERE o.user_id = u.id AND o.status = 'pending_payment')

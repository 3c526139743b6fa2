"""All SQL of group buys.

Lock order, the one every path keeps so that none deadlocks with another: a member's checkout, its order,
the group's row, then the SKU (payments lock the checkout first, joins the group, and both reach the SKU
last)."""

SKU_FOR_DEAL = """
SELECT s.id, s.product_id, s.price, s.available, p.vendor_id, p.status = 'listed' AND v.status = 'active' AS visible
FROM skus s JOIN products p ON p.id = s.product_id JOIN vendors v ON v.id = p.vendor_id
WHERE s.id = $1
"""
INSERT_DEAL = """
INSERT INTO group_buy_deals (sku_id, product_id, vendor_id, group_price, group_size, group_minutes, per_buyer_limit,
                             starts_at, ends_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id
"""
_DEAL = """
SELECT d.id, d.sku_id, d.product_id, d.vendor_id, p.title, s.code AS sku_code, p.currency, s.price AS list_price,
       d.group_price, d.group_size, d.group_minutes, d.per_buyer_limit, d.starts_at, d.ends_at, d.cancelled_at,
       now() AS now,
       (SELECT count(*) FROM group_buys g WHERE g.deal_id = d.id AND g.status = 'open')::int AS open_groups,
       (p.status = 'listed' AND v.status = 'active') AS visible
FROM group_buy_deals d JOIN skus s ON s.id = d.sku_id JOIN products p ON p.id = d.product_id
JOIN vendors v ON v.id = d.vendor_id
"""
GET_DEAL = _DEAL + "WHERE d.id = $1"
VENDOR_DEALS = _DEAL + "WHERE d.vendor_id = $1 AND ($2::bigint IS NULL OR d.id < $2) ORDER BY d.id DESC LIMIT $3"
# Deals anyone sees: of listed products of active shops, not cancelled and not over.
PUBLIC_DEALS = (
    _DEAL
    + """WHERE p.status = 'listed' AND v.status = 'active' AND d.cancelled_at IS NULL AND now() < d.ends_at
  AND ($1::bigint IS NULL OR d.product_id = $1) AND ($2::bigint IS NULL OR d.id < $2)
ORDER BY d.id DESC LIMIT $3
"""
)
# Cancelling a deal also closes its open groups' window: the sweeper refunds them on its next round.
CANCEL_DEAL = """
WITH deal AS (
    UPDATE group_buy_deals SET cancelled_at = now() WHERE id = $1 AND cancelled_at IS NULL RETURNING id
)
UPDATE group_buys g SET expires_at = least(g.expires_at, now())
FROM deal WHERE g.deal_id = deal.id AND g.status = 'open'
RETURNING g.id
"""
DEAL_CANCELLED = "SELECT cancelled_at IS NOT NULL FROM group_buy_deals WHERE id = $1"

_GROUP = """
SELECT g.id, g.deal_id, d.product_id, d.sku_id, d.vendor_id, p.title, p.currency, d.group_price,
       s.price AS list_price, g.size, g.seats_taken, g.paid, g.status, g.expires_at, g.filled_at, g.created_at,
       now() AS now
FROM group_buys g JOIN group_buy_deals d ON d.id = g.deal_id JOIN products p ON p.id = d.product_id
JOIN skus s ON s.id = d.sku_id JOIN vendors v ON v.id = d.vendor_id
"""
# A group's page is public while its product is listed and its shop active, like the product's own page.
PUBLIC_GROUP = _GROUP + "WHERE g.id = $1 AND p.status = 'listed' AND v.status = 'active'"
OPEN_GROUPS_OF_DEAL = (
    _GROUP + "WHERE g.deal_id = $1 AND g.status = 'open' AND g.expires_at > now() ORDER BY g.expires_at, g.id LIMIT 50"
)
MY_GROUPS = f"""
SELECT m.status AS member_status, m.checkout_id, m.order_id, m.joined_at, m.paid_at, x.*
FROM group_buy_members m
JOIN ({_GROUP}) x ON x.id = m.group_id
WHERE m.buyer_id = $1 AND ($2::bigint IS NULL OR m.group_id < $2)
ORDER BY m.group_id DESC LIMIT $3
"""

# Starting a group: only while its deal runs, for a listed product of an active shop.
START_GROUP = """
INSERT INTO group_buys (deal_id, leader_id, size, expires_at)
SELECT d.id, $2, d.group_size, now() + make_interval(mins => d.group_minutes)
FROM group_buy_deals d JOIN products p ON p.id = d.product_id JOIN vendors v ON v.id = d.vendor_id
WHERE d.id = $1 AND d.cancelled_at IS NULL AND now() >= d.starts_at AND now() < d.ends_at
  AND p.status = 'listed' AND v.status = 'active'
RETURNING id
"""
# Read first, without a lock: a crowd's joins of a full group are turned away without queueing on its row
# (seats come back only when a member leaves, and a buyer refused then may simply try again).
HAS_SEAT = """
SELECT EXISTS (SELECT 1 FROM group_buys WHERE id = $1 AND status = 'open' AND expires_at > now() AND seats_taken < size)
"""
# A seat, taken with a conditional update: the group's row lock queues a crowd's joins, and none passes size.
TAKE_SEAT = """
UPDATE group_buys g SET seats_taken = g.seats_taken + 1
FROM group_buy_deals d
WHERE g.id = $1 AND d.id = g.deal_id AND g.status = 'open' AND g.expires_at > now() AND g.seats_taken < g.size
  AND d.cancelled_at IS NULL
RETURNING g.id, g.deal_id, d.sku_id, d.product_id, d.group_price, d.per_buyer_limit,
          extract(epoch FROM g.expires_at - now())::int AS seconds_left
"""
# Why a seat was refused (read after TAKE_SEAT found nothing).
GROUP_STATE = """
SELECT g.status, g.expires_at <= now() AS past, g.seats_taken >= g.size AS full, d.cancelled_at IS NOT NULL AS cancelled
FROM group_buys g JOIN group_buy_deals d ON d.id = g.deal_id WHERE g.id = $1
"""
MEMBER_STATUS = "SELECT status FROM group_buy_members WHERE group_id = $1 AND buyer_id = $2"
# The member's checkout and order, once placed (the last statement of a join).
SET_MEMBER_CHECKOUT = """
UPDATE group_buy_members SET checkout_id = $3, order_id = $4 WHERE group_id = $1 AND buyer_id = $2
"""
# The buyer's seats in the deal's groups, kept within its limit ($3).
COUNT_SEAT = """
INSERT INTO group_buy_buyers (deal_id, buyer_id, seats) VALUES ($1, $2, 1)
ON CONFLICT (deal_id, buyer_id) DO UPDATE SET seats = group_buy_buyers.seats + 1
WHERE group_buy_buyers.seats + 1 <= $3
RETURNING seats
"""
# Nothing returned: the buyer is already a member. One who left (cancelled, or let the payment time run out)
# may come back while the group is open.
INSERT_MEMBER = """
INSERT INTO group_buy_members (group_id, buyer_id, deal_id) VALUES ($1, $2, $3)
ON CONFLICT (group_id, buyer_id) DO UPDATE SET checkout_id = NULL, order_id = NULL, status = 'held',
    joined_at = now(), paid_at = NULL
WHERE group_buy_members.status = 'left'
RETURNING true
"""
# `group_buy.changed` with the figures a live page shows of each group, on the group's topic and on its
# product's stock topic ($2 and $3: the topics' prefix and suffix, from core/topics.py), in one round trip.
GROUP_CHANGED = """
INSERT INTO events (topic, type, payload)
SELECT t.topic, 'group_buy.changed',
       jsonb_build_object('group_id', g.id, 'deal_id', g.deal_id, 'product_id', d.product_id, 'size', g.size,
                          'seats_taken', g.seats_taken, 'paid', g.paid, 'seats_left', g.size - g.seats_taken,
                          'status', g.status)
FROM group_buys g JOIN group_buy_deals d ON d.id = g.deal_id
CROSS JOIN LATERAL (VALUES (1, $2::text || g.id), (2, $3::text || d.product_id || $4::text)) AS t(n, topic)
WHERE g.id = ANY($1::bigint[])
ORDER BY g.id, t.n
"""

# A member's checkout was paid (inside the payment's transaction): the group counts it, and fills once every
# seat is paid before its deadline. Returns the group's id, or nothing when the checkout is no member's.
MEMBER_PAID = """
WITH member AS (
    UPDATE group_buy_members SET status = 'paid', paid_at = now()
    WHERE checkout_id = $1 AND status = 'held'
    RETURNING group_id
)
UPDATE group_buys g SET
    paid = g.paid + 1,
    status = CASE WHEN g.paid + 1 >= g.size AND now() < g.expires_at THEN 'filled' ELSE g.status END,
    filled_at = CASE WHEN g.paid + 1 >= g.size AND now() < g.expires_at THEN now() END,
    closed_at = CASE WHEN g.paid + 1 >= g.size AND now() < g.expires_at THEN now() END
FROM member WHERE g.id = member.group_id AND g.status = 'open'
RETURNING g.id, g.status
"""
IS_MEMBER_CHECKOUT = "SELECT EXISTS (SELECT 1 FROM group_buy_members WHERE checkout_id = $1)"
# An order that may not go ahead yet: its group is still open.
WAITING_FOR_GROUP = """
SELECT EXISTS (SELECT 1 FROM group_buy_members m JOIN group_buys g ON g.id = m.group_id
               WHERE m.order_id = $1 AND g.status = 'open')
"""

# Members' orders cancelled while their group is open (unpaid and expired, or cancelled by buyer or vendor):
# their seats go back to the group and to the buyer's allowance. Groups no longer open keep their figures.
MEMBERS_LEFT = """
WITH old AS MATERIALIZED (
    SELECT m.group_id, m.buyer_id, m.deal_id, m.status
    FROM group_buy_members m JOIN group_buys g ON g.id = m.group_id
    WHERE m.order_id = ANY($1::bigint[]) AND m.status IN ('held', 'paid') AND g.status = 'open'
    ORDER BY m.group_id
    FOR UPDATE OF g, m
), gone AS (
    UPDATE group_buy_members m SET status = 'left'
    FROM old WHERE m.group_id = old.group_id AND m.buyer_id = old.buyer_id
), allowance AS (
    UPDATE group_buy_buyers b SET seats = b.seats - 1
    FROM old WHERE b.deal_id = old.deal_id AND b.buyer_id = old.buyer_id
)
UPDATE group_buys g SET seats_taken = g.seats_taken - t.n, paid = g.paid - t.paid
FROM (SELECT group_id, count(*)::int AS n, (count(*) FILTER (WHERE status = 'paid'))::int AS paid
      FROM old GROUP BY group_id) t
WHERE g.id = t.group_id
RETURNING g.id
"""

# The sweeper: open groups whose deadline has passed (read without locks; each is then locked in order).
DUE_GROUPS = "SELECT id FROM group_buys WHERE status = 'open' AND expires_at < now() ORDER BY expires_at LIMIT $1"
# The members' checkouts and orders, locked before the group (see the lock order above).
LOCK_MEMBER_CHECKOUTS = """
SELECT m.buyer_id, m.checkout_id, m.order_id, m.status
FROM group_buy_members m JOIN checkouts c ON c.id = m.checkout_id JOIN orders o ON o.id = m.order_id
WHERE m.group_id = $1 AND m.status IN ('held', 'paid')
ORDER BY m.checkout_id
FOR UPDATE OF c, o
"""
LOCK_DUE_GROUP = "SELECT id FROM group_buys WHERE id = $1 AND status = 'open' AND expires_at < now() FOR UPDATE"
# The group expires: paid members are refunded (by the caller), unpaid ones leave; every seat is given back
# to its buyer's allowance, so a buyer may try again in another group.
EXPIRE_GROUP = """
WITH members AS (
    UPDATE group_buy_members SET status = CASE WHEN status = 'paid' THEN 'refunded' ELSE 'left' END
    WHERE group_id = $1 AND status IN ('held', 'paid')
    RETURNING buyer_id, deal_id
), allowance AS (
    UPDATE group_buy_buyers b SET seats = b.seats - 1 FROM members
    WHERE b.deal_id = members.deal_id AND b.buyer_id = members.buyer_id
)
UPDATE group_buys SET status = 'expired', closed_at = now() WHERE id = $1
"""

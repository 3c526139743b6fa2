"""All SQL of risk control. Each rule is one set-based statement over the orders (or attempts) of the scan
window ($1: its start); the address of an order is `address_key` of its checkout's shipping address."""

from marketplace.risk import Rule
from marketplace.risk.rules import address_key

CHECKOUT_ADDRESS = address_key("c.shipping_address")
BOOK_ADDRESS = address_key("to_jsonb(a)")
# What a shop sold: orders paid, or confirmed for cash on delivery, and beyond; not cancelled ones.
SOLD = "('paid', 'confirmed', 'accepted', 'shipped', 'delivered', 'completed')"

_SOLD_LINES = f"""
sold AS (
    SELECT o.id AS order_id, o.buyer_id, o.vendor_id, o.created_at, c.id AS checkout_id,
           {CHECKOUT_ADDRESS} AS address
    FROM orders o JOIN checkouts c ON c.id = o.checkout_id
    WHERE o.created_at >= $1 AND o.status IN {SOLD}
)"""
# Where accounts signed in from: session_clients (migration 0027) keeps each session's IP and user agent.
_LOGIN_IPS = """
ips AS (SELECT user_id, ip, user_agent FROM session_clients WHERE created_at >= $1 AND ip NOT IN ('', 'unknown'))"""

SHARED_ADDRESS = f"""
WITH {_SOLD_LINES}
SELECT s.address, l.sku_id, s.vendor_id, min(l.product_id) AS product_id, min(l.title) AS title,
       count(DISTINCT s.buyer_id)::int AS accounts, count(DISTINCT s.order_id)::int AS orders,
       sum(l.quantity)::int AS units, array_agg(DISTINCT s.buyer_id ORDER BY s.buyer_id) AS user_ids,
       array_agg(DISTINCT s.order_id ORDER BY s.order_id) AS order_ids, min(s.checkout_id) AS sample_checkout_id,
       max(s.created_at) AS latest_at
FROM sold s JOIN order_lines l ON l.order_id = s.order_id
WHERE s.address IS NOT NULL
GROUP BY s.address, l.sku_id, s.vendor_id
HAVING count(DISTINCT s.buyer_id) >= $2
"""

SHARED_IP = f"""
WITH {_SOLD_LINES}, {_LOGIN_IPS}
SELECT i.ip, l.sku_id, s.vendor_id, min(l.product_id) AS product_id, min(l.title) AS title,
       count(DISTINCT s.buyer_id)::int AS accounts, count(DISTINCT s.order_id)::int AS orders,
       array_agg(DISTINCT s.buyer_id ORDER BY s.buyer_id) AS user_ids,
       array_agg(DISTINCT s.order_id ORDER BY s.order_id) AS order_ids, max(s.created_at) AS latest_at,
       count(DISTINCT i.user_agent)::int AS user_agents
FROM ips i JOIN sold s ON s.buyer_id = i.user_id JOIN order_lines l ON l.order_id = s.order_id
GROUP BY i.ip, l.sku_id, s.vendor_id
HAVING count(DISTINCT s.buyer_id) >= $2
"""

# A ring buys from one shop: either its orders are linked to the shop's owner (the owner's own account, or
# an account shipping to an address of the owner's: in the owner's address book or shipped to by the owner),
# or several accounts share one address ($2 of them). Either way it needs $3 orders. Its reviews come along.
BRUSHING_RING = f"""
WITH {_SOLD_LINES},
owner_addresses AS (
    SELECT v.id AS vendor_id, {BOOK_ADDRESS} AS address FROM vendors v JOIN addresses a ON a.user_id = v.user_id
    UNION
    SELECT v.id, {CHECKOUT_ADDRESS} FROM vendors v JOIN checkouts c ON c.buyer_id = v.user_id
),
linked AS (
    SELECT s.*,
           s.buyer_id = v.user_id
           OR EXISTS (SELECT 1 FROM owner_addresses oa WHERE oa.vendor_id = s.vendor_id AND oa.address = s.address)
               AS owner_linked
    FROM sold s JOIN vendors v ON v.id = s.vendor_id
),
rings AS (
    SELECT vendor_id, owner_linked, CASE WHEN owner_linked THEN NULL ELSE address END AS address,
           count(DISTINCT buyer_id)::int AS accounts, count(DISTINCT order_id)::int AS orders,
           array_agg(DISTINCT buyer_id ORDER BY buyer_id) AS user_ids,
           array_agg(DISTINCT order_id ORDER BY order_id) AS order_ids,
           min(checkout_id) AS sample_checkout_id, max(created_at) AS latest_at
    FROM linked
    WHERE owner_linked OR address IS NOT NULL
    GROUP BY vendor_id, owner_linked, CASE WHEN owner_linked THEN NULL ELSE address END
    HAVING count(DISTINCT order_id) >= $3 AND (owner_linked OR count(DISTINCT buyer_id) >= $2)
)
SELECT r.*, (SELECT count(*) FROM sold s WHERE s.vendor_id = r.vendor_id)::int AS shop_orders,
       rv.reviews, rv.reviewers, rv.review_rating
FROM rings r
CROSS JOIN LATERAL (
    SELECT count(*)::int AS reviews, count(DISTINCT buyer_id)::int AS reviewers, avg(rating) AS review_rating
    FROM reviews WHERE vendor_id = r.vendor_id AND buyer_id = ANY (r.user_ids)
) rv
"""

# After-sales refunds (returns, refund-only; not exchanges) of delivered orders: a buyer's rate against the
# platform's over the same window.
REFUND_ABUSE = """
WITH delivered AS (
    SELECT o.id, o.buyer_id, o.created_at,
           EXISTS (SELECT 1 FROM aftersales_requests r
                   WHERE r.order_id = o.id AND r.kind <> 'exchange' AND r.refunded_amount > 0) AS refunded
    FROM orders o WHERE o.created_at >= $1 AND o.status IN ('delivered', 'completed')
),
platform AS (SELECT coalesce(avg(refunded::int), 0)::float AS rate FROM delivered)
SELECT d.buyer_id, count(*)::int AS orders, (count(*) FILTER (WHERE d.refunded))::int AS refunded,
       array_agg(d.id ORDER BY d.id) FILTER (WHERE d.refunded) AS order_ids, max(d.created_at) AS latest_at,
       p.rate AS platform_rate
FROM delivered d CROSS JOIN platform p
GROUP BY d.buyer_id, p.rate
HAVING count(*) >= $2
   AND (count(*) FILTER (WHERE d.refunded))::float / count(*) >= greatest($3::float, p.rate * $4::float)
"""

# Hours in which one account failed $2 logins, or one IP $3 (across accounts): one row per account or IP.
FAILED_LOGINS = """
WITH failed AS (SELECT * FROM login_failures WHERE at >= $1),
bursts AS (
    SELECT user_id, NULL::text AS ip, date_trunc('hour', at) AS hour, count(*)::int AS n, max(at) AS latest,
           ARRAY[user_id] AS user_ids
    FROM failed WHERE user_id IS NOT NULL GROUP BY user_id, date_trunc('hour', at) HAVING count(*) >= $2
    UNION ALL
    SELECT NULL, ip, date_trunc('hour', at), count(*)::int, max(at),
           array_agg(DISTINCT user_id) FILTER (WHERE user_id IS NOT NULL)
    FROM failed GROUP BY ip, date_trunc('hour', at) HAVING count(*) >= $3
)
SELECT user_id, ip, max(n) AS peak, sum(n)::int AS failures, array_agg(hour ORDER BY hour) AS hours,
       max(latest) AS latest_at,
       (SELECT array_agg(DISTINCT u) FROM bursts b2, unnest(b2.user_ids) u
        WHERE b2.user_id IS NOT DISTINCT FROM b.user_id AND b2.ip IS NOT DISTINCT FROM b.ip) AS user_ids,
       (SELECT count(DISTINCT u)::int FROM bursts b2, unnest(b2.user_ids) u
        WHERE b2.user_id IS NOT DISTINCT FROM b.user_id AND b2.ip IS NOT DISTINCT FROM b.ip) AS accounts
FROM bursts b
GROUP BY user_id, ip
"""

FAILED_PAYMENTS = """
WITH bursts AS (
    SELECT c.buyer_id, date_trunc('hour', p.created_at) AS hour, count(*)::int AS n, max(p.created_at) AS latest,
           array_agg(p.id ORDER BY p.id) AS payment_ids
    FROM payments p JOIN checkouts c ON c.id = p.checkout_id
    WHERE p.status = 'failed' AND p.created_at >= $1
    GROUP BY c.buyer_id, date_trunc('hour', p.created_at)
    HAVING count(*) >= $2
)
SELECT buyer_id, max(n) AS peak, sum(n)::int AS failures, array_agg(hour ORDER BY hour) AS hours,
       max(latest) AS latest_at,
       ARRAY(SELECT unnest(b2.payment_ids) FROM bursts b2 WHERE b2.buyer_id = b.buyer_id LIMIT 50) AS payment_ids
FROM bursts b GROUP BY buyer_id
"""

RULES = {
    Rule.SHARED_ADDRESS: SHARED_ADDRESS,
    Rule.SHARED_IP: SHARED_IP,
    Rule.BRUSHING_RING: BRUSHING_RING,
    Rule.REFUND_ABUSE: REFUND_ABUSE,
    Rule.FAILED_LOGINS: FAILED_LOGINS,
    Rule.FAILED_PAYMENTS: FAILED_PAYMENTS,
}

# One scan at a time across processes: the loop skips while another runs, the CLI waits for it.
TRY_SCAN_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('marketplace risk scan'))"
SCAN_LOCK = "SELECT pg_advisory_xact_lock(hashtext('marketplace risk scan'))"

# A live alert for the same rule and subject takes the new evidence; a dismissal newer than the evidence
# keeps the pattern quiet. xmax = 0 tells an insert from an update.
UPSERT_ALERT = """
INSERT INTO risk_alerts (rule, subject, vendor_id, score, evidence, order_ids, user_ids, latest_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8
WHERE NOT EXISTS (SELECT 1 FROM risk_alerts d
                  WHERE d.rule = $1 AND d.subject = $2 AND d.status = 'dismissed' AND d.decided_at >= $8)
ON CONFLICT (rule, subject) WHERE status <> 'dismissed' DO UPDATE
SET score = EXCLUDED.score, evidence = EXCLUDED.evidence, order_ids = EXCLUDED.order_ids,
    user_ids = EXCLUDED.user_ids, latest_at = EXCLUDED.latest_at, vendor_id = EXCLUDED.vendor_id,
    updated_at = now()
RETURNING id, (xmax = 0) AS created
"""
# Payouts lock the vendor row FOR UPDATE; holding it FOR SHARE until the scan commits means a payout either
# sees the new holds or finished before them, never paid from a balance read before them.
LOCK_VENDORS = "SELECT id FROM vendors WHERE id = ANY ($1::bigint[]) ORDER BY id FOR SHARE"
INSERT_HOLDS = """
INSERT INTO payout_holds (alert_id, order_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING
"""
RELEASE_HOLDS = "DELETE FROM payout_holds WHERE alert_id = $1"
HELD_ORDERS = "SELECT count(DISTINCT order_id)::int FROM payout_holds WHERE alert_id = $1"

ALERT_COLUMNS = """a.id, a.status, a.rule, a.subject, a.vendor_id, a.score, a.evidence, a.order_ids, a.user_ids,
a.latest_at, a.decided_by, a.decided_at, a.decision_reason, a.created_at, a.updated_at,
(SELECT count(*)::int FROM payout_holds h WHERE h.alert_id = a.id) AS held_orders"""
LIST_ALERTS = f"""
SELECT {ALERT_COLUMNS} FROM risk_alerts a
WHERE ($1::text IS NULL OR a.status = $1) AND ($2::text IS NULL OR a.rule = $2)
  AND ($3::bigint IS NULL OR a.vendor_id = $3) AND ($4::bigint IS NULL OR a.id < $4)
ORDER BY a.id DESC
LIMIT $5
"""
GET_ALERT = f"SELECT {ALERT_COLUMNS} FROM risk_alerts a WHERE a.id = $1"
ALERT_FOR_UPDATE = "SELECT id, status, rule FROM risk_alerts WHERE id = $1 FOR UPDATE"
DECIDE_ALERT = """
UPDATE risk_alerts SET status = $2, decided_by = $3, decided_at = now(), decision_reason = $4, updated_at = now()
WHERE id = $1
"""

# A shop is flagged while a live alert names it.
SHOP_FLAGGED = "SELECT EXISTS (SELECT 1 FROM risk_alerts WHERE vendor_id = $1 AND status <> 'dismissed')"
SHOP_IS_NEW = "SELECT created_at > now() - make_interval(days => $2) FROM vendors WHERE id = $1"

INSERT_LOGIN_FAILURE = "INSERT INTO login_failures (user_id, ip) VALUES ($1, $2)"
PRUNE_LOGIN_FAILURES = "DELETE FROM login_failures WHERE at < now() - make_interval(days => $1)"

# Trust components per shop over the trust window ($1: its start; $2: hours after payment a shipment is late;
# $3: only these shops, NULL for all). An order counts once it was paid or confirmed (cancelled ones too:
# a refunded cancellation is a refund); it is late when shipped more than $2 hours after that, or still not
# shipped that long after. Reviews are those written in the window.
_TRUST_ORDERS = """
window_orders AS (
    SELECT id, vendor_id, status FROM orders
    WHERE created_at >= $1 AND ($3::bigint[] IS NULL OR vendor_id = ANY ($3))
),
moves AS (
    SELECT order_id, min(at) FILTER (WHERE to_status IN ('paid', 'confirmed')) AS paid_at,
           min(at) FILTER (WHERE to_status = 'shipped') AS shipped_at
    FROM order_history
    WHERE order_id IN (SELECT id FROM window_orders) AND to_status IN ('paid', 'confirmed', 'shipped')
    GROUP BY order_id
),
refunds AS (
    SELECT DISTINCT order_id FROM ledger_entries
    WHERE kind = 'refund' AND account = 'gateway' AND order_id IN (SELECT id FROM window_orders)
),
orders_of AS (
    SELECT o.id, o.vendor_id, o.status, m.paid_at, m.shipped_at, r.order_id IS NOT NULL AS refunded
    FROM window_orders o JOIN moves m ON m.order_id = o.id LEFT JOIN refunds r ON r.order_id = o.id
),
operations AS (
    SELECT vendor_id, count(*)::int AS orders, (count(*) FILTER (WHERE refunded))::int AS refunded,
           (count(*) FILTER (WHERE coalesce(shipped_at, CASE WHEN status IN ('paid', 'confirmed', 'accepted')
                                                              THEN now() END) - paid_at
                                   > make_interval(hours => $2)))::int AS late
    FROM orders_of WHERE paid_at IS NOT NULL GROUP BY vendor_id
),
ratings AS (
    SELECT vendor_id, count(*)::int AS reviews, avg(rating)::float AS rating FROM reviews
    WHERE created_at >= $1 AND ($3::bigint[] IS NULL OR vendor_id = ANY ($3)) GROUP BY vendor_id
)"""
# Disputes opened against the shop in the window, except those withdrawn or decided against the buyer.
TRUST_COMPONENTS = f"""WITH {_TRUST_ORDERS},
disputed AS (
    SELECT vendor_id, count(*)::int AS disputes FROM disputes
    WHERE created_at >= $1 AND ($3::bigint[] IS NULL OR vendor_id = ANY ($3))
      AND status <> 'withdrawn' AND outcome IS DISTINCT FROM 'rejected'  -- the buyer's claim was not borne out
    GROUP BY vendor_id
)
SELECT v.id AS vendor_id, coalesce(r.reviews, 0) AS reviews, r.rating, coalesce(op.orders, 0) AS orders,
       coalesce(op.refunded, 0) AS refunded, coalesce(op.late, 0) AS late, coalesce(d.disputes, 0) AS disputes
FROM vendors v LEFT JOIN ratings r ON r.vendor_id = v.id LEFT JOIN operations op ON op.vendor_id = v.id
LEFT JOIN disputed d ON d.vendor_id = v.id
WHERE $3::bigint[] IS NULL OR v.id = ANY ($3)
"""
UPSERT_TRUST = """
INSERT INTO shop_trust (vendor_id, score, rating, reviews, orders, refund_rate, late_shipment_rate, dispute_rate,
                        computed_at)
SELECT *, now() FROM unnest($1::bigint[], $2::smallint[], $3::float8[], $4::int[], $5::int[], $6::float8[],
                            $7::float8[], $8::float8[])
ON CONFLICT (vendor_id) DO UPDATE
SET score = EXCLUDED.score, rating = EXCLUDED.rating, reviews = EXCLUDED.reviews, orders = EXCLUDED.orders,
    refund_rate = EXCLUDED.refund_rate, late_shipment_rate = EXCLUDED.late_shipment_rate,
    dispute_rate = EXCLUDED.dispute_rate, computed_at = EXCLUDED.computed_at
"""
GET_TRUST = """
SELECT vendor_id, score, rating, reviews, orders, refund_rate, late_shipment_rate, dispute_rate, computed_at
FROM shop_trust WHERE vendor_id = $1
"""

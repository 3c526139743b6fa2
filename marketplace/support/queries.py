"""All SQL of the support desk: a search across orders, checkouts, payments, buyers and shops, and the parts
of an order's story no other package lists for staff (its payments, refunds, events, notes)."""

# $1 the text as typed, $2 an id when it is one, $3 a LIKE pattern (wildcards escaped), $4 limit, $5 offset.
# Ids match every kind; an email finds the account and its orders; a tracking number or a payment reference
# finds its order or payment; a shop's name or contact email finds the shop. Kinds in a fixed order, newest first.
SEARCH = """
WITH hits AS (
    SELECT 1 AS rank, 'order' AS kind, o.id, 'Order #' || o.id AS label,
           v.shop_name || ' · ' || coalesce(u.email::text, 'buyer #' || o.buyer_id)
             || coalesce(' · ' || o.carrier || ' ' || o.tracking_number, '') AS detail,
           o.status, o.created_at
    FROM orders o JOIN vendors v ON v.id = o.vendor_id JOIN users u ON u.id = o.buyer_id
    WHERE o.id = $2 OR o.checkout_id = $2 OR o.tracking_number = $1 OR u.email = $1::citext
    UNION ALL
    SELECT 2, 'checkout', c.id, 'Checkout #' || c.id, coalesce(u.email::text, 'buyer #' || c.buyer_id), c.status,
           c.created_at
    FROM checkouts c JOIN users u ON u.id = c.buyer_id WHERE c.id = $2
    UNION ALL
    SELECT 3, 'payment', p.id, 'Payment #' || p.id || ' (' || p.provider_ref || ')',
           p.method || ' · checkout #' || p.checkout_id, p.status, p.created_at
    FROM payments p WHERE p.id = $2 OR p.provider_ref = $1
    UNION ALL
    SELECT 4, 'buyer', u.id, coalesce(u.email::text, 'user #' || u.id), u.display_name, u.status, u.created_at
    FROM users u WHERE u.id = $2 OR u.email::text ILIKE $3 OR u.display_name ILIKE $3
    UNION ALL
    SELECT 5, 'shop', v.id, v.shop_name, v.contact_email, v.status, v.created_at
    FROM vendors v WHERE v.id = $2 OR v.shop_name ILIKE $3 OR v.contact_email ILIKE $3
)
SELECT kind, id, label, detail, status, created_at, count(*) OVER () AS total FROM hits
ORDER BY rank, created_at DESC, id DESC
LIMIT $4 OFFSET $5
"""
CHECKOUT_OF_ORDER = "SELECT c.status FROM checkouts c JOIN orders o ON o.checkout_id = c.id WHERE o.id = $1"
BUYER_OF_CHECKOUT = "SELECT buyer_id FROM checkouts WHERE id = $1"
PAYMENTS_OF_CHECKOUT = """
SELECT id, method, provider_ref, amount, currency, status, refunded_amount, created_at FROM payments
WHERE checkout_id = $1 ORDER BY id
"""
# Money given back for the order, per posting (what left the gateway).
REFUNDS_OF_ORDER = """
SELECT min(created_at) AS at, -sum(amount)::bigint AS amount, min(order_line_id) AS order_line_id
FROM ledger_entries WHERE order_id = $1 AND kind = 'refund' AND account = 'gateway'
GROUP BY posting ORDER BY min(id)
"""
# The order's events on its buyer's topic (the vendor's carry the same payloads), oldest first.
EVENTS_OF_ORDER = """
SELECT id, type, payload, created_at FROM events
WHERE topic = $1 AND payload->>'order_id' = $2::text ORDER BY id LIMIT 200
"""
AFTERSALES_OF_ORDER = "SELECT id FROM aftersales_requests WHERE order_id = $1 ORDER BY id"
NOTES_OF_ORDER = "SELECT id, order_id, author_id, body, created_at FROM support_notes WHERE order_id = $1 ORDER BY id"
INSERT_NOTE = """
INSERT INTO support_notes (order_id, author_id, body) VALUES ($1, $2, $3)
RETURNING id, order_id, author_id, body, created_at
"""
# When the order was delivered, and until when support extended its after-sales window; locked with the order.
ORDER_WINDOW = """
SELECT o.id, o.status,
       (SELECT max(h.at) FROM order_history h WHERE h.order_id = o.id AND h.to_status = 'delivered') AS delivered_at,
       (SELECT x.until FROM support_window_extensions x WHERE x.order_id = o.id) AS window_until
FROM orders o WHERE o.id = $1 FOR UPDATE
"""
UPSERT_EXTENSION = """
INSERT INTO support_window_extensions (order_id, until, extended_by, reason) VALUES ($1, $2, $3, $4)
ON CONFLICT (order_id) DO UPDATE
SET until = EXCLUDED.until, extended_by = EXCLUDED.extended_by, reason = EXCLUDED.reason, updated_at = now()
"""
SHIPPED_AT = "SELECT max(at) FROM order_history WHERE order_id = $1 AND to_status = 'shipped'"

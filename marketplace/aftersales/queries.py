"""All SQL of after-sales."""

ORDER_FOR_REQUEST = """
SELECT o.id, o.buyer_id, o.vendor_id, o.status, o.checkout_id,
       (SELECT max(h.at) FROM order_history h WHERE h.order_id = o.id AND h.to_status = 'delivered') AS delivered_at,
       (SELECT x.until FROM support_window_extensions x WHERE x.order_id = o.id) AS window_until  -- support/
FROM orders o WHERE o.id = $1 FOR UPDATE
"""
# Per line of order $1: what the buyer paid for it (after its share of every discount and points), and what is
# left to claim: the units and the money that live or finished requests (other than request $2) do not cover.
CLAIMABLE_LINES = """
SELECT l.id, l.sku_id, l.product_id, l.quantity, l.line_total - l.vendor_discount - l.platform_discount AS paid,
       l.quantity - coalesce(c.units, 0) AS claimable, coalesce(c.paid, 0) AS committed
FROM order_lines l
LEFT JOIN (SELECT al.order_line_id, sum(al.quantity) AS units, sum(al.paid) AS paid
           FROM aftersales_lines al JOIN aftersales_requests r ON r.id = al.request_id
           WHERE r.order_id = $1 AND r.status NOT IN ('rejected', 'withdrawn') AND r.id IS DISTINCT FROM $2
           GROUP BY al.order_line_id) c ON c.order_line_id = l.id
WHERE l.order_id = $1
"""
# The SKU an exchange asks for, with its product.
SKU_PRODUCT = "SELECT product_id FROM skus WHERE id = $1"
OTHER_SKUS = "SELECT id FROM skus WHERE product_id = $1 AND id <> $2 ORDER BY id"
INSERT_REQUEST = """
INSERT INTO aftersales_requests (order_id, buyer_id, vendor_id, kind, reason, refund_cap)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id
"""
INSERT_LINES = """
INSERT INTO aftersales_lines (request_id, order_line_id, quantity, paid, replacement_sku_id)
SELECT $1, l.line_id, l.quantity, l.paid, l.replacement
FROM unnest($2::bigint[], $3::int[], $4::bigint[], $5::bigint[]) AS l(line_id, quantity, paid, replacement)
"""
SET_LINES_PAID = """
UPDATE aftersales_lines al SET paid = l.paid
FROM unnest($2::bigint[], $3::bigint[]) AS l(line_id, paid) WHERE al.request_id = $1 AND al.order_line_id = l.line_id
"""
SET_REFUND_CAP = "UPDATE aftersales_requests SET refund_cap = $2 WHERE id = $1"
INSERT_MESSAGE = """
INSERT INTO aftersales_messages (request_id, author_id, author_role, body) VALUES ($1, $2, $3, $4)
"""
REQUEST_COLUMNS = """id, order_id, buyer_id, vendor_id, kind, status, reason, refund_cap, refunded_amount,
decision_note, return_carrier, return_tracking, replacement_tracking, restocked, created_at, updated_at"""
GET_REQUEST = f"SELECT {REQUEST_COLUMNS} FROM aftersales_requests WHERE id = $1"
REQUEST_FOR_UPDATE = f"SELECT {REQUEST_COLUMNS} FROM aftersales_requests WHERE id = $1 FOR UPDATE"
REQUEST_LINES = """
SELECT al.order_line_id, l.sku_id, l.title, l.unit_price, al.quantity, al.paid, al.replacement_sku_id
FROM aftersales_lines al JOIN order_lines l ON l.id = al.order_line_id
WHERE al.request_id = $1 ORDER BY al.order_line_id
"""
REQUEST_MESSAGES = """
SELECT id, author_id, author_role, body, created_at FROM aftersales_messages WHERE request_id = $1 ORDER BY id
"""
UPDATE_REQUEST = """
UPDATE aftersales_requests SET status = $2, updated_at = now(),
    decision_note = COALESCE($3, decision_note), return_carrier = COALESCE($4, return_carrier),
    return_tracking = COALESCE($5, return_tracking), replacement_tracking = COALESCE($6, replacement_tracking),
    restocked = restocked OR $7, refunded_amount = refunded_amount + $8
WHERE id = $1
"""
LIST_REQUESTS = f"""
SELECT {REQUEST_COLUMNS} FROM aftersales_requests
WHERE ($1::bigint IS NULL OR buyer_id = $1) AND ($2::bigint IS NULL OR vendor_id = $2)
  AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR id < $4)
ORDER BY id DESC LIMIT $5
"""
ORDER_CHECKOUT = "SELECT checkout_id, currency FROM orders WHERE id = $1"

"""All SQL of checkout and orders."""

# Checkout. Cart rows are locked first (one buyer's checkouts serialise), then SKUs in id order (so two
# checkouts touching the same SKUs always lock them in the same order and cannot deadlock).
LOCK_CART = """
SELECT c.sku_id, c.quantity FROM cart_items c WHERE c.user_id = $1 ORDER BY c.sku_id FOR UPDATE
"""
ADDRESS_OF_BUYER = """
SELECT recipient, phone, line1, line2, city, region, postal_code, country FROM addresses
WHERE id = $1 AND user_id = $2
"""
# Locks the SKU rows in id order; availability is then checked and reserved under that lock.
SKUS_FOR_ORDER = """
SELECT s.id AS sku_id, s.product_id, s.code, s.price, s.available, p.title, p.vendor_id, p.currency,
       (p.status = 'listed' AND v.status = 'active') AS visible
FROM skus s JOIN products p ON p.id = s.product_id JOIN vendors v ON v.id = p.vendor_id
WHERE s.id = ANY($1::bigint[])
ORDER BY s.id
FOR UPDATE OF s
"""
# The CHECK (reserved <= on_hand) on skus stays as the last guard against overselling.
RESERVE_ALL = """
UPDATE skus SET reserved = skus.reserved + u.quantity
FROM unnest($1::bigint[], $2::int[]) AS u(sku_id, quantity)
WHERE skus.id = u.sku_id
RETURNING skus.id AS sku_id, skus.product_id, skus.on_hand, skus.reserved, skus.available
"""
# The guard that makes overselling impossible: the row changes only if enough is left.
INSERT_CHECKOUT = """
INSERT INTO checkouts (buyer_id, currency, items_total, shipping_total, grand_total, shipping_address, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
RETURNING id, status, created_at, expires_at
"""
INSERT_ORDERS = """
INSERT INTO orders (checkout_id, buyer_id, vendor_id, currency, items_total, shipping_total, total)
SELECT $1, $2, o.vendor_id, $3, o.items_total, o.shipping_total, o.items_total + o.shipping_total
FROM unnest($4::bigint[], $5::bigint[], $6::bigint[]) WITH ORDINALITY AS o(vendor_id, items_total, shipping_total, n)
ORDER BY o.n
RETURNING id, vendor_id, status, created_at, updated_at
"""
INSERT_ORDER = """
INSERT INTO orders (checkout_id, buyer_id, vendor_id, currency, items_total, shipping_total, total)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id
"""
INSERT_LINES = """
INSERT INTO order_lines (order_id, sku_id, product_id, title, sku_code, unit_price, quantity, line_total)
SELECT l.order_id, l.sku_id, l.product_id, l.title, l.sku_code, l.unit_price, l.quantity, l.unit_price * l.quantity
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::int[])
     WITH ORDINALITY AS l(order_id, sku_id, product_id, title, sku_code, unit_price, quantity, n)
ORDER BY l.n
RETURNING id, order_id, sku_id
"""
INSERT_HISTORIES = """
INSERT INTO order_history (order_id, from_status, to_status, actor_id, note)
SELECT unnest($1::bigint[]), NULL, $2, $3, $4
"""
INSERT_HISTORY = """
INSERT INTO order_history (order_id, from_status, to_status, actor_id, note) VALUES ($1, $2, $3, $4, $5)
"""
REMOVE_FROM_CART = "DELETE FROM cart_items WHERE user_id = $1 AND sku_id = ANY($2::bigint[])"

# Reading
CHECKOUT_COLUMNS = """id, status, currency, items_total, shipping_total, grand_total, shipping_address, expires_at,
created_at"""
GET_CHECKOUT = f"SELECT {CHECKOUT_COLUMNS}, buyer_id FROM checkouts WHERE id = $1"
ORDER_COLUMNS = """id, checkout_id, buyer_id, vendor_id, status, currency, items_total, shipping_total, total,
cash_on_delivery, carrier, tracking_number, estimated_arrival, cancel_reason, created_at, updated_at"""
ORDERS_OF_CHECKOUT = f"SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_id = $1 ORDER BY id"
LINES_OF_ORDERS = """
SELECT order_id, id, sku_id, product_id, title, sku_code, unit_price, quantity, line_total
FROM order_lines WHERE order_id = ANY($1::bigint[]) ORDER BY id
"""
BUYER_ORDERS = f"""
SELECT {ORDER_COLUMNS} FROM orders
WHERE buyer_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC LIMIT $4
"""
VENDOR_ORDERS = f"""
SELECT {ORDER_COLUMNS} FROM orders
WHERE vendor_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR id < $3)
  AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at < $5)
ORDER BY id DESC LIMIT $6
"""
GET_ORDER = f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"
ORDER_HISTORY = """
SELECT from_status, to_status, actor_id, note, at FROM order_history WHERE order_id = $1 ORDER BY id
"""

# Expiry sweeper: SKIP LOCKED lets every worker sweep without two taking the same checkout.
EXPIRED_CHECKOUTS = """
SELECT id, buyer_id FROM checkouts
WHERE status = 'pending_payment' AND expires_at < now()
ORDER BY expires_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""
RESERVED_LINES_OF_CHECKOUT = """
SELECT l.sku_id, sum(l.quantity)::int AS quantity
FROM order_lines l JOIN orders o ON o.id = l.order_id
WHERE o.checkout_id = $1 AND o.status = 'pending_payment'
GROUP BY l.sku_id ORDER BY l.sku_id
"""
CANCEL_UNPAID_ORDERS = """
UPDATE orders SET status = 'cancelled', cancel_reason = $2, updated_at = now()
WHERE checkout_id = $1 AND status = 'pending_payment'
RETURNING id, vendor_id
"""
SET_CHECKOUT_STATUS = "UPDATE checkouts SET status = $2 WHERE id = $1"

# Lifecycle
ORDER_FOR_UPDATE = f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE"
SET_ORDER_STATUS = """
UPDATE orders SET status = $2, updated_at = now(),
    carrier = COALESCE($3, carrier), tracking_number = COALESCE($4, tracking_number),
    estimated_arrival = COALESCE($5, estimated_arrival), cancel_reason = COALESCE($6, cancel_reason)
WHERE id = $1
"""
LINES_OF_ORDER = "SELECT sku_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY sku_id"
OPEN_ORDERS_OF_CHECKOUT = "SELECT count(*) FROM orders WHERE checkout_id = $1 AND status <> 'cancelled'"
CANCEL_CHECKOUT_IF_UNPAID = "UPDATE checkouts SET status = 'cancelled' WHERE id = $1 AND status = 'pending_payment'"

# Delivered orders the buyer never confirmed complete on their own after a while.
AUTO_COMPLETE = """
WITH due AS (
    SELECT o.id, o.vendor_id, o.buyer_id FROM orders o
    WHERE o.status = 'delivered' AND o.updated_at < now() - make_interval(days => $1)
    ORDER BY o.id LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE orders o SET status = 'completed', updated_at = now() FROM due WHERE o.id = due.id
RETURNING o.id, o.vendor_id, o.buyer_id
"""

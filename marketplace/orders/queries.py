"""All SQL of checkout and orders."""

# Checkout runs two statements: one reads and locks everything the checkout decides on, the other writes
# the whole checkout. Each statement costs a round trip, a bind and an executor start-up on every call, and
# those (not the rows) are what a checkout spends its time on.
#
# Cart rows are locked first (one buyer's checkouts serialise: the Sort below the row locks pulls the whole
# CTE before any SKU is locked), then SKUs in id order (so two checkouts touching the same SKUs always lock
# them in the same order and cannot deadlock). SKUs take FOR NO KEY UPDATE, the lock the reserving UPDATE
# needs anyway: FOR UPDATE would also block the foreign-key checks of everyone putting the same SKU in a cart
# or on an order line meanwhile. Availability is then checked and reserved under that lock. The address
# rides along (NULL columns when it is not the buyer's); `cart_lines` counts cart rows whose SKU has gone.
# `s.id = ANY(ARRAY(...))` makes SKUs an index lookup whatever the planner believes about the size of carts
# (a plain join to the CTE is planned as a sequential scan of skus when cart_items looks big or empty).
_CHECKOUT_LINES = """
WITH cart AS MATERIALIZED ({lines})
SELECT c.sku_id, c.quantity, c.sale_price, s.product_id, s.code, s.price, s.available, p.title, p.vendor_id, p.currency,
       (p.status = 'listed' AND v.status = 'active') AS visible, (SELECT count(*) FROM cart) AS cart_lines,
       a.id IS NOT NULL AS address_found, (SELECT EXISTS (
           SELECT 1 FROM coupons k WHERE (k.audience = 'automatic' OR EXISTS (
               SELECT 1 FROM coupon_grants g WHERE g.coupon_id = k.id AND g.buyer_id = $1))
           AND k.disabled_at IS NULL AND now() >= k.starts_at AND now() < k.ends_at)) AS coupons_running,
       a.recipient, a.phone, a.line1, a.line2, a.city, a.region, a.postal_code, a.country
FROM cart c
JOIN skus s ON s.id = c.sku_id
JOIN products p ON p.id = s.product_id
JOIN vendors v ON v.id = p.vendor_id
LEFT JOIN addresses a ON a.id = $2 AND a.user_id = $1
WHERE s.id = ANY(ARRAY(SELECT sku_id FROM cart))
ORDER BY s.id
{lock}
"""
CHECKOUT_CART = _CHECKOUT_LINES.format(
    lines="SELECT sku_id, quantity, NULL::bigint AS sale_price FROM cart_items WHERE user_id = $1 ORDER BY sku_id "
    "FOR UPDATE",
    lock="FOR NO KEY UPDATE OF s",
)
# A flash-sale purchase ($3 sale, $4 quantity): the sale's SKU at its price instead of the cart, and no lock.
# A crowd buys the same SKU, so its row (and the sale's) must be held as briefly as possible: PLACE_CHECKOUT
# takes both in one statement, the sale's units with a conditional update, the shelf's under its CHECK.
CHECKOUT_FLASH = _CHECKOUT_LINES.format(
    lines="SELECT sku_id, $4::int AS quantity, sale_price FROM flash_sales WHERE id = $3", lock=""
)
ADDRESS_COLUMNS = ("recipient", "phone", "line1", "line2", "city", "region", "postal_code", "country")
# Everything a checkout writes, in one statement: reserve the (locked, checked) stock, the checkout, one
# order per vendor (ids in vendor order), their lines (in line order), the first history entry of each
# order, the outbox events (stock.changed per SKU in SKU order, then per vendor order.placed for the vendor
# and for the buyer, the order they had when written one by one) and the cart lines bought. The CHECK
# (reserved <= on_hand) on skus stays as the last guard against overselling. Foreign keys between the CTEs
# (line -> order -> checkout) are checked at the end of the statement, when all rows exist.
#   $1 buyer, $2 currency, $3 items, $4 shipping, $5 grand total, $6 address, $7 seconds to pay,
#   $8.. per vendor: id, items total, shipping, item count, orders topic; $13 buyer's orders topic,
#   $14.. per line (vendor order, then SKU id): vendor, SKU, product, title, code, price, quantity,
#   $21.. per SKU (id order): id, quantity, stock topic; $24 order status, $25 history note,
#   $26 the flash sale (NULL for a cart), $27 whether the lines bought leave the cart, $28 flash units,
#   $29 the flash sale's stock topic; promotions: $30, $31 per line vendor- and platform-funded discount,
#   $32, $33 the same per vendor order, $34 the checkout's discount, $35 its coupon, $36 its points spent.
# A flash purchase also takes its units from the sale and the buyer's allowance here, both conditional; if
# either refuses, `refusal` raises flash_sale_refusal(reason) and the whole statement writes nothing.
PLACE_CHECKOUT = """
WITH taken AS (
    UPDATE flash_sales SET sold = sold + $28
    WHERE id = $26 AND cancelled_at IS NULL AND now() >= starts_at AND now() < ends_at AND sold + $28 <= units
    RETURNING id, sku_id, units, sold, per_buyer_limit
), counted AS (
    INSERT INTO flash_sale_buyers (sale_id, buyer_id, units) SELECT id, $1, $28 FROM taken
    ON CONFLICT (sale_id, buyer_id) DO UPDATE SET units = flash_sale_buyers.units + EXCLUDED.units
    WHERE flash_sale_buyers.units + EXCLUDED.units <= (SELECT per_buyer_limit FROM taken)
    RETURNING units
), refusal AS (
    SELECT CASE WHEN $26::bigint IS NULL OR EXISTS (SELECT FROM counted) THEN NULL ELSE flash_sale_refusal((
        SELECT CASE WHEN f.cancelled_at IS NOT NULL OR now() >= f.ends_at THEN 'ended'
                    WHEN now() < f.starts_at THEN 'not_started'
                    WHEN NOT EXISTS (SELECT FROM taken) THEN 'sold_out'
                    ELSE 'limit_reached' END
        FROM flash_sales f WHERE f.id = $26)) END AS reason
), reserved AS (
    UPDATE skus SET reserved = skus.reserved + u.quantity
    FROM unnest($21::bigint[], $22::int[], $23::text[]) AS u(sku_id, quantity, topic)
    WHERE skus.id = u.sku_id
    RETURNING skus.id AS sku_id, u.topic, skus.on_hand, skus.reserved, skus.available
), checkout AS (
    INSERT INTO checkouts (buyer_id, currency, items_total, shipping_total, grand_total, shipping_address, expires_at,
                           discount_total, coupon_id, points_spent)
    VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), $34, $35, $36)
    RETURNING id, status, created_at, expires_at
), vendor AS (
    SELECT * FROM unnest($8::bigint[], $9::bigint[], $10::bigint[], $11::int[], $12::text[], $32::bigint[],
                         $33::bigint[])
        WITH ORDINALITY AS o(vendor_id, items_total, shipping_total, items, topic, vendor_discount, platform_discount,
                             n)
), placed AS (
    INSERT INTO orders (checkout_id, buyer_id, vendor_id, currency, items_total, shipping_total, total,
                        vendor_discount, platform_discount)
    SELECT checkout.id, $1, vendor.vendor_id, $2, vendor.items_total, vendor.shipping_total,
           vendor.items_total + vendor.shipping_total - vendor.vendor_discount - vendor.platform_discount,
           vendor.vendor_discount, vendor.platform_discount
    FROM checkout, vendor
    ORDER BY vendor.n
    RETURNING id, checkout_id, vendor_id, total, status, created_at, updated_at
), lines AS (
    INSERT INTO order_lines (order_id, sku_id, product_id, title, sku_code, unit_price, quantity, line_total,
                             flash_sale_id, vendor_discount, platform_discount)
    SELECT placed.id, l.sku_id, l.product_id, l.title, l.sku_code, l.unit_price, l.quantity, l.unit_price * l.quantity,
           $26::bigint, l.vendor_discount, l.platform_discount
    FROM unnest($14::bigint[], $15::bigint[], $16::bigint[], $17::text[], $18::text[], $19::bigint[], $20::int[],
                $30::bigint[], $31::bigint[])
         WITH ORDINALITY AS l(vendor_id, sku_id, product_id, title, sku_code, unit_price, quantity, vendor_discount,
                              platform_discount, n)
    JOIN placed ON placed.vendor_id = l.vendor_id
    ORDER BY l.n
    RETURNING id, order_id, sku_id
), history AS (
    INSERT INTO order_history (order_id, from_status, to_status, actor_id, note)
    SELECT id, NULL, $24, $1, $25 FROM placed ORDER BY id
), outbox AS (
    INSERT INTO events (topic, type, payload)
    SELECT e.topic, e.type, e.payload FROM (
        SELECT 1 AS part, r.sku_id AS k, 1 AS sub, r.topic, 'stock.changed' AS type,
               jsonb_build_object('sku_id', r.sku_id, 'on_hand', r.on_hand, 'reserved', r.reserved,
                                  'available', r.available) AS payload
        FROM reserved r
        UNION ALL
        SELECT 0, t.id, 1, $29::text, 'flash_sale.changed',
               jsonb_build_object('sale_id', t.id, 'sku_id', t.sku_id, 'units', t.units, 'sold', t.sold,
                                  'remaining', t.units - t.sold)
        FROM taken t
        UNION ALL
        SELECT 2, vendor.n, t.sub, t.topic, 'order.placed',
               jsonb_build_object('order_id', placed.id, 'checkout_id', placed.checkout_id, 'status', $24::text,
                                  'total', placed.total, 'currency', $2::text, 'items', vendor.items)
        FROM placed
        JOIN vendor ON vendor.vendor_id = placed.vendor_id
        CROSS JOIN LATERAL (VALUES (1, vendor.topic), (2, $13::text)) AS t(sub, topic)
    ) e
    ORDER BY e.part, e.k, e.sub
), emptied AS (
    DELETE FROM cart_items WHERE $27::bool AND user_id = $1 AND sku_id = ANY($21::bigint[])
)
SELECT checkout.id AS checkout_id, checkout.status AS checkout_status, checkout.created_at AS checkout_created_at,
       checkout.expires_at, placed.id AS order_id, placed.vendor_id, placed.status, placed.created_at,
       placed.updated_at, lines.id AS line_id, lines.sku_id
FROM lines JOIN placed ON placed.id = lines.order_id CROSS JOIN checkout CROSS JOIN refusal
"""
INSERT_ORDER = """
INSERT INTO orders (checkout_id, buyer_id, vendor_id, currency, items_total, shipping_total, total)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id
"""
INSERT_HISTORY = """
INSERT INTO order_history (order_id, from_status, to_status, actor_id, note) VALUES ($1, $2, $3, $4, $5)
"""

# Reading
CHECKOUT_COLUMNS = """id, status, currency, items_total, shipping_total, grand_total, discount_total, coupon_id,
points_spent, shipping_address, expires_at, created_at"""
GET_CHECKOUT = f"SELECT {CHECKOUT_COLUMNS}, buyer_id FROM checkouts WHERE id = $1"
ORDER_COLUMNS = """id, checkout_id, buyer_id, vendor_id, status, currency, items_total, shipping_total, total,
cash_on_delivery, vendor_discount + platform_discount AS discount, carrier, tracking_number, estimated_arrival,
cancel_reason, created_at, updated_at"""
ORDERS_OF_CHECKOUT = f"SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_id = $1 ORDER BY id"
LINES_OF_ORDERS = """
SELECT order_id, id, sku_id, product_id, title, sku_code, unit_price, quantity, line_total, flash_sale_id,
       vendor_discount + platform_discount AS discount
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
UNPAID_ORDERS_OF_CHECKOUTS = """
SELECT array_agg(id) FROM orders WHERE checkout_id = ANY($1::bigint[]) AND status = 'pending_payment'
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

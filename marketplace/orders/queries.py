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
       a.recipient, a.phone, a.line1, a.line2, a.city, a.region, a.postal_code, a.country, a.match_key,
       COALESCE(ps.weight_grams, 0) AS weight_grams, t.id AS shipping_template_id, t.basis AS shipping_basis,
       t.default_rate AS shipping_default_rate, t.regions AS shipping_regions
FROM cart c
JOIN skus s ON s.id = c.sku_id
JOIN products p ON p.id = s.product_id
JOIN vendors v ON v.id = p.vendor_id
LEFT JOIN addresses a ON a.id = $2 AND a.user_id = $1
-- The shop's shipping template for the line (the product's own, else the shop's default; none: the flat fee),
-- read here so that templates cost checkout no round trip of its own (logistics/fees.py prices them).
LEFT JOIN product_shipping ps ON ps.product_id = p.id
LEFT JOIN shipping_templates t ON t.vendor_id = p.vendor_id AND t.id = COALESCE(ps.template_id, (
    SELECT d.id FROM shipping_templates d WHERE d.vendor_id = p.vendor_id AND d.is_default))
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
# One unit of a SKU ($3) at a given price ($4), the cart left alone (a group buy's join). No lock, as for a
# flash purchase: a crowd joins groups of one SKU, so PLACE_CHECKOUT's reservation (under the shelf's CHECK)
# is the only moment its row is held.
CHECKOUT_ONE_LINE = _CHECKOUT_LINES.format(
    lines="SELECT $3::bigint AS sku_id, 1 AS quantity, $4::bigint AS sale_price", lock=""
)
# The address as the checkout keeps it: the sealed lines as they are (core/fields.py) and the match key.
ADDRESS_COLUMNS = ("recipient", "phone", "line1", "line2", "city", "region", "postal_code", "country", "match_key")
# The columns the API shows of a checkout and of an order (read.py builds its answers from them).
CHECKOUT_COLUMNS = """id, status, currency, items_total, shipping_total, grand_total, discount_total, coupon_id,
points_spent, shipping_address, expires_at, created_at"""
ORDER_COLUMNS = """id, checkout_id, buyer_id, vendor_id, status, currency, items_total, shipping_total, total,
cash_on_delivery, vendor_discount + platform_discount AS discount, carrier, tracking_number, estimated_arrival,
cancel_reason, created_at, updated_at"""

# Everything a checkout writes, in one statement: reserve the (locked, checked) stock, the checkout, one
# order per vendor (ids in vendor order), their lines (in line order), the first history entry of each
# order, the outbox events (stock.changed per SKU in SKU order, then per vendor order.placed for the vendor
# and for the buyer, the order they had when written one by one) and the cart lines bought. The CHECK
# (reserved <= on_hand) on skus stays as the last guard against overselling. Foreign keys between the CTEs
# (line -> order -> checkout) are checked at the end of the statement, when all rows exist.
# Its four parameters are named rows as jsonb, one per table (place_checkout.py's `CheckoutRow`, `VendorRow`,
# `LineRow` and `SkuRow`, whose fields are these column lists; a test holds the two together):
#   $1 the checkout, $2 its vendor orders, $3 their lines (vendor order, then SKU id), $4 its SKUs (id order).
# A flash purchase also takes its units from the sale and the buyer's allowance here, both conditional; if
# either refuses, `refusal` raises flash_sale_refusal(reason) and the whole statement writes nothing.
# It answers the checkout as the API shows it, read from the rows it wrote (the read queries' columns).
LINE_COLUMNS = """id, sku_id, product_id, title, sku_code, unit_price, quantity, line_total, flash_sale_id,
vendor_discount + platform_discount AS discount"""
PLACE_CHECKOUT = f"""
WITH c AS MATERIALIZED (
    SELECT * FROM jsonb_to_record($1) AS c(
        buyer_id bigint, currency text, items_total bigint, shipping_total bigint, grand_total bigint,
        shipping_address jsonb, hold_seconds int, discount_total bigint, coupon_id bigint, points_spent bigint,
        status text, note text, buyer_topic text, leaves_cart boolean, flash_sale_id bigint, flash_units int,
        flash_topic text)
), taken AS (
    UPDATE flash_sales f SET sold = f.sold + (SELECT flash_units FROM c)
    WHERE f.id = (SELECT flash_sale_id FROM c) AND f.cancelled_at IS NULL AND now() >= f.starts_at
      AND now() < f.ends_at AND f.sold + (SELECT flash_units FROM c) <= f.units
    RETURNING f.id, f.sku_id, f.units, f.sold, f.per_buyer_limit
), counted AS (
    INSERT INTO flash_sale_buyers (sale_id, buyer_id, units) SELECT taken.id, c.buyer_id, c.flash_units FROM taken, c
    ON CONFLICT (sale_id, buyer_id) DO UPDATE SET units = flash_sale_buyers.units + EXCLUDED.units
    WHERE flash_sale_buyers.units + EXCLUDED.units <= (SELECT per_buyer_limit FROM taken)
    RETURNING units
), refusal AS (
    SELECT CASE WHEN c.flash_sale_id IS NULL OR EXISTS (SELECT FROM counted) THEN NULL ELSE flash_sale_refusal((
        SELECT CASE WHEN f.cancelled_at IS NOT NULL OR now() >= f.ends_at THEN 'ended'
                    WHEN now() < f.starts_at THEN 'not_started'
                    WHEN NOT EXISTS (SELECT FROM taken) THEN 'sold_out'
                    ELSE 'limit_reached' END
        FROM flash_sales f WHERE f.id = c.flash_sale_id)) END AS reason
    FROM c
), sku AS (
    SELECT * FROM jsonb_to_recordset($4) AS u(sku_id bigint, quantity int, topic text)
), reserved AS (
    UPDATE skus SET reserved = skus.reserved + sku.quantity
    FROM sku
    WHERE skus.id = sku.sku_id AND skus.id = ANY(ARRAY(SELECT sku_id FROM sku))  -- an index lookup (see above)
    RETURNING skus.id AS sku_id, sku.topic, skus.on_hand, skus.reserved, skus.available
), checkout AS (
    INSERT INTO checkouts (buyer_id, currency, items_total, shipping_total, grand_total, shipping_address, expires_at,
                           discount_total, coupon_id, points_spent)
    SELECT buyer_id, currency, items_total, shipping_total, grand_total, shipping_address,
           now() + make_interval(secs => hold_seconds), discount_total, coupon_id, points_spent
    FROM c
    RETURNING {CHECKOUT_COLUMNS}
), vendor AS (
    SELECT * FROM ROWS FROM (jsonb_to_recordset($2) AS (
        vendor_id bigint, items_total bigint, shipping_total bigint, items int, topic text, vendor_discount bigint,
        platform_discount bigint)) WITH ORDINALITY AS o(vendor_id, items_total, shipping_total, items, topic,
                                                         vendor_discount, platform_discount, n)
), placed AS (
    INSERT INTO orders (checkout_id, buyer_id, vendor_id, currency, items_total, shipping_total, total,
                        vendor_discount, platform_discount)
    SELECT checkout.id, c.buyer_id, vendor.vendor_id, c.currency, vendor.items_total, vendor.shipping_total,
           vendor.items_total + vendor.shipping_total - vendor.vendor_discount - vendor.platform_discount,
           vendor.vendor_discount, vendor.platform_discount
    FROM checkout, c, vendor
    ORDER BY vendor.n
    RETURNING {ORDER_COLUMNS}
), lines AS (
    INSERT INTO order_lines (order_id, sku_id, product_id, title, sku_code, unit_price, quantity, line_total,
                             flash_sale_id, vendor_discount, platform_discount)
    SELECT placed.id, l.sku_id, l.product_id, l.title, l.sku_code, l.unit_price, l.quantity, l.unit_price * l.quantity,
           c.flash_sale_id, l.vendor_discount, l.platform_discount
    FROM ROWS FROM (jsonb_to_recordset($3) AS (
        vendor_id bigint, sku_id bigint, product_id bigint, title text, sku_code text, unit_price bigint, quantity int,
        vendor_discount bigint, platform_discount bigint)) WITH ORDINALITY AS l(vendor_id, sku_id, product_id, title,
                                                                                 sku_code, unit_price, quantity,
                                                                                 vendor_discount, platform_discount, n)
    JOIN placed ON placed.vendor_id = l.vendor_id
    CROSS JOIN c
    ORDER BY l.n
    RETURNING order_id, {LINE_COLUMNS}
), history AS (
    INSERT INTO order_history (order_id, from_status, to_status, actor_id, note)
    SELECT placed.id, NULL, c.status, c.buyer_id, c.note FROM placed, c ORDER BY placed.id
), outbox AS (
    INSERT INTO events (topic, type, payload)
    SELECT e.topic, e.type, e.payload FROM (
        SELECT 1 AS part, r.sku_id AS k, 1 AS sub, r.topic, 'stock.changed' AS type,
               jsonb_build_object('sku_id', r.sku_id, 'on_hand', r.on_hand, 'reserved', r.reserved,
                                  'available', r.available) AS payload
        FROM reserved r
        UNION ALL
        SELECT 0, t.id, 1, c.flash_topic, 'flash_sale.changed',
               jsonb_build_object('sale_id', t.id, 'sku_id', t.sku_id, 'units', t.units, 'sold', t.sold,
                                  'remaining', t.units - t.sold)
        FROM taken t, c
        UNION ALL
        SELECT 2, vendor.n, t.sub, t.topic, 'order.placed',
               jsonb_build_object('order_id', placed.id, 'checkout_id', placed.checkout_id, 'status', c.status,
                                  'total', placed.total, 'currency', c.currency, 'items', vendor.items)
        FROM placed
        JOIN vendor ON vendor.vendor_id = placed.vendor_id
        CROSS JOIN c
        CROSS JOIN LATERAL (VALUES (1, vendor.topic), (2, c.buyer_topic)) AS t(sub, topic)
    ) e
    ORDER BY e.part, e.k, e.sub
), emptied AS (
    DELETE FROM cart_items USING c
    WHERE c.leaves_cart AND cart_items.user_id = c.buyer_id AND cart_items.sku_id IN (SELECT sku_id FROM sku)
)
SELECT (to_jsonb(checkout) || jsonb_build_object('orders', (
           SELECT jsonb_agg(to_jsonb(placed) || jsonb_build_object('lines', (
                      SELECT jsonb_agg(to_jsonb(lines) ORDER BY lines.id) FROM lines WHERE lines.order_id = placed.id))
                  ORDER BY placed.id)
           FROM placed)))::text
FROM checkout CROSS JOIN refusal
"""
# A batch of flash purchases of one sale, each a checkout of one line at the sale price (flash_sales/batch.py):
# PLACE_CHECKOUT's writes for all of them in one statement, so the sale's and the SKU's rows are updated once
# per batch, not once per buyer (updating one row many times in a transaction also walks an ever longer
# chain of its versions). $1 the checkouts (CheckoutRow as jsonb, in batch order), $2 their common line
# (LineRow), $3 the vendor's orders topic, $4 the product's stock topic. Ids are drawn first, so that each
# purchase is matched to its rows by id, not by the order RETURNING happens to give. If the sale or any
# buyer's allowance refuses, `refusal` raises and nothing is written (the caller then goes one by one); so
# does the shelf's CHECK. Events: one flash_sale.changed and one stock.changed for the batch (the crowd's
# pages want the latest figures, not every step), then each order's order.placed for vendor and buyer.
PLACE_FLASH_BATCH = f"""
WITH c AS MATERIALIZED (
    SELECT c.*, nextval(pg_get_serial_sequence('checkouts', 'id')) AS checkout_id,
           nextval(pg_get_serial_sequence('orders', 'id')) AS order_id
    FROM ROWS FROM (jsonb_to_recordset($1) AS (
        buyer_id bigint, currency text, items_total bigint, shipping_total bigint, grand_total bigint,
        shipping_address jsonb, hold_seconds int, status text, note text, buyer_topic text, flash_sale_id bigint,
        flash_units int)) WITH ORDINALITY AS c(buyer_id, currency, items_total, shipping_total, grand_total,
                                               shipping_address, hold_seconds, status, note, buyer_topic,
                                               flash_sale_id, flash_units, n)
), l AS MATERIALIZED (
    SELECT * FROM jsonb_to_record($2) AS l(vendor_id bigint, sku_id bigint, product_id bigint, title text,
                                           sku_code text, unit_price bigint)
), per_buyer AS (
    SELECT buyer_id, sum(flash_units)::int AS units FROM c GROUP BY buyer_id
), taken AS (
    UPDATE flash_sales f SET sold = f.sold + (SELECT sum(units) FROM per_buyer)
    WHERE f.id = (SELECT flash_sale_id FROM c LIMIT 1) AND f.cancelled_at IS NULL AND now() >= f.starts_at
      AND now() < f.ends_at AND f.sold + (SELECT sum(units) FROM per_buyer) <= f.units
    RETURNING f.id, f.sku_id, f.units, f.sold, f.per_buyer_limit
), counted AS (
    INSERT INTO flash_sale_buyers (sale_id, buyer_id, units)
    SELECT taken.id, per_buyer.buyer_id, per_buyer.units FROM taken, per_buyer
    ON CONFLICT (sale_id, buyer_id) DO UPDATE SET units = flash_sale_buyers.units + EXCLUDED.units
    WHERE flash_sale_buyers.units + EXCLUDED.units <= (SELECT per_buyer_limit FROM taken)
    RETURNING buyer_id
), refusal AS (
    SELECT CASE WHEN (SELECT count(*) FROM counted) = (SELECT count(*) FROM per_buyer) THEN NULL
                ELSE flash_sale_refusal('batch') END AS reason
), reserved AS (
    UPDATE skus SET reserved = skus.reserved + (SELECT sum(units) FROM per_buyer)
    WHERE skus.id = (SELECT sku_id FROM l)
    RETURNING skus.id AS sku_id, skus.on_hand, skus.reserved, skus.available
), checkout AS (
    INSERT INTO checkouts (id, buyer_id, currency, items_total, shipping_total, grand_total, shipping_address,
                           expires_at, discount_total, coupon_id, points_spent)
    OVERRIDING SYSTEM VALUE
    SELECT checkout_id, buyer_id, currency, items_total, shipping_total, grand_total, shipping_address,
           now() + make_interval(secs => hold_seconds), 0, NULL, 0
    FROM c ORDER BY n
    RETURNING {CHECKOUT_COLUMNS}
), placed AS (
    INSERT INTO orders (id, checkout_id, buyer_id, vendor_id, currency, items_total, shipping_total, total,
                        vendor_discount, platform_discount)
    OVERRIDING SYSTEM VALUE
    SELECT c.order_id, c.checkout_id, c.buyer_id, l.vendor_id, c.currency, c.items_total, c.shipping_total,
           c.items_total + c.shipping_total, 0, 0
    FROM c, l ORDER BY c.n
    RETURNING {ORDER_COLUMNS}
), lines AS (
    INSERT INTO order_lines (order_id, sku_id, product_id, title, sku_code, unit_price, quantity, line_total,
                             flash_sale_id, vendor_discount, platform_discount)
    SELECT c.order_id, l.sku_id, l.product_id, l.title, l.sku_code, l.unit_price, c.flash_units,
           l.unit_price * c.flash_units, c.flash_sale_id, 0, 0
    FROM c, l ORDER BY c.n
    RETURNING order_id, {LINE_COLUMNS}
), history AS (
    INSERT INTO order_history (order_id, from_status, to_status, actor_id, note)
    SELECT order_id, NULL, status, buyer_id, note FROM c ORDER BY n
), outbox AS (
    INSERT INTO events (topic, type, payload)
    SELECT e.topic, e.type, e.payload FROM (
        SELECT 0 AS n, 0 AS sub, $4::text AS topic, 'flash_sale.changed' AS type,
               jsonb_build_object('sale_id', t.id, 'sku_id', t.sku_id, 'units', t.units, 'sold', t.sold,
                                  'remaining', t.units - t.sold) AS payload
        FROM taken t
        UNION ALL
        SELECT 0, 1, $4::text, 'stock.changed',
               jsonb_build_object('sku_id', r.sku_id, 'on_hand', r.on_hand, 'reserved', r.reserved,
                                  'available', r.available)
        FROM reserved r
        UNION ALL
        SELECT c.n, t.sub, t.topic, 'order.placed',
               jsonb_build_object('order_id', c.order_id, 'checkout_id', c.checkout_id, 'status', c.status,
                                  'total', c.items_total + c.shipping_total, 'currency', c.currency,
                                  'items', c.flash_units)
        FROM c CROSS JOIN LATERAL (VALUES (1, $3::text), (2, c.buyer_topic)) AS t(sub, topic)
    ) e
    ORDER BY e.n, e.sub
)
SELECT (to_jsonb(checkout) || jsonb_build_object('orders', jsonb_build_array(
           to_jsonb(placed) || jsonb_build_object('lines', jsonb_build_array(to_jsonb(lines))))))::text
FROM c
JOIN checkout ON checkout.id = c.checkout_id
JOIN placed ON placed.id = c.order_id
JOIN lines ON lines.order_id = c.order_id
CROSS JOIN refusal
ORDER BY c.n
"""
INSERT_HISTORY = """
INSERT INTO order_history (order_id, from_status, to_status, actor_id, note) VALUES ($1, $2, $3, $4, $5)
"""

# Reading
GET_CHECKOUT = f"SELECT {CHECKOUT_COLUMNS}, buyer_id FROM checkouts WHERE id = $1"
ORDERS_OF_CHECKOUT = f"SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_id = $1 ORDER BY id"
LINES_OF_ORDERS = f"SELECT order_id, {LINE_COLUMNS} FROM order_lines WHERE order_id = ANY($1::bigint[]) ORDER BY id"
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
# One order as its buyer or vendor reads it, with where it ships and whether its vendor may still read that:
# while the order is open, and after it completed for the after-sales window ($2 days), when a return or a
# replacement may still need it.
GET_ORDER = f"""
SELECT o.*, c.shipping_address,
       o.status IN ('pending_payment', 'paid', 'accepted', 'shipped', 'delivered')
       OR (o.status = 'completed' AND o.updated_at > now() - make_interval(days => $2)) AS vendor_may_read
FROM (SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1) o JOIN checkouts c ON c.id = o.checkout_id
"""
ORDER_HISTORY = """
SELECT from_status, to_status, actor_id, note, at FROM order_history WHERE order_id = $1 ORDER BY id
"""
# The addresses a shop's accepted orders ($2) ship to: what the vendor console shows beside each to pack.
SHIP_TO_ACCEPTED = """
SELECT o.id, c.shipping_address FROM orders o JOIN checkouts c ON c.id = o.checkout_id
WHERE o.vendor_id = $1 AND o.id = ANY($2::bigint[]) AND o.status = 'accepted'
"""

# Expiry sweeper: SKIP LOCKED lets every worker sweep without two taking the same checkout.
EXPIRED_CHECKOUTS = """
SELECT id, buyer_id, status FROM checkouts
WHERE status = 'pending_payment' AND expires_at < now()
ORDER BY expires_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""
RESERVED_LINES_OF_CHECKOUTS = """
SELECT l.sku_id, sum(l.quantity)::int AS quantity
FROM order_lines l JOIN orders o ON o.id = l.order_id
WHERE o.checkout_id = ANY($1::bigint[]) AND o.status = 'pending_payment'
GROUP BY l.sku_id ORDER BY l.sku_id
"""
UNPAID_ORDERS_OF_CHECKOUTS = """
SELECT array_agg(id) FROM orders WHERE checkout_id = ANY($1::bigint[]) AND status = 'pending_payment'
"""
# Delivered orders the buyer never confirmed complete on their own after a while.
DUE_FOR_COMPLETION = f"""
SELECT {ORDER_COLUMNS} FROM orders
WHERE status = 'delivered' AND updated_at < now() - make_interval(days => $1)
ORDER BY id LIMIT $2
FOR UPDATE SKIP LOCKED
"""

# Moves (actions.py): the caller has locked the orders and checked the move; $2 is each order's status before.
# Confirmed orders are the ones to be paid in cash on delivery, so the move there marks them so.
MOVE_ORDERS = """
WITH moved AS (
    UPDATE orders o SET status = $3, updated_at = now(), cash_on_delivery = o.cash_on_delivery OR $3 = 'confirmed',
        carrier = COALESCE($4, o.carrier), tracking_number = COALESCE($5, o.tracking_number),
        estimated_arrival = COALESCE($6, o.estimated_arrival), cancel_reason = COALESCE($7, o.cancel_reason)
    FROM unnest($1::bigint[], $2::text[], $10::text[], $11::text[]) AS m(id, previous, vendor_topic, buyer_topic)
    WHERE o.id = m.id
    RETURNING o.id, o.checkout_id, o.total, o.currency, o.cancel_reason, o.carrier, o.tracking_number, m.previous,
              m.vendor_topic, m.buyer_topic
), history AS (
    INSERT INTO order_history (order_id, from_status, to_status, actor_id, note)
    SELECT id, previous, $3, $8, $9 FROM moved ORDER BY id
)
INSERT INTO events (topic, type, payload)
SELECT t.topic, 'order.' || $3,
       jsonb_build_object('order_id', m.id, 'checkout_id', m.checkout_id, 'status', $3::text, 'previous', m.previous,
                          'total', m.total, 'currency', m.currency, 'reason', m.cancel_reason, 'carrier', m.carrier,
                          'tracking_number', m.tracking_number)
FROM moved m CROSS JOIN LATERAL (VALUES (1, m.vendor_topic), (2, m.buyer_topic)) AS t(sub, topic)
ORDER BY m.id, t.sub
"""
ORDER_FOR_UPDATE = f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE"
ORDERS_OF_CHECKOUT_IN_STATUS_FOR_UPDATE = f"""
SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_id = $1 AND status = $2 ORDER BY id FOR UPDATE
"""
SET_CHECKOUT_STATUS = """
UPDATE checkouts SET status = $2, paid_at = CASE WHEN $2 = 'paid' THEN now() ELSE paid_at END WHERE id = $1
"""
LINES_OF_ORDER = "SELECT sku_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY sku_id"
OPEN_ORDERS_OF_CHECKOUT = "SELECT count(*) FROM orders WHERE checkout_id = $1 AND status <> 'cancelled'"
CHECKOUT_STATUS = "SELECT status FROM checkouts WHERE id = $1"

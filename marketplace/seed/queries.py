"""All SQL of the seed."""

# Everything the seed writes; CASCADE also empties tables later migrations hang off these.
RESET = """
TRUNCATE users, refresh_tokens, addresses, vendor_applications, vendors, categories, products, skus,
         stock_movements, product_images, interactions, events, audit_log, demo_buyer_tastes, payment_callbacks
RESTART IDENTITY CASCADE
"""
HAS_PRODUCTS = "SELECT EXISTS (SELECT 1 FROM products)"
# The demo's promotions: a welcome code for everyone, and the first shop's automatic discount on its own
# goods for a month; completed orders have earned their buyers points.
DEMO_COUPONS = """
INSERT INTO coupons (code, name, kind, audience, scope, scope_ids, percent_bp, max_discount, vendor_id, starts_at,
                     ends_at, per_buyer_limit)
VALUES ('WELCOME10', '10% off your order, up to 20.00', 'percent', 'code', 'platform', '{}', 1000, 2000, NULL,
        now(), now() + interval '1 year', 1),
       (NULL, '5% off everything in our shop this month', 'percent', 'automatic', 'vendor', ARRAY[$1::bigint], 500,
        NULL, $1, now(), now() + interval '30 days', 1000)
"""
DEMO_POINTS = """
INSERT INTO loyalty_ledger (user_id, delta, kind, order_id, created_at)
SELECT buyer_id, (items_total / 100)::int, 'earned', id, updated_at FROM orders
WHERE status = 'completed' AND items_total >= 100
"""
# The demo's marketer (its login printed by `serve --demo`), and a platform coupon issued to chosen buyers only, for
# the campaigns a marketer sends to a segment.
DEMO_MARKETER = """
WITH marketer AS (
    INSERT INTO users (email, password_hash, display_name, roles) VALUES ($1, $2, 'Demo Marketer', '{buyer,marketer}')
    ON CONFLICT DO NOTHING
)
INSERT INTO coupons (code, name, kind, audience, scope, scope_ids, amount_off, min_spend, starts_at, ends_at,
                     per_buyer_limit)
VALUES (NULL, '5.00 off your next order over 30.00', 'threshold', 'issued', 'platform', '{}', 500, 3000, now(),
        now() + interval '90 days', 1)
"""
# The demo's customer-service agent (its login printed by `serve --demo` too).
DEMO_SUPPORT = """
INSERT INTO users (email, password_hash, display_name, roles) VALUES ($1, $2, 'Demo Support', '{buyer,support}')
ON CONFLICT DO NOTHING
"""
# buyer1, whose login `serve --demo` prints, starts with points to spend, so the README's checkout works at once.
DEMO_WELCOME_POINTS = 500
DEMO_WELCOME = """
INSERT INTO loyalty_ledger (user_id, delta, kind, ref)
SELECT id, $2, 'adjusted', 'demo welcome points' FROM users WHERE email = $1
"""
INSERT_CATEGORY = """
INSERT INTO categories (parent_id, name, slug, position, path)
VALUES ($1, $2, $3, $4, COALESCE((SELECT path FROM categories WHERE id = $1), '{}'))
RETURNING id
"""
CATEGORY_PATH_SELF = "UPDATE categories SET path = path || id WHERE id = $1"
# After the orders are in: stock, sales counts and ratings follow from them, as the live code keeps them.
TOTALS_FROM_ORDERS = [
    """
    UPDATE stock_movements m SET on_hand = r.running
    FROM (SELECT id, sum(delta) OVER (PARTITION BY sku_id ORDER BY id) AS running FROM stock_movements) r
    WHERE m.id = r.id AND m.reason = 'sold'
    """,
    """
    UPDATE skus s SET on_hand = t.total
    FROM (SELECT sku_id, sum(delta) AS total FROM stock_movements GROUP BY sku_id) t
    WHERE s.id = t.sku_id AND s.on_hand <> t.total
    """,
    """
    UPDATE products p SET sold_count = t.sold
    FROM (SELECT l.product_id, sum(l.quantity) AS sold FROM order_lines l JOIN orders o ON o.id = l.order_id
          WHERE o.status <> 'cancelled' GROUP BY l.product_id) t
    WHERE p.id = t.product_id
    """,
    "UPDATE products SET rating_avg = NULL, rating_count = 0",
    """
    UPDATE products p SET rating_avg = t.average, rating_count = t.n
    FROM (SELECT product_id, avg(rating) AS average, count(*) AS n FROM reviews GROUP BY product_id) t
    WHERE p.id = t.product_id
    """,
    """
    UPDATE vendors v SET rating_avg = t.average, rating_count = t.n
    FROM (SELECT vendor_id, avg(rating) AS average, count(*) AS n FROM reviews GROUP BY vendor_id) t
    WHERE v.id = t.vendor_id
    """,
]
PRICE_RANGES = """
UPDATE products p SET min_price = s.lo, max_price = s.hi
FROM (SELECT product_id, min(price) lo, max(price) hi FROM skus GROUP BY product_id) s
WHERE p.id = s.product_id
"""
ANALYZE = "ANALYZE"

# asyncpg's COPY is binary and has no citext encoder, so users go through a text staging table.
USERS_STAGING = """
CREATE TEMP TABLE seed_users (
    ord integer, email text, password_hash text, display_name text, roles text[], created_at timestamptz
) ON COMMIT DROP
"""
USERS_FROM_STAGING = """
INSERT INTO users (email, password_hash, display_name, roles, created_at)
SELECT email, password_hash, display_name, roles, created_at FROM seed_users ORDER BY ord
"""

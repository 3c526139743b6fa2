"""All SQL of the seed."""

# Everything the seed writes; CASCADE also empties tables later migrations hang off these.
RESET = """
TRUNCATE users, refresh_tokens, addresses, vendor_applications, vendors, categories, products, skus,
         stock_movements, product_images, interactions, events, audit_log, demo_buyer_tastes, payment_callbacks
RESTART IDENTITY CASCADE
"""
HAS_PRODUCTS = "SELECT EXISTS (SELECT 1 FROM products)"
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

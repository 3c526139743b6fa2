"""All SQL of the seed."""

# Everything the seed writes; CASCADE also empties tables later migrations hang off these.
RESET = """
TRUNCATE users, refresh_tokens, addresses, vendor_applications, vendors, categories, products, skus,
         stock_movements, product_images, interactions, events, audit_log, demo_buyer_tastes
RESTART IDENTITY CASCADE
"""
HAS_PRODUCTS = "SELECT EXISTS (SELECT 1 FROM products)"
INSERT_CATEGORY = """
INSERT INTO categories (parent_id, name, slug, position, path)
VALUES ($1, $2, $3, $4, COALESCE((SELECT path FROM categories WHERE id = $1), '{}'))
RETURNING id
"""
CATEGORY_PATH_SELF = "UPDATE categories SET path = path || id WHERE id = $1"
MAX_ID = {
    "users": "SELECT max(id) FROM users",
    "vendors": "SELECT max(id) FROM vendors",
    "products": "SELECT max(id) FROM products",
    "skus": "SELECT max(id) FROM skus",
}
SET_SALES = """
UPDATE products p SET sold_count = s.sold, rating_count = s.reviews
FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS s(id, sold, reviews)
WHERE p.id = s.id
"""
NO_RATING_WITHOUT_REVIEWS = "UPDATE products SET rating_avg = NULL WHERE rating_count = 0"
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

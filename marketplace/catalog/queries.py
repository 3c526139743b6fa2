"""All SQL of the catalog domain."""

# Categories
CATEGORY_COLUMNS = "id, parent_id, name, slug, path, position"
ALL_CATEGORIES = f"SELECT {CATEGORY_COLUMNS} FROM categories ORDER BY position, name, id"
GET_CATEGORY = f"SELECT {CATEGORY_COLUMNS} FROM categories WHERE id = $1"
INSERT_CATEGORY = f"""
INSERT INTO categories (parent_id, name, slug, position, path)
VALUES ($1, $2, $3, $4, COALESCE((SELECT path FROM categories WHERE id = $1), '{{}}'))
RETURNING {CATEGORY_COLUMNS}
"""
# The new row's own id is only known after the insert.
APPEND_OWN_ID_TO_PATH = f"UPDATE categories SET path = path || id WHERE id = $1 RETURNING {CATEGORY_COLUMNS}"
UPDATE_CATEGORY = f"""
UPDATE categories SET name = COALESCE($2, name), position = COALESCE($3, position)
WHERE id = $1 RETURNING {CATEGORY_COLUMNS}
"""
CATEGORY_IN_USE = """
SELECT EXISTS (SELECT 1 FROM categories WHERE parent_id = $1)
    OR EXISTS (SELECT 1 FROM products WHERE category_id = $1)
"""
DELETE_CATEGORY = "DELETE FROM categories WHERE id = $1 RETURNING id"

# Products
PRODUCT_COLUMNS = """id, vendor_id, category_id, title, brand, model, description, attributes, status,
takedown_reason, currency, min_price, max_price, created_at, updated_at"""

INSERT_PRODUCT = """
INSERT INTO products (vendor_id, category_id, title, brand, model, description, attributes, currency)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id
"""
GET_PRODUCT = f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"
# Vendor-scoped: another vendor's product id is simply not found.
OWN_PRODUCT_FOR_UPDATE = f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1 AND vendor_id = $2 FOR UPDATE"
PRODUCT_FOR_UPDATE = f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1 FOR UPDATE"
LIST_VENDOR_PRODUCTS = f"""
SELECT {PRODUCT_COLUMNS} FROM products
WHERE vendor_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $4
"""
UPDATE_PRODUCT = """
UPDATE products SET
    category_id = COALESCE($2, category_id), title = COALESCE($3, title), brand = COALESCE($4, brand),
    model = COALESCE($5, model), description = COALESCE($6, description),
    attributes = COALESCE($7, attributes), updated_at = now()
WHERE id = $1
"""
# The listing-review queue, oldest first (keyset on id ascending).
LIST_PENDING_REVIEW = f"""
SELECT {PRODUCT_COLUMNS} FROM products WHERE status = 'pending_review' AND ($1::bigint IS NULL OR id > $1)
ORDER BY id LIMIT $2
"""
SET_PRODUCT_STATUS = """
UPDATE products SET status = $2, takedown_reason = $3, updated_at = now() WHERE id = $1
"""
REFRESH_PRICE_RANGE = """
UPDATE products p SET min_price = s.lo, max_price = s.hi, updated_at = now()
FROM (SELECT min(price) AS lo, max(price) AS hi FROM skus WHERE product_id = $1) s
WHERE p.id = $1
"""

# SKUs
SKU_COLUMNS = "id, code, attributes, price, on_hand, reserved, available, low_stock_threshold"
SKUS_OF_PRODUCT = f"SELECT {SKU_COLUMNS} FROM skus WHERE product_id = $1 ORDER BY id"
SKUS_OF_PRODUCTS = f"SELECT product_id, {SKU_COLUMNS} FROM skus WHERE product_id = ANY($1) ORDER BY id"
INSERT_SKU = f"""
INSERT INTO skus (product_id, code, attributes, price, on_hand, low_stock_threshold)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {SKU_COLUMNS}
"""
SKU_OF_PRODUCT_FOR_UPDATE = f"SELECT {SKU_COLUMNS} FROM skus WHERE id = $1 AND product_id = $2 FOR UPDATE"
UPDATE_SKU = f"""
UPDATE skus SET price = COALESCE($2, price), attributes = COALESCE($3, attributes),
    low_stock_threshold = COALESCE($4, low_stock_threshold)
WHERE id = $1
RETURNING {SKU_COLUMNS}
"""

# Images
IMAGE_COLUMNS = "id, file_name, content_type, width, height"
IMAGES_OF_PRODUCT = f"SELECT {IMAGE_COLUMNS} FROM product_images WHERE product_id = $1 ORDER BY position, id"
IMAGES_OF_PRODUCTS = f"""
SELECT product_id, {IMAGE_COLUMNS} FROM product_images WHERE product_id = ANY($1) ORDER BY position, id
"""
COUNT_IMAGES = "SELECT count(*) FROM product_images WHERE product_id = $1"
INSERT_IMAGE = f"""
INSERT INTO product_images (product_id, file_name, content_type, width, height, bytes, position)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {IMAGE_COLUMNS}
"""
DELETE_IMAGE = "DELETE FROM product_images WHERE id = $1 AND product_id = $2 RETURNING file_name"
IMAGE_BY_FILE = "SELECT content_type FROM product_images WHERE file_name = $1 LIMIT 1"

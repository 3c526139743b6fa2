"""All SQL of the inventory domain."""

STOCK_COLUMNS = """s.id AS sku_id, s.product_id, s.code, p.title, s.on_hand, s.reserved, s.available,
s.low_stock_threshold, s.available <= s.low_stock_threshold AS low"""

# Ownership and row lock in one statement: another vendor's SKU is simply not found.
OWN_SKU_FOR_UPDATE = f"""
SELECT {STOCK_COLUMNS}, p.vendor_id
FROM skus s JOIN products p ON p.id = s.product_id
WHERE s.id = $1 AND p.vendor_id = $2
FOR UPDATE OF s
"""

# The WHERE keeps on_hand from going below what checkouts have reserved.
SET_ON_HAND = """
UPDATE skus SET on_hand = $2, low_stock_threshold = COALESCE($3, low_stock_threshold)
WHERE id = $1 AND $2 >= reserved
RETURNING product_id, on_hand, reserved, available, low_stock_threshold
"""

INSERT_MOVEMENT = """
INSERT INTO stock_movements (sku_id, delta, on_hand, reason, actor_id, order_id) VALUES ($1, $2, $3, $4, $5, $6)
"""

# Units arriving or leaving the shelf outside a vendor's count (returns, cancelled paid orders, exchange
# replacements); never below what checkouts hold.
MOVE_ON_HAND = """
UPDATE skus SET on_hand = on_hand + $2 WHERE id = $1 AND on_hand + $2 >= reserved
RETURNING product_id, on_hand, reserved, available
"""

# An unpaid checkout's hold ends: the units are available again.
RELEASE_RESERVED = """
UPDATE skus SET reserved = reserved - $2 WHERE id = $1
RETURNING product_id, on_hand, reserved, available
"""

LIST_STOCK = f"""
SELECT {STOCK_COLUMNS}
FROM skus s JOIN products p ON p.id = s.product_id
WHERE p.vendor_id = $1 AND ($2::bool IS NOT TRUE OR s.available <= s.low_stock_threshold)
  AND ($3::bigint IS NULL OR s.id < $3)
ORDER BY s.id DESC
LIMIT $4
"""

OWN_SKU = "SELECT 1 FROM skus s JOIN products p ON p.id = s.product_id WHERE s.id = $1 AND p.vendor_id = $2"
# Of a SKU found with OWN_SKU first.
MOVEMENTS_OF_SKU = """
SELECT id, delta, on_hand, reason, actor_id, created_at FROM stock_movements
WHERE sku_id = $1 ORDER BY id DESC LIMIT 100
"""

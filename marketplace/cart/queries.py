"""All SQL of the cart."""

CART_LINES = """
SELECT c.sku_id, s.product_id, p.vendor_id, v.shop_name AS vendor_name, p.title, s.code AS sku_code,
       s.attributes, s.price AS unit_price, c.quantity, s.available, p.currency,
       (p.status = 'listed' AND v.status = 'active') AS visible
FROM cart_items c
JOIN skus s ON s.id = c.sku_id
JOIN products p ON p.id = s.product_id
JOIN vendors v ON v.id = p.vendor_id
WHERE c.user_id = $1
ORDER BY p.vendor_id, c.added_at, c.sku_id
"""

# Putting a SKU in the cart, in one statement: is it for sale, would it mix currencies, how many lines the
# cart holds already, and (only when all of that allows it) the upsert. The row tells the caller which rule
# refused; no row means the SKU is not for sale.
SET_LINE = """
WITH sku AS (
    SELECT s.id, s.product_id, p.currency,
           EXISTS (SELECT 1 FROM cart_items c JOIN skus cs ON cs.id = c.sku_id
                   JOIN products cp ON cp.id = cs.product_id
                   WHERE c.user_id = $2 AND c.sku_id <> $1 AND cp.currency <> p.currency) AS other_currency,
           (SELECT count(*) FROM cart_items WHERE user_id = $2) AS lines
    FROM skus s JOIN products p ON p.id = s.product_id JOIN vendors v ON v.id = p.vendor_id
    WHERE s.id = $1 AND p.status = 'listed' AND v.status = 'active'
), upsert AS (
    INSERT INTO cart_items (user_id, sku_id, quantity)
    SELECT $2, sku.id, $3 FROM sku WHERE NOT sku.other_currency AND sku.lines < $4
    ON CONFLICT (user_id, sku_id) DO UPDATE SET quantity = EXCLUDED.quantity
)
SELECT product_id, other_currency, lines FROM sku
"""
DELETE_LINE = "DELETE FROM cart_items WHERE user_id = $1 AND sku_id = $2 RETURNING sku_id"
CLEAR = "DELETE FROM cart_items WHERE user_id = $1"

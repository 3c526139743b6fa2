"""All SQL of the cart."""

# A cart line as the API shows it, priced now (`c` is the cart's rows: sku_id, quantity, added_at).
_LINE = """
SELECT c.sku_id, s.product_id, p.vendor_id, v.shop_name AS vendor_name, p.title, s.code AS sku_code,
       s.attributes, s.price AS unit_price, c.quantity, s.available, p.currency, c.added_at,
       (p.status = 'listed' AND v.status = 'active') AS visible
FROM {cart} c
JOIN skus s ON s.id = c.sku_id
JOIN products p ON p.id = s.product_id
JOIN vendors v ON v.id = p.vendor_id
"""
_ORDER = "ORDER BY vendor_id, added_at, sku_id"

CART_LINES = _LINE.format(cart="cart_items") + " WHERE c.user_id = $1 " + _ORDER

# Putting a SKU in the cart, in one statement: is it for sale, would it mix currencies, how many lines the
# cart holds already, (only when all of that allows it) the upsert, and the cart as it is then: the other
# lines as read plus the one written (the statement's reads do not see its own write). Every row repeats
# what the rules found, so the caller knows which one refused; no row means the SKU is not for sale.
SET_LINE = f"""
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
    RETURNING sku_id, quantity, added_at
), cart AS (
    SELECT sku_id, quantity, added_at FROM cart_items WHERE user_id = $2 AND sku_id <> $1
      AND EXISTS (SELECT 1 FROM upsert)
    UNION ALL
    SELECT sku_id, quantity, added_at FROM upsert
)
SELECT sku.product_id AS set_product_id, sku.other_currency, sku.lines, line.*
FROM sku LEFT JOIN ({_LINE.format(cart="cart")}) line ON true
{_ORDER}
"""
DELETE_LINE = "DELETE FROM cart_items WHERE user_id = $1 AND sku_id = $2 RETURNING sku_id"
CLEAR = "DELETE FROM cart_items WHERE user_id = $1"

"""All SQL of flash sales."""

SKU_FOR_SALE = """
SELECT s.id, s.product_id, s.price, s.available, p.vendor_id, p.status = 'listed' AND v.status = 'active' AS visible
FROM skus s JOIN products p ON p.id = s.product_id JOIN vendors v ON v.id = p.vendor_id
WHERE s.id = $1
"""
INSERT_SALE = """
INSERT INTO flash_sales (sku_id, product_id, vendor_id, sale_price, units, per_buyer_limit, starts_at, ends_at,
                         created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id
"""
_SALE = """
SELECT f.id, f.sku_id, f.product_id, f.vendor_id, p.title, s.code AS sku_code, p.currency, s.price AS list_price,
       f.sale_price, f.units, f.sold, f.per_buyer_limit, f.starts_at, f.ends_at, f.cancelled_at, now() AS now
FROM flash_sales f JOIN skus s ON s.id = f.sku_id JOIN products p ON p.id = f.product_id
"""
GET_SALE = _SALE + "WHERE f.id = $1"
# Buyers see sales of listed products of active shops, as they see product pages; others are not found.
_PUBLIC = _SALE + "JOIN vendors v ON v.id = f.vendor_id WHERE p.status = 'listed' AND v.status = 'active'\n"
PUBLIC_SALE = _PUBLIC + "AND f.id = $1"
# Live and coming ones by default.
PUBLIC_SALES = (
    _PUBLIC
    + """AND f.cancelled_at IS NULL
  AND CASE $1::text
      WHEN 'live' THEN now() >= f.starts_at AND now() < f.ends_at
      WHEN 'scheduled' THEN now() < f.starts_at
      WHEN 'ended' THEN now() >= f.ends_at
      ELSE now() < f.ends_at END
  AND ($2::bigint IS NULL OR f.product_id = $2) AND ($3::bigint IS NULL OR f.id < $3)
ORDER BY f.id DESC LIMIT $4
"""
)
VENDOR_SALES = _SALE + "WHERE f.vendor_id = $1 AND ($2::bigint IS NULL OR f.id < $2) ORDER BY f.id DESC LIMIT $3"
CANCEL_SALE = """
UPDATE flash_sales SET cancelled_at = now()
WHERE id = $1 AND cancelled_at IS NULL AND ends_at > now()
RETURNING id
"""

# Cancelled orders give their flash-sale units back to the sale and to the buyer's allowance.
RETURN_UNITS = """
WITH lines AS (
    SELECT l.flash_sale_id AS sale_id, o.buyer_id, sum(l.quantity)::int AS quantity
    FROM order_lines l JOIN orders o ON o.id = l.order_id
    WHERE l.order_id = ANY($1::bigint[]) AND l.flash_sale_id IS NOT NULL
    GROUP BY 1, 2
), sales AS (
    UPDATE flash_sales f SET sold = f.sold - t.quantity
    FROM (SELECT sale_id, sum(quantity)::int AS quantity FROM lines GROUP BY 1) t
    WHERE f.id = t.sale_id
    RETURNING f.id, f.sku_id, f.product_id, f.units, f.sold
), buyers AS (
    UPDATE flash_sale_buyers b SET units = b.units - lines.quantity
    FROM lines WHERE b.sale_id = lines.sale_id AND b.buyer_id = lines.buyer_id
)
SELECT id, sku_id, product_id, units, sold FROM sales ORDER BY id
"""

# The gate's copy of the truth.
SALE_FOR_GATE = "SELECT units, sold, per_buyer_limit, starts_at, ends_at, cancelled_at FROM flash_sales WHERE id = $1"
SALE_BUYERS = "SELECT buyer_id, units FROM flash_sale_buyers WHERE sale_id = $1 AND units > 0"
CURRENT_SALES = """
SELECT id, units, sold FROM flash_sales WHERE cancelled_at IS NULL AND ends_at > now() ORDER BY id
"""

"""SQL fragments of what buyers may see, public on purpose: another package that lists products to buyers (the
recommender) filters and shapes its rows with them, so a card is the same everywhere and a rule of visibility
changes in one place. They expect `products p JOIN vendors v ON v.id = p.vendor_id`. The rest of search's SQL
(queries.py) is its own."""

# Listed, from an active shop.
VISIBLE = "p.status = 'listed' AND v.status = 'active'"
IN_STOCK = "EXISTS (SELECT 1 FROM skus s WHERE s.product_id = p.id AND s.available > 0)"

# A product card's columns (`search.service.card` turns such a row into a ProductCard).
CARD_FIELDS = f"""p.id, p.title, p.brand, p.vendor_id, v.shop_name AS vendor_name, p.category_id, p.currency,
p.min_price, p.max_price, {IN_STOCK} AS in_stock, p.sold_count, p.rating_avg::float8 AS rating_avg,
p.rating_count, p.created_at,
(SELECT i.file_name FROM product_images i WHERE i.product_id = p.id ORDER BY i.position, i.id LIMIT 1)
    AS image_file"""

"""All SQL of the recommender's serving and training."""

from marketplace.search.fragments import CARD_FIELDS, IN_STOCK, VISIBLE

# Cards for ranked product ids, keeping only what a buyer may buy now: listed, in stock, from an active shop,
# and not already bought by this buyer ($2; 0 for nobody).
CARDS = f"""
SELECT {CARD_FIELDS}
FROM unnest($1::bigint[]) WITH ORDINALITY AS r(id, rank)
JOIN products p ON p.id = r.id JOIN vendors v ON v.id = p.vendor_id
WHERE {VISIBLE} AND {IN_STOCK}
  AND NOT EXISTS (SELECT 1 FROM order_lines l JOIN orders o ON o.id = l.order_id
                  WHERE o.buyer_id = $2 AND l.product_id = p.id AND o.status <> 'cancelled')
ORDER BY r.rank
"""
BEST_SELLING = f"""
SELECT p.id FROM products p JOIN vendors v ON v.id = p.vendor_id
WHERE {VISIBLE} AND ($1::bigint IS NULL OR p.category_id IN (SELECT id FROM categories WHERE $1 = ANY(path)))
ORDER BY p.sold_count DESC, p.id DESC LIMIT $2
"""
LAST_INTERACTION = "SELECT coalesce(max(id), 0) FROM interactions"
NEW_INTERACTIONS = """
SELECT id, user_id, product_id, kind, occurred_at FROM interactions
WHERE id > $1 AND user_id IS NOT NULL AND product_id IS NOT NULL AND kind IN ('view', 'cart')
ORDER BY id LIMIT $2
"""
PRODUCT_CATEGORY = "SELECT category_id FROM products WHERE id = $1"
PRODUCT_CATEGORY_PATHS = "SELECT p.id, c.path FROM products p JOIN categories c ON c.id = p.category_id"
# Each listed product's text for the content model (recommender/content.py): title, brand, model, category,
# the product's and its SKUs' attribute values, and the start of its description.
PRODUCT_TEXTS = """
SELECT p.id, concat_ws(' ', p.title, p.brand, p.model, c.name,
         (SELECT string_agg(a.value, ' ') FROM jsonb_each_text(p.attributes) a),
         (SELECT string_agg(DISTINCT a.value, ' ') FROM skus s, jsonb_each_text(s.attributes) a
          WHERE s.product_id = p.id),
         left(p.description, 500)) AS text
FROM products p JOIN categories c ON c.id = p.category_id
WHERE p.status = 'listed'
ORDER BY p.id
"""

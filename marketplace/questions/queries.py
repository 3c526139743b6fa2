"""All SQL of pre-sale questions. Every statement a shop runs is scoped by its vendor id and every statement a
buyer runs by their user id, so another's question is simply not found."""

# A question can be asked only about a product anyone can see: listed, by an active shop.
ASKABLE_PRODUCT = """
SELECT p.id, p.vendor_id, p.title, v.user_id AS vendor_user_id
FROM products p JOIN vendors v ON v.id = p.vendor_id
WHERE p.id = $1 AND p.status = 'listed' AND v.status = 'active'
"""
INSERT_QUESTION = """
INSERT INTO product_questions (product_id, vendor_id, buyer_id, body) VALUES ($1, $2, $3, $4)
RETURNING id
"""

COLUMNS = """q.id, q.product_id, p.title AS product_title, q.body, q.answer, q.answered_at, q.is_public,
q.created_at"""
# The asker is shown to the shop by display name only, as on its orders.
VENDOR_COLUMNS = f"""{COLUMNS}, q.buyer_id, coalesce(nullif(u.display_name, ''), 'A buyer') AS buyer_name"""

GET_QUESTION = f"SELECT {COLUMNS} FROM product_questions q JOIN products p ON p.id = q.product_id WHERE q.id = $1"
BUYER_QUESTION = f"""
SELECT {COLUMNS} FROM product_questions q JOIN products p ON p.id = q.product_id
WHERE q.id = $1 AND q.buyer_id = $2
"""
BUYER_QUESTIONS = f"""
SELECT {COLUMNS} FROM product_questions q JOIN products p ON p.id = q.product_id
WHERE q.buyer_id = $1 AND ($2::bigint IS NULL OR q.product_id = $2) AND ($3::bigint IS NULL OR q.id < $3)
ORDER BY q.id DESC LIMIT $4
"""
# Public Q&A: answered, made public by the shop, of a product still on sale.
PUBLIC_QUESTIONS = f"""
SELECT {COLUMNS} FROM product_questions q
JOIN products p ON p.id = q.product_id JOIN vendors v ON v.id = p.vendor_id
WHERE q.product_id = $1 AND q.is_public AND p.status = 'listed' AND v.status = 'active'
  AND ($2::bigint IS NULL OR q.id < $2)
ORDER BY q.id DESC LIMIT $3
"""

VENDOR_QUESTION = f"""
SELECT {VENDOR_COLUMNS}
FROM product_questions q JOIN products p ON p.id = q.product_id JOIN users u ON u.id = q.buyer_id
WHERE q.id = $1 AND q.vendor_id = $2
"""
VENDOR_QUESTIONS = f"""
SELECT {VENDOR_COLUMNS}
FROM product_questions q JOIN products p ON p.id = q.product_id JOIN users u ON u.id = q.buyer_id
WHERE q.vendor_id = $1 AND ($2::boolean IS NULL OR (q.answer IS NOT NULL) = $2)
  AND ($3::bigint IS NULL OR q.product_id = $3) AND ($4::bigint IS NULL OR q.id < $4)
ORDER BY q.id DESC LIMIT $5
"""
UNANSWERED_COUNT = "SELECT count(*) FROM product_questions WHERE vendor_id = $1 AND answer IS NULL"

# Answered once: of two answers at the same moment the row lock lets one through, the other finds it answered.
ANSWER = """
UPDATE product_questions SET answer = $3, answered_by = $4, answered_at = now(), is_public = $5
WHERE id = $1 AND vendor_id = $2 AND answer IS NULL
RETURNING buyer_id, product_id
"""
SET_PUBLIC = """
UPDATE product_questions SET is_public = $3
WHERE id = $1 AND vendor_id = $2 AND answer IS NOT NULL
RETURNING id
"""
QUESTION_OF_VENDOR = "SELECT answer IS NOT NULL AS answered FROM product_questions WHERE id = $1 AND vendor_id = $2"

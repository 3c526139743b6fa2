"""All SQL of reviews."""

# Reviews need a delivered purchase, so a buyer without a display name is shown as a verified buyer.
REVIEW_COLUMNS = """r.id, r.product_id, r.buyer_id, r.rating, r.body, r.reply, r.replied_at, r.created_at,
coalesce(nullif(u.display_name, ''), 'Verified buyer') AS buyer_name"""

# A review needs a delivered (or completed) order line of this product bought by this buyer.
BOUGHT_AND_DELIVERED = """
SELECT p.vendor_id FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN products p ON p.id = l.product_id
WHERE l.product_id = $1 AND o.buyer_id = $2 AND o.status IN ('delivered', 'completed')
LIMIT 1
"""
INSERT_REVIEW = """
INSERT INTO reviews (product_id, vendor_id, buyer_id, rating, body) VALUES ($1, $2, $3, $4, $5)
RETURNING id
"""
# Running averages, updated in the review's transaction; the row locks serialise concurrent reviews.
RATE_PRODUCT = """
UPDATE products SET rating_avg = (coalesce(rating_avg, 0) * rating_count + $2) / (rating_count + 1),
                    rating_count = rating_count + 1
WHERE id = $1
"""
RATE_VENDOR = """
UPDATE vendors SET rating_avg = (coalesce(rating_avg, 0) * rating_count + $2) / (rating_count + 1),
                   rating_count = rating_count + 1
WHERE id = $1
"""
GET_REVIEW = f"SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.buyer_id WHERE r.id = $1"
PRODUCT_REVIEWS = f"""
SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.buyer_id
JOIN products p ON p.id = r.product_id JOIN vendors v ON v.id = p.vendor_id
WHERE r.product_id = $1 AND p.status = 'listed' AND v.status = 'active' AND ($2::bigint IS NULL OR r.id < $2)
ORDER BY r.id DESC LIMIT $3
"""
VENDOR_REVIEWS = f"""
SELECT {REVIEW_COLUMNS} FROM reviews r JOIN users u ON u.id = r.buyer_id
WHERE r.vendor_id = $1 AND ($2::bigint IS NULL OR r.id < $2)
ORDER BY r.id DESC LIMIT $3
"""
REPLY = """
UPDATE reviews SET reply = $3, replied_at = now() WHERE id = $1 AND vendor_id = $2 AND reply IS NULL
RETURNING id
"""
REVIEW_OF_VENDOR = "SELECT reply FROM reviews WHERE id = $1 AND vendor_id = $2"

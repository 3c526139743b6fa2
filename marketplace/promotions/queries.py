"""All SQL of coupons and loyalty."""

# Every coupon query names the table `c`.
COUPON_COLUMNS = """c.id, c.code::text, c.name, c.kind, c.audience, c.scope, c.scope_ids, c.amount_off, c.percent_bp,
c.max_discount, c.min_spend, c.buy_quantity, c.free_quantity, c.min_tier, c.vendor_id, c.starts_at, c.ends_at,
c.total_limit, c.per_buyer_limit, c.redeemed, c.disabled_at, c.created_at"""
INSERT_COUPON = f"""
INSERT INTO coupons AS c (code, name, kind, audience, scope, scope_ids, amount_off, percent_bp, max_discount, min_spend,
                     buy_quantity, free_quantity, min_tier, vendor_id, starts_at, ends_at, total_limit, per_buyer_limit,
                     created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
RETURNING {COUPON_COLUMNS}
"""
GET_COUPON = f"SELECT {COUPON_COLUMNS} FROM coupons c WHERE c.id = $1"
# One funder's coupons: a shop's ($1), or the platform's (NULL).
COUPONS = f"""
SELECT {COUPON_COLUMNS} FROM coupons c
WHERE (c.vendor_id = $1 OR ($1::bigint IS NULL AND c.vendor_id IS NULL)) AND ($2::bigint IS NULL OR c.id < $2)
ORDER BY c.id DESC LIMIT $3
"""
DISABLE_COUPON = f"""
UPDATE coupons c SET disabled_at = now() WHERE c.id = $1 AND c.disabled_at IS NULL RETURNING {COUPON_COLUMNS}
"""
COUPON_BY_CODE = f"SELECT {COUPON_COLUMNS} FROM coupons c WHERE c.code = $1::citext"
OWNED_PRODUCTS = "SELECT count(*) FROM products WHERE id = ANY($1::bigint[]) AND vendor_id = $2"
CATEGORIES_EXIST = "SELECT count(*) FROM categories WHERE id = ANY($1::bigint[])"
VENDORS_EXIST = "SELECT count(*) FROM vendors WHERE id = ANY($1::bigint[])"
PRODUCTS_EXIST = "SELECT count(*) FROM products WHERE id = ANY($1::bigint[])"
GRANT = "INSERT INTO coupon_grants (coupon_id, buyer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING buyer_id"
GRANT_MANY = """
INSERT INTO coupon_grants (coupon_id, buyer_id)
SELECT $1, u.id FROM users u WHERE u.id = ANY($2::bigint[]) AND u.status = 'active'
ON CONFLICT DO NOTHING
RETURNING buyer_id
"""
WALLET = f"""
SELECT {COUPON_COLUMNS},
       (SELECT count(*) FROM coupon_redemptions r
        WHERE r.coupon_id = c.id AND r.buyer_id = $1 AND r.status = 'held')::int AS times_used
FROM coupon_grants g JOIN coupons c ON c.id = g.coupon_id
WHERE g.buyer_id = $1
ORDER BY c.ends_at
"""

# Checkout: the coupon to apply (the code given, else every automatic one running), with the buyer's uses.
# The cart's row lock serialises one buyer's checkouts, so counting their uses here is safe.
CHECKOUT_COUPONS = f"""
SELECT {COUPON_COLUMNS},
       (SELECT count(*) FROM coupon_redemptions r
        WHERE r.coupon_id = c.id AND r.buyer_id = $2 AND r.status = 'held')::int AS times_used,
       EXISTS (SELECT 1 FROM coupon_grants g WHERE g.coupon_id = c.id AND g.buyer_id = $2) AS granted
FROM coupons c
WHERE (CASE WHEN $1::text IS NULL
            THEN c.audience = 'automatic'
                 OR EXISTS (SELECT 1 FROM coupon_grants g WHERE g.coupon_id = c.id AND g.buyer_id = $2)
            ELSE c.code = $1::citext END)
  AND c.disabled_at IS NULL AND now() >= c.starts_at AND now() < c.ends_at
"""
# A limited coupon counts every use on its row (the row lock keeps the total within the limit).
TAKE_COUPON = """
UPDATE coupons SET redeemed = redeemed + 1
WHERE id = $1 AND (total_limit IS NULL OR redeemed < total_limit)
RETURNING redeemed
"""
INSERT_REDEMPTION = """
INSERT INTO coupon_redemptions (checkout_id, coupon_id, buyer_id, amount) VALUES ($1, $2, $3, $4)
"""
# An unpaid checkout that expires or is cancelled gives its coupon use and its points back.
RELEASE_REDEMPTION = """
WITH released AS (
    UPDATE coupon_redemptions SET status = 'released' WHERE checkout_id = $1 AND status = 'held'
    RETURNING coupon_id
)
UPDATE coupons c SET redeemed = redeemed - 1 FROM released WHERE c.id = released.coupon_id AND c.total_limit IS NOT NULL
"""
# Each product's category and its ancestors, for category-scoped coupons.
PRODUCT_CATEGORIES = """
SELECT p.id, c.path || c.id AS categories FROM products p JOIN categories c ON c.id = p.category_id
WHERE p.id = ANY($1::bigint[])
"""

# Loyalty
POINTS_BALANCE = "SELECT coalesce(sum(delta), 0)::int FROM loyalty_ledger WHERE user_id = $1"
POST_POINTS = """
INSERT INTO loyalty_ledger (user_id, delta, kind, checkout_id, order_id, ref) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
"""
# A checkout's points and, for one of its orders ($2, may be NULL), that order's figures.
CHECKOUT_POINTS = """
SELECT k.buyer_id, k.points_spent, k.grand_total,
       (SELECT coalesce(sum(delta), 0) FROM loyalty_ledger WHERE checkout_id = k.id AND kind = 'returned')::int
           AS returned,
       (SELECT coalesce(sum(total), 0) FROM orders
        WHERE checkout_id = k.id AND status = 'cancelled' AND id <> $2)::bigint AS cancelled_before,
       (SELECT total FROM orders WHERE id = $2) AS order_total,
       (SELECT coalesce(-sum(amount), 0) FROM ledger_entries
        WHERE order_id = $2 AND kind = 'refund' AND account = 'gateway')::bigint AS order_refunded,
       (SELECT coalesce(sum(delta), 0) FROM loyalty_ledger WHERE order_id = $2 AND kind = 'earned')::int AS earned
FROM checkouts k WHERE k.id = $1
"""
ORDERS_TO_EARN = """
SELECT o.id, o.buyer_id, o.items_total - o.vendor_discount - o.platform_discount AS paid_for_items,
       (SELECT coalesce(-sum(amount), 0) FROM ledger_entries
        WHERE order_id = o.id AND kind = 'refund' AND account = 'gateway')::bigint AS refunded
FROM orders o WHERE o.id = ANY($1::bigint[])
ORDER BY o.id
"""
LOYALTY_HISTORY = """
SELECT id, delta, kind, checkout_id, order_id, created_at FROM loyalty_ledger
WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3
"""
# What a buyer actually paid for items over the last year, the spend tiers are measured on: orders paid and
# not cancelled (cash on delivery: once the courier was paid, on delivery), each less what was refunded for
# it, so a fully refunded order counts nothing.
TRAILING_SPEND = """
SELECT coalesce(sum(greatest(0, o.items_total - o.vendor_discount - o.platform_discount - (
           SELECT coalesce(-sum(e.amount), 0) FROM ledger_entries e
           WHERE e.order_id = o.id AND e.kind = 'refund' AND e.account = 'gateway'))), 0)::bigint
FROM orders o
WHERE o.buyer_id = $1 AND o.created_at > now() - interval '365 days'
  AND o.status IN ('paid', 'accepted', 'shipped', 'delivered', 'completed')
  AND (NOT o.cash_on_delivery OR o.status IN ('delivered', 'completed'))
"""

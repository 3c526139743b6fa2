"""All SQL of settlement."""

# For each line of the orders: what it sells for (less the vendor's own coupon) and the rate that applies
# to it (category on the line's product category path, nearest first; then vendor; then platform).
LINE_RATES = """
SELECT l.id, l.order_id, l.line_total - l.vendor_discount AS line_total,
       COALESCE(
           (SELECT r.rate_bp FROM categories c, unnest(c.path) WITH ORDINALITY AS a(id, depth)
                JOIN commission_rates r ON r.scope = 'category' AND r.scope_id = a.id
            WHERE c.id = p.category_id ORDER BY a.depth DESC LIMIT 1),
           (SELECT rate_bp FROM commission_rates WHERE scope = 'vendor' AND scope_id = o.vendor_id),
           (SELECT rate_bp FROM commission_rates WHERE scope = 'platform' AND scope_id = 0)
       ) AS rate_bp
FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN products p ON p.id = l.product_id
WHERE l.order_id = ANY($1::bigint[])
"""
SET_COMMISSION = "UPDATE orders SET commission = $2 WHERE id = $1"
SET_LINE_COMMISSIONS = """
UPDATE order_lines l SET commission = c.commission
FROM unnest($1::bigint[], $2::bigint[]) AS c(id, commission) WHERE l.id = c.id
"""
ORDER_MONEY = """
SELECT id, vendor_id, total, shipping_total, currency, commission, platform_discount,
       (SELECT coalesce(-sum(amount), 0)::bigint FROM ledger_entries
        WHERE order_id = orders.id AND kind = 'refund' AND account = 'gateway') AS refunded
FROM orders WHERE id = $1
"""
# What each line of an order was paid and what its payment posting credited, by funder.
LINE_MONEY = """
SELECT id, line_total - vendor_discount AS sells_for, platform_discount,
       line_total - vendor_discount - platform_discount AS paid, commission
FROM order_lines WHERE order_id = $1 ORDER BY id
"""
# What was refunded so far per order line (NULL: shipping, or a whole-order refund booked before refunds had
# lines), and which lines a refund posting touched at all.
REFUNDED_PER_LINE = """
SELECT order_line_id, coalesce(-sum(amount) FILTER (WHERE account = 'gateway'), 0)::bigint AS refunded
FROM ledger_entries WHERE order_id = $1 AND kind = 'refund'
GROUP BY order_line_id
"""
INSERT_ENTRIES = """
INSERT INTO ledger_entries (posting, account, amount, currency, kind, order_id, payout_id, order_line_id)
SELECT $1, e.account, e.amount, $2, $3, $4, $5, $8 FROM unnest($6::text[], $7::bigint[]) AS e(account, amount)
"""
BALANCE = "SELECT COALESCE(sum(amount), 0)::bigint FROM ledger_entries WHERE account = $1 AND currency = $2"
# What the vendor is owed for orders a live risk alert holds (risk's payout_holds; dismissing the alert deletes
# them): per order its vendor credit net of refunds, never below zero.
HELD = """
SELECT coalesce(sum(greatest(0, owed)), 0)::bigint FROM (
    SELECT -sum(e.amount) AS owed FROM ledger_entries e
    WHERE EXISTS (SELECT 1 FROM payout_holds)  -- evaluated once: with no holds anywhere, nothing is read
      AND e.account = $1 AND e.currency = $2 AND e.order_id IN (SELECT order_id FROM payout_holds)
    GROUP BY e.order_id
) held
"""
LOCK_VENDOR = "SELECT id FROM vendors WHERE id = $1 FOR UPDATE"
INSERT_PAYOUT = """
INSERT INTO payouts (vendor_id, amount, currency, admin_id) VALUES ($1, $2, $3, $4)
RETURNING id, vendor_id, amount, currency, admin_id, created_at
"""
PAYOUTS = """
SELECT id, vendor_id, amount, currency, admin_id, created_at FROM payouts
WHERE ($1::bigint IS NULL OR vendor_id = $1) AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3
"""
STATEMENT = """
SELECT id, amount, currency, kind, order_id, payout_id, created_at FROM ledger_entries
WHERE account = $1 AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3
"""
TRIAL_BALANCE = """
SELECT account, currency, sum(amount)::bigint AS balance FROM ledger_entries GROUP BY account, currency ORDER BY account
"""
UPSERT_RATE = """
INSERT INTO commission_rates (scope, scope_id, rate_bp) VALUES ($1, $2, $3)
ON CONFLICT (scope, scope_id) DO UPDATE SET rate_bp = EXCLUDED.rate_bp
RETURNING scope, scope_id, rate_bp
"""
ALL_RATES = "SELECT scope, scope_id, rate_bp FROM commission_rates ORDER BY scope, scope_id"
SCOPE_EXISTS = {
    "vendor": "SELECT EXISTS (SELECT 1 FROM vendors WHERE id = $1)",
    "category": "SELECT EXISTS (SELECT 1 FROM categories WHERE id = $1)",
}

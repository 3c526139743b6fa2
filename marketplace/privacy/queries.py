"""All SQL of a buyer's data export: one statement per section, each a JSON array of the buyer's rows
($1), oldest first. Secrets (password hash, two-factor secret, token hashes) are never selected."""

_ROWS = "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.{order}), '[]'::jsonb) FROM ({rows}) t"

SECTIONS = {
    "profile": _ROWS.format(
        order="id",
        rows="""
        SELECT id, email, phone, display_name, roles, status, totp_enabled, email_verified_at, created_at, updated_at
        FROM users WHERE id = $1""",
    ),
    "addresses": _ROWS.format(
        order="id",
        rows="""
        SELECT id, recipient, phone, line1, line2, city, region, postal_code, country, is_default, created_at
        FROM addresses WHERE user_id = $1""",
    ),
    "orders": _ROWS.format(
        order="id",
        rows="""
        SELECT o.id, o.checkout_id, v.shop_name AS shop, o.status, o.currency, o.items_total, o.shipping_total,
               o.total, o.carrier, o.tracking_number, o.created_at, c.shipping_address,
               (SELECT jsonb_agg(jsonb_build_object('title', l.title, 'sku', l.sku_code, 'unit_price', l.unit_price,
                                                    'quantity', l.quantity) ORDER BY l.id)
                FROM order_lines l WHERE l.order_id = o.id) AS lines
        FROM orders o JOIN vendors v ON v.id = o.vendor_id JOIN checkouts c ON c.id = o.checkout_id
        WHERE o.buyer_id = $1""",
    ),
    "payments": _ROWS.format(
        order="id",
        rows="""
        SELECT p.id, p.checkout_id, p.method, p.amount, p.currency, p.status, p.refunded_amount, p.created_at
        FROM payments p JOIN checkouts c ON c.id = p.checkout_id WHERE c.buyer_id = $1""",
    ),
    "aftersales": _ROWS.format(
        order="id",
        rows="""
        SELECT id, order_id, kind, status, reason, refunded_amount, created_at, updated_at
        FROM aftersales_requests WHERE buyer_id = $1""",
    ),
    "reviews": _ROWS.format(
        order="id",
        rows="""
        SELECT r.id, r.product_id, p.title AS product, r.rating, r.body, r.reply, r.created_at
        FROM reviews r JOIN products p ON p.id = r.product_id WHERE r.buyer_id = $1""",
    ),
    "points": _ROWS.format(
        order="id",
        rows="""
        SELECT id, delta, kind, order_id, created_at FROM loyalty_ledger WHERE user_id = $1""",
    ),
    "coupons": _ROWS.format(
        order="granted_at",
        rows="""
        SELECT k.code::text AS code, k.name, g.granted_at,
               (SELECT count(*) FROM coupon_redemptions r
                WHERE r.coupon_id = k.id AND r.buyer_id = $1 AND r.status = 'held') AS times_used
        FROM coupon_grants g JOIN coupons k ON k.id = g.coupon_id WHERE g.buyer_id = $1""",
    ),
    "notifications": _ROWS.format(
        order="id",
        rows="""
        SELECT id, kind, title, read_at, email_status, created_at FROM notifications WHERE user_id = $1""",
    ),
    "interactions": _ROWS.format(
        order="id",
        rows="""
        SELECT id, kind, product_id, quantity, query, occurred_at FROM interactions WHERE user_id = $1""",
    ),
}

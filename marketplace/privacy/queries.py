"""All SQL of a buyer's data export: one statement per section, each a JSON array of the buyer's rows
($1), oldest first. Secrets (password hash, two-factor secret, token hashes) are never selected."""

from marketplace.core import fields

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
    "questions": _ROWS.format(
        order="id",
        rows="""
        SELECT q.id, q.product_id, p.title AS product, q.body, q.answer, q.answered_at, q.is_public, q.created_at
        FROM product_questions q JOIN products p ON p.id = q.product_id WHERE q.buyer_id = $1""",
    ),
    "sessions": _ROWS.format(
        order="created_at",
        rows="""
        SELECT family, user_agent, ip, created_at FROM session_clients WHERE user_id = $1""",
    ),
}

# Erasing an account ($1). What keeps it from being erased now: a shop, orders still open, after-sales
# still under way (their counterparties need the address and the contact until they are settled).
ERASE_BLOCKERS = """
SELECT (SELECT count(*) FROM vendors WHERE user_id = $1) AS shops,
       (SELECT count(*) FROM orders WHERE buyer_id = $1 AND status NOT IN ('completed', 'cancelled')) AS open_orders,
       (SELECT count(*) FROM aftersales_requests
        WHERE buyer_id = $1
          AND status NOT IN ('rejected', 'refunded', 'replacement_shipped', 'withdrawn')) AS open_aftersales
"""
ACCOUNT_FOR_ERASURE = "SELECT id, password_hash, erased_at FROM users WHERE id = $1 FOR UPDATE"
# What names or reaches the person goes; what accounting and the shops need (orders, lines, amounts, the
# ledger, reviews' ratings and words under "Deleted user") stays. Order snapshots keep the country only.
ERASE = [
    """UPDATE users SET email = 'erased-' || id || '@erased.invalid', phone = NULL, phone_digest = NULL,
           display_name = 'Deleted user',
           password_hash = '!erased', totp_secret = NULL, totp_enabled = false, status = 'disabled',
           status_reason = 'erased by its owner', erased_at = now(), email_verified_at = NULL
       WHERE id = $1""",
    "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    """UPDATE checkouts
       SET shipping_address = jsonb_build_object('country', shipping_address->'country', 'erased', true)
       WHERE buyer_id = $1""",
    "DELETE FROM addresses WHERE user_id = $1",
    "DELETE FROM cart_items WHERE user_id = $1",
    "DELETE FROM interactions WHERE user_id = $1",
    "DELETE FROM session_clients WHERE user_id = $1",
    "DELETE FROM login_failures WHERE user_id = $1",
    # A question the shop made public stays on the product page (it never showed who asked); the others go.
    "DELETE FROM product_questions WHERE buyer_id = $1 AND NOT is_public",
    "DELETE FROM account_tokens WHERE user_id = $1",
    "DELETE FROM notification_preferences WHERE user_id = $1",
    "DELETE FROM notifications WHERE user_id = $1",
    "DELETE FROM coupon_grants g WHERE g.buyer_id = $1",
    "DELETE FROM segment_members WHERE buyer_id = $1",
    "DELETE FROM demo_buyer_tastes WHERE user_id = $1",
]


class SealedTable:
    """A table's columns sealed at rest (core/fields.py), and the statements that reseal them in batches: the
    rows after id $1 holding a value not matching $2 (a LIKE pattern: the active key's prefix, or any sealed
    value's when only plaintext is to be sealed), locked, at most $3 of them; then one update for the batch.
    The SQL is built here from these constant names only."""

    def __init__(
        self,
        table: str,
        columns: tuple[tuple[str, str], ...],
        json_column: str | None = None,
        digests: tuple[tuple[str, str], ...] = (),
        matched: bool = False,
    ) -> None:
        self.table, self.columns, self.json_column, self.digests = table, columns, json_column, digests
        self.matched = matched  # an address book row: its match key (core/fields.address_match) is written too
        names = [c for c, _ in columns]
        values = [f"{json_column}->>'{c}'" if json_column else c for c in names]
        stale = " OR ".join(f"({v} <> '' AND {v} NOT LIKE $2)" for v in values)
        read = json_column or ", ".join(names + ["country"] * matched)
        self.count = f"SELECT count(*) FROM {table} WHERE {stale.replace('$2', '$1')}"
        self.select = f"SELECT id, {read} FROM {table} WHERE id > $1 AND ({stale}) ORDER BY id LIMIT $3 FOR UPDATE"
        written = [json_column] if json_column else names
        written += ["match_key"] * matched + [d for d, _ in digests]
        types = ["jsonb" if json_column else "text"] * (len(written) - len(digests)) + ["bytea"] * len(digests)
        arrays = ", ".join(f"${i + 2}::{t}[]" for i, t in enumerate(types))
        assigned = ", ".join(f"{c} = n.{c}" for c in written)
        self.update = (
            f"UPDATE {table} t SET {assigned} FROM unnest($1::bigint[], {arrays}) AS n(id, {', '.join(written)}) "
            "WHERE t.id = n.id"
        )


_ADDRESS = tuple((c, f"address.{c}") for c in fields.ADDRESS_SEALED)
SEALED_TABLES = (
    SealedTable(
        "users",
        (("phone", fields.USER_PHONE), ("totp_secret", fields.TOTP_SECRET)),
        digests=(("phone_digest", "phone"),),
    ),
    SealedTable("addresses", _ADDRESS, matched=True),
    SealedTable("vendor_applications", (("contact_phone", fields.VENDOR_PHONE), ("licence_number", fields.LICENCE))),
    SealedTable(
        "vendors",
        (
            ("contact_phone", fields.VENDOR_PHONE),
            ("licence_number", fields.LICENCE),
            ("payout_account", fields.PAYOUT_ACCOUNT),
        ),
    ),
    SealedTable("checkouts", _ADDRESS, json_column="shipping_address"),
)

"""All SQL of payments."""

CHECKOUT_FOR_PAYMENT = """
SELECT id, buyer_id, status, grand_total, currency, expires_at FROM checkouts WHERE id = $1 FOR UPDATE
"""
INSERT_PAYMENT = """
INSERT INTO payments (checkout_id, method, provider_ref, amount, currency) VALUES ($1, $2, $3, $4, $5)
RETURNING id, checkout_id, method, provider_ref, amount, currency, status, refunded_amount, created_at, confirmed_at
"""
LIVE_PAYMENT = """
SELECT id, checkout_id, method, provider_ref, amount, currency, status, refunded_amount, created_at, confirmed_at
FROM payments WHERE checkout_id = $1 AND status IN ('pending', 'succeeded')
"""
PAYMENT_BY_REF_FOR_UPDATE = """
SELECT id, checkout_id, method, amount, currency, status FROM payments WHERE provider_ref = $1 FOR UPDATE
"""
PAYMENT_FOR_UPDATE = "SELECT id, checkout_id, method, amount, currency, status FROM payments WHERE id = $1 FOR UPDATE"
PAYMENT_COLUMNS = """id, checkout_id, method, provider_ref, amount, currency, status, refunded_amount, created_at,
confirmed_at"""
PAYMENT_BY_ID = f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"
PENDING_TRANSFERS = f"""
SELECT {PAYMENT_COLUMNS} FROM payments WHERE method = 'bank_transfer' AND status = 'pending' ORDER BY id
"""
EXTEND_CHECKOUT = "UPDATE checkouts SET expires_at = now() + make_interval(days => $2) WHERE id = $1"
EVENT_APPLIED = """
SELECT EXISTS (SELECT 1 FROM payment_callbacks WHERE provider = $1 AND event_id = $2 AND outcome = 'applied')
"""
LOG_CALLBACK = """
INSERT INTO payment_callbacks (provider, event_id, provider_ref, body, outcome) VALUES ($1, $2, $3, $4, $5)
"""
SET_PAYMENT = "UPDATE payments SET status = $2, confirmed_at = now(), refunded_amount = $3 WHERE id = $1"
CHECKOUT_STATUS = "SELECT status, buyer_id FROM checkouts WHERE id = $1"
# The first cash a courier hands over settles the checkout's cash-on-delivery payment.
CASH_ARRIVED = """
UPDATE payments SET status = 'succeeded', confirmed_at = now()
WHERE checkout_id = $1 AND method = 'cash_on_delivery' AND status = 'pending'
"""
# Every order of a cash-on-delivery checkout cancelled before any cash changed hands: nothing will be paid.
CASH_NEVER_DUE = """
UPDATE payments SET status = 'failed'
WHERE checkout_id = $1 AND method = 'cash_on_delivery' AND status = 'pending'
    AND NOT EXISTS (SELECT 1 FROM orders WHERE checkout_id = $1 AND id <> $2 AND status <> 'cancelled')
"""
# Paid units leave the shelf: on hand and reserved drop together, once per order line.
SELL_LINES = """
WITH sold AS (
    SELECT l.sku_id, l.quantity, l.order_id FROM order_lines l WHERE l.order_id = ANY($1::bigint[])
), updated AS (
    UPDATE skus s SET on_hand = s.on_hand - t.quantity, reserved = s.reserved - t.quantity
    FROM (SELECT sku_id, sum(quantity)::int AS quantity FROM sold GROUP BY sku_id) t
    WHERE s.id = t.sku_id
    RETURNING s.id, s.on_hand
)
INSERT INTO stock_movements (sku_id, delta, on_hand, reason, order_id)
SELECT sold.sku_id, -sold.quantity, updated.on_hand, 'sold', sold.order_id
FROM sold JOIN updated ON updated.id = sold.sku_id
"""
PAYMENTS_OF_CHECKOUT = """
SELECT id, checkout_id, method, provider_ref, amount, currency, status, refunded_amount, created_at, confirmed_at
FROM payments WHERE checkout_id = $1 ORDER BY id
"""
PAYMENT_BY_REF = "SELECT amount, currency FROM payments WHERE provider_ref = $1"

# Refunds and the payment state other domains ask about.
SUCCEEDED_PAYMENT_FOR_UPDATE = """
SELECT id, amount, refunded_amount FROM payments WHERE checkout_id = $1 AND status = 'succeeded' FOR UPDATE
"""
REFUND = """
UPDATE payments SET refunded_amount = refunded_amount + $2,
    status = CASE WHEN refunded_amount + $2 >= amount THEN 'refunded' ELSE status END
WHERE id = $1
"""
PAYMENT_UNDER_WAY = "SELECT EXISTS (SELECT 1 FROM payments WHERE checkout_id = $1 AND status = 'pending')"

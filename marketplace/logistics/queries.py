"""All SQL of logistics."""

# Templates. Writes to one shop's templates lock its vendor row (FOR NO KEY UPDATE, which leaves the foreign-key
# checks of orders and products alone), so two requests cannot both make a first or a new default template.
LOCK_VENDOR = "SELECT id FROM vendors WHERE id = $1 FOR NO KEY UPDATE"
TEMPLATE_COLUMNS = """t.id, t.vendor_id, t.name, t.basis, t.is_default, t.default_rate, t.regions, t.created_at,
t.updated_at, (SELECT count(*) FROM product_shipping ps WHERE ps.template_id = t.id) AS products"""
TEMPLATES_OF_VENDOR = f"SELECT {TEMPLATE_COLUMNS} FROM shipping_templates t WHERE t.vendor_id = $1 ORDER BY t.id"
TEMPLATE_OF_VENDOR = f"SELECT {TEMPLATE_COLUMNS} FROM shipping_templates t WHERE t.id = $1 AND t.vendor_id = $2"
COUNT_TEMPLATES = "SELECT count(*) FROM shipping_templates WHERE vendor_id = $1"
CLEAR_DEFAULT = "UPDATE shipping_templates SET is_default = false WHERE vendor_id = $1 AND is_default AND id <> $2"
INSERT_TEMPLATE = """
INSERT INTO shipping_templates (vendor_id, name, basis, is_default, default_rate, regions)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id
"""
UPDATE_TEMPLATE = """
UPDATE shipping_templates SET name = $3, basis = $4, is_default = $5, default_rate = $6, regions = $7,
    updated_at = now()
WHERE id = $1 AND vendor_id = $2
"""
DELETE_TEMPLATE = "DELETE FROM shipping_templates WHERE id = $1 AND vendor_id = $2"

# Products' template and weight.
PRODUCT_OF_VENDOR = "SELECT id FROM products WHERE id = $1 AND vendor_id = $2"
PRODUCT_SHIPPING = "SELECT product_id, template_id, weight_grams FROM product_shipping WHERE product_id = $1"
SET_PRODUCT_SHIPPING = """
INSERT INTO product_shipping (product_id, template_id, weight_grams) VALUES ($1, $2, $3)
ON CONFLICT (product_id) DO UPDATE SET template_id = EXCLUDED.template_id, weight_grams = EXCLUDED.weight_grams
RETURNING product_id, template_id, weight_grams
"""

# Shipments and their events.
INSERT_SHIPMENT = """
INSERT INTO shipments (order_id, vendor_id, carrier, tracking_number) VALUES ($1, $2, $3, $4) RETURNING id
"""
SHIPMENT_BY_TRACKING = """
SELECT s.id, s.order_id, s.tracking_status AS status, o.buyer_id, o.vendor_id
FROM shipments s JOIN orders o ON o.id = s.order_id
WHERE s.carrier = $1 AND s.tracking_number = $2
"""
# An event once: a repeat (same event id) inserts nothing and so changes nothing. The shipment's status follows
# the latest event by the carrier's time; the buyer's and the shop's feeds hear of it.
RECORD_EVENT = """
WITH stored AS (
    INSERT INTO shipment_events (shipment_id, event_id, type, occurred_at, location, description)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (shipment_id, event_id) DO NOTHING
    RETURNING id, shipment_id, type, occurred_at, location, description
), latest AS (
    UPDATE shipments s SET tracking_status = stored.type, last_event_at = stored.occurred_at
    FROM stored
    WHERE s.id = stored.shipment_id AND (s.last_event_at IS NULL OR s.last_event_at <= stored.occurred_at)
), outbox AS (
    INSERT INTO events (topic, type, payload)
    SELECT t.topic, 'shipment.' || stored.type,
           jsonb_build_object('order_id', $7::bigint, 'carrier', $8::text, 'tracking_number', $9::text,
                              'type', stored.type, 'occurred_at', stored.occurred_at, 'location', stored.location,
                              'description', stored.description)
    FROM stored CROSS JOIN LATERAL (VALUES (1, $10::text), (2, $11::text)) AS t(n, topic)
    ORDER BY t.n
)
SELECT id FROM stored
"""
ORDER_PARTIES = "SELECT id, buyer_id, vendor_id, carrier, tracking_number FROM orders WHERE id = $1"
# The order's current shipment: its latest (a lost parcel sent again has a new one).
SHIPMENT_OF_ORDER = """
SELECT id, carrier, tracking_status AS status FROM shipments WHERE order_id = $1 ORDER BY id DESC LIMIT 1
"""
TRACKED_PARCEL = "SELECT EXISTS (SELECT FROM shipments WHERE order_id = $1 AND tracking_number = $2)"
EVENTS_OF_SHIPMENT = """
SELECT type, occurred_at, location, description FROM shipment_events WHERE shipment_id = $1 ORDER BY occurred_at, id
"""

# Late shipments: orders paid (or confirmed for cash on delivery) more than $1 hours ago and still not shipped.
# When the order was paid is its history's first entry into paid or confirmed.
_AWAITING = """
SELECT o.id AS order_id, o.vendor_id, o.buyer_id, o.status, paid.at AS paid_at,
       paid.at + make_interval(hours => $1) AS due_at
FROM orders o
CROSS JOIN LATERAL (
    SELECT min(h.at) AS at FROM order_history h WHERE h.order_id = o.id AND h.to_status IN ('paid', 'confirmed')
) paid
WHERE o.status IN ('paid', 'confirmed', 'accepted') AND paid.at < now() - make_interval(hours => $1)
"""
# Each newly late order is flagged once (the flag's key), with an event on its shop's orders feed; several
# workers running this at once flag and announce each order once.
FLAG_LATE = f"""
WITH awaiting AS ({_AWAITING}), flagged AS (
    INSERT INTO late_shipment_flags (order_id, vendor_id, due_at)
    SELECT order_id, vendor_id, due_at FROM awaiting ORDER BY order_id
    ON CONFLICT (order_id) DO NOTHING
    RETURNING order_id, vendor_id, due_at
), outbox AS (
    INSERT INTO events (topic, type, payload)
    SELECT 'vendor:' || vendor_id || ':orders', 'shipment.late',
           jsonb_build_object('order_id', order_id, 'due_at', due_at)
    FROM flagged ORDER BY order_id
)
SELECT count(*) FROM flagged
"""
LATE_SHIPMENTS = f"""
SELECT a.*, extract(epoch FROM now() - a.due_at) / 3600 AS hours_late, f.flagged_at
FROM ({_AWAITING}) a
LEFT JOIN late_shipment_flags f ON f.order_id = a.order_id
WHERE ($2::bigint IS NULL OR a.vendor_id = $2) AND ($3::bigint IS NULL OR a.order_id < $3)
ORDER BY a.order_id DESC
LIMIT $4
"""

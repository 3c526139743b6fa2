-- Logistics (marketplace/logistics/): shipping templates per shop, each product's template and weight,
-- carrier shipments with their tracking events, and the late shipments already flagged to their shop.

-- A template prices one vendor order's lines that use it: a default rate, and rates for named regions
-- (country, optionally one region of it) that override it. Rates are jsonb (see logistics/fees.py for their
-- shape): checkout reads a template in the same statement as the cart, one column each.
CREATE TABLE shipping_templates (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vendor_id    bigint NOT NULL REFERENCES vendors ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    basis        text NOT NULL CHECK (basis IN ('count', 'weight')),
    is_default   boolean NOT NULL DEFAULT false,
    default_rate jsonb NOT NULL,
    regions      jsonb NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (vendor_id, name)
);
-- At most one default per shop; a shop with templates always has one (logistics/service.py).
CREATE UNIQUE INDEX shipping_templates_one_default ON shipping_templates (vendor_id) WHERE is_default;

-- Products without a row (or without a template) use their shop's default template; weight 0 unless set.
CREATE TABLE product_shipping (
    product_id   bigint PRIMARY KEY REFERENCES products ON DELETE CASCADE,
    template_id  bigint REFERENCES shipping_templates ON DELETE SET NULL,
    weight_grams integer NOT NULL DEFAULT 0 CHECK (weight_grams BETWEEN 0 AND 1000000)
);
CREATE INDEX product_shipping_template ON product_shipping (template_id);

-- An order handed to an integrated carrier (the sandbox carrier here); orders shipped with a tracking number
-- typed by the vendor have none. `tracking_status` is the latest event's type (not a state machine: carriers'
-- events may arrive in any order, and the latest by the carrier's time wins).
CREATE TABLE shipments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders ON DELETE CASCADE,
    vendor_id       bigint NOT NULL REFERENCES vendors ON DELETE CASCADE,
    carrier         text NOT NULL,
    tracking_number text NOT NULL,
    tracking_status text NOT NULL DEFAULT 'created' CHECK (tracking_status IN (
                        'created', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered', 'exception')),
    last_event_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (carrier, tracking_number)
);
CREATE INDEX shipments_order ON shipments (order_id, id);  -- several if a lost parcel was sent again
CREATE INDEX shipments_vendor ON shipments (vendor_id, id);

-- The carrier's signed tracking events, once each: the unique key makes a repeated event change nothing.
CREATE TABLE shipment_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shipment_id bigint NOT NULL REFERENCES shipments ON DELETE CASCADE,
    event_id    text NOT NULL,
    type        text NOT NULL
                CHECK (type IN ('picked_up', 'in_transit', 'out_for_delivery', 'delivered', 'exception')),
    occurred_at timestamptz NOT NULL,
    location    text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shipment_id, event_id)
);
CREATE INDEX shipment_events_timeline ON shipment_events (shipment_id, occurred_at, id);

-- Orders that passed their ship-by time unshipped and whose shop was told so (once: the key).
CREATE TABLE late_shipment_flags (
    order_id   bigint PRIMARY KEY REFERENCES orders ON DELETE CASCADE,
    vendor_id  bigint NOT NULL REFERENCES vendors ON DELETE CASCADE,
    due_at     timestamptz NOT NULL,
    flagged_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX late_shipment_flags_vendor ON late_shipment_flags (vendor_id, flagged_at);

-- The orders still to ship, for the late-shipment watch (logistics/service.py), without scanning all orders.
CREATE INDEX orders_awaiting_shipment ON orders (id) WHERE status IN ('paid', 'confirmed', 'accepted');

-- Carts, checkouts split into per-vendor orders, order history, and idempotency keys.

CREATE TABLE cart_items (
    user_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    sku_id   bigint NOT NULL REFERENCES skus ON DELETE CASCADE,
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 999),
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, sku_id)
);

-- One checkout is one payment; it holds one order per vendor.
CREATE TABLE checkouts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    buyer_id         bigint NOT NULL REFERENCES users,
    status           text NOT NULL DEFAULT 'pending_payment'
                     CHECK (status IN ('pending_payment', 'paid', 'expired', 'cancelled')),
    currency         text NOT NULL,
    items_total      bigint NOT NULL CHECK (items_total >= 0),
    shipping_total   bigint NOT NULL CHECK (shipping_total >= 0),
    grand_total      bigint NOT NULL CHECK (grand_total >= 0),
    shipping_address jsonb NOT NULL,
    expires_at       timestamptz NOT NULL,
    paid_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkouts_buyer ON checkouts (buyer_id, id);
CREATE INDEX checkouts_unpaid ON checkouts (expires_at) WHERE status = 'pending_payment';

CREATE TABLE orders (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    checkout_id       bigint NOT NULL REFERENCES checkouts,
    buyer_id          bigint NOT NULL REFERENCES users,
    vendor_id         bigint NOT NULL REFERENCES vendors,
    status            text NOT NULL DEFAULT 'pending_payment'
                      CHECK (status IN ('pending_payment', 'paid', 'accepted', 'shipped', 'delivered',
                                        'completed', 'cancelled')),
    currency          text NOT NULL,
    items_total       bigint NOT NULL CHECK (items_total >= 0),
    shipping_total    bigint NOT NULL CHECK (shipping_total >= 0),
    total             bigint NOT NULL CHECK (total >= 0),
    carrier           text,
    tracking_number   text,
    estimated_arrival date,
    cancel_reason     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_vendor ON orders (vendor_id, id);
CREATE INDEX orders_vendor_status ON orders (vendor_id, status, id);
CREATE INDEX orders_buyer ON orders (buyer_id, id);
CREATE INDEX orders_checkout ON orders (checkout_id);

-- Lines copy title, code and price at the moment of purchase: later catalog edits do not rewrite history.
CREATE TABLE order_lines (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint NOT NULL REFERENCES orders,
    sku_id     bigint NOT NULL REFERENCES skus,
    product_id bigint NOT NULL REFERENCES products,
    title      text NOT NULL,
    sku_code   text NOT NULL,
    unit_price bigint NOT NULL CHECK (unit_price > 0),
    quantity   integer NOT NULL CHECK (quantity > 0),
    line_total bigint NOT NULL CHECK (line_total = unit_price * quantity)
);
CREATE INDEX order_lines_order ON order_lines (order_id);
CREATE INDEX order_lines_sku ON order_lines (sku_id);

CREATE TABLE order_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders,
    from_status text,
    to_status   text NOT NULL,
    actor_id    bigint REFERENCES users,
    note        text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_history_order ON order_history (order_id, id);

-- Idempotency-Key: a key is claimed ('running') before the work and completed ('done') in the work's own
-- transaction, with the response to replay.
CREATE TABLE idempotency_keys (
    user_id         bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    route           text NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
    response_status integer,
    response_body   bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (user_id, route, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

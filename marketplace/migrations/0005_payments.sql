-- Payments for checkouts, the callbacks providers send us, and stock movements tied to orders.

CREATE TABLE payments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    checkout_id     bigint NOT NULL REFERENCES checkouts,
    method          text NOT NULL CHECK (method IN ('sandbox', 'cash_on_delivery', 'bank_transfer')),
    provider_ref    text NOT NULL UNIQUE,
    amount          bigint NOT NULL CHECK (amount > 0),
    currency        text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    refunded_amount bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    created_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz
);
-- At most one live payment per checkout.
CREATE UNIQUE INDEX payments_one_live ON payments (checkout_id) WHERE status IN ('pending', 'succeeded');

-- Every callback, accepted or not: the record of what a provider told us and what we made of it.
CREATE TABLE payment_callbacks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider     text NOT NULL,
    event_id     text,
    provider_ref text,
    body         bytea NOT NULL,
    outcome      text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX payment_callbacks_event ON payment_callbacks (provider, event_id) WHERE outcome = 'applied';

ALTER TABLE stock_movements ADD COLUMN order_id bigint REFERENCES orders;
CREATE INDEX stock_movements_order ON stock_movements (order_id) WHERE order_id IS NOT NULL;

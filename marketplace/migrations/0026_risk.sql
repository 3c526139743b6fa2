-- Risk control (marketplace/risk/, docs/risk.md): listing review, login attempts, anomaly alerts with the
-- payout holds they put on orders, and the cached shop trust score.

-- A product of a new or flagged shop waits here for support to approve it (LISTING_REVIEW); buyers see only
-- 'listed' products, so nothing else changes for search, listing pages or the cart.
ALTER TABLE products DROP CONSTRAINT products_status_check;
ALTER TABLE products ADD CONSTRAINT products_status_check
    CHECK (status IN ('draft', 'pending_review', 'listed', 'unlisted', 'taken_down'));
CREATE INDEX products_pending_review ON products (id) WHERE status = 'pending_review';

-- Failed logins were only counted in Redis (rate limits, per account and IP); the failed-login rule needs them
-- in PostgreSQL. One row per failed password attempt, pruned after the risk window (risk/worker.py). Successful
-- sign-ins, with their IP and user agent, are in session_clients (migration 0027).
CREATE TABLE login_failures (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint REFERENCES users ON DELETE CASCADE,  -- NULL: the identifier matched no account
    ip      text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_at ON login_failures (at);

-- The rules read orders of a time window; a BRIN index on their creation time keeps that a range read.
CREATE INDEX orders_created_brin ON orders USING brin (created_at);

-- One alert per rule and subject (what it is about: an address and a SKU, a shop's ring, a buyer, an IP)
-- while it is live; a rerun updates its evidence instead of adding another. A dismissed alert is not raised
-- again unless its pattern has evidence newer than the dismissal.
CREATE TABLE risk_alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'confirmed', 'dismissed')),
    rule            text NOT NULL,
    subject         text NOT NULL,
    vendor_id       bigint REFERENCES vendors,
    score           smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
    evidence        jsonb NOT NULL,
    order_ids       bigint[] NOT NULL DEFAULT '{}',
    user_ids        bigint[] NOT NULL DEFAULT '{}',
    latest_at       timestamptz NOT NULL,  -- the newest order or attempt the evidence holds
    decided_by      bigint REFERENCES users,
    decided_at      timestamptz,
    decision_reason text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX risk_alerts_live ON risk_alerts (rule, subject) WHERE status <> 'dismissed';
CREATE INDEX risk_alerts_status ON risk_alerts (status, id);
CREATE INDEX risk_alerts_vendor ON risk_alerts (vendor_id, id) WHERE vendor_id IS NOT NULL;

-- Orders an alert holds back from payout; settlement leaves their vendor credit out of what can be paid.
-- Dismissing the alert deletes its holds; an order stays held while any live alert holds it.
CREATE TABLE payout_holds (
    alert_id   bigint NOT NULL REFERENCES risk_alerts ON DELETE CASCADE,
    order_id   bigint NOT NULL REFERENCES orders,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, order_id)
);
CREATE INDEX payout_holds_order ON payout_holds (order_id);

-- Each shop's trust score and its components, recomputed by the risk worker (risk/trust.py has the formula).
CREATE TABLE shop_trust (
    vendor_id          bigint PRIMARY KEY REFERENCES vendors,
    score              smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
    rating             double precision,
    reviews            integer NOT NULL,
    orders             integer NOT NULL,
    refund_rate        double precision NOT NULL,
    late_shipment_rate double precision NOT NULL,
    dispute_rate       double precision,
    computed_at        timestamptz NOT NULL DEFAULT now()
);

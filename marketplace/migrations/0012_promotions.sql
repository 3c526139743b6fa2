-- Coupons, automatic discounts and loyalty points. Rules and their arithmetic: marketplace/promotions/.

-- audience: 'code' (buyers claim it with its code, or use the code at checkout), 'issued' (only buyers it
-- was issued to), 'automatic' (applies by itself to everyone in its window: a time-limited discount).
-- vendor_id: the vendor who funds it (its own lines only); NULL: the platform funds it.
CREATE TABLE coupons (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            citext UNIQUE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('threshold', 'percent', 'fixed', 'buy_x_get_y')),
    scope           text NOT NULL CHECK (scope IN ('platform', 'vendor', 'category', 'product')),
    scope_ids       bigint[] NOT NULL DEFAULT '{}',
    amount_off      bigint NOT NULL DEFAULT 0 CHECK (amount_off >= 0),
    percent_bp      integer NOT NULL DEFAULT 0 CHECK (percent_bp BETWEEN 0 AND 10000),
    max_discount    bigint CHECK (max_discount >= 0),
    min_spend       bigint NOT NULL DEFAULT 0 CHECK (min_spend >= 0),
    buy_quantity    integer NOT NULL DEFAULT 0 CHECK (buy_quantity >= 0),
    free_quantity   integer NOT NULL DEFAULT 0 CHECK (free_quantity >= 0),
    audience        text NOT NULL CHECK (audience IN ('code', 'issued', 'automatic')),
    min_tier        text NOT NULL DEFAULT 'member' CHECK (min_tier IN ('member', 'silver', 'gold')),
    vendor_id       bigint REFERENCES vendors,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL CHECK (ends_at > starts_at),
    total_limit     integer CHECK (total_limit > 0),
    per_buyer_limit integer NOT NULL DEFAULT 1 CHECK (per_buyer_limit > 0),
    redeemed        integer NOT NULL DEFAULT 0 CHECK (redeemed >= 0),
    disabled_at     timestamptz,
    created_by      bigint REFERENCES users,  -- NULL: made by the demo seed
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (total_limit IS NULL OR redeemed <= total_limit),
    CHECK ((audience = 'code') = (code IS NOT NULL))
);
CREATE INDEX coupons_automatic ON coupons (ends_at) WHERE audience = 'automatic' AND disabled_at IS NULL;
CREATE INDEX coupons_vendor ON coupons (vendor_id, id);

-- A buyer's wallet: coupons claimed with a code or issued by a marketer.
CREATE TABLE coupon_grants (
    coupon_id  bigint NOT NULL REFERENCES coupons,
    buyer_id   bigint NOT NULL REFERENCES users,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (buyer_id, coupon_id)
);
CREATE INDEX coupon_grants_coupon ON coupon_grants (coupon_id);

-- One row per checkout that used a coupon; 'released' when the checkout expired or was cancelled unpaid.
CREATE TABLE coupon_redemptions (
    checkout_id bigint PRIMARY KEY REFERENCES checkouts,
    coupon_id   bigint NOT NULL REFERENCES coupons,
    buyer_id    bigint NOT NULL REFERENCES users,
    amount      bigint NOT NULL CHECK (amount >= 0),
    status      text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'released')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coupon_redemptions_buyer ON coupon_redemptions (coupon_id, buyer_id) WHERE status = 'held';

-- Money off per line and per order, by who funds it: the vendor (its own coupons: commission is charged on
-- what it sells for) or the platform (its coupons and points: the vendor is paid as if at full price).
ALTER TABLE order_lines ADD COLUMN vendor_discount bigint NOT NULL DEFAULT 0 CHECK (vendor_discount >= 0),
                        ADD COLUMN platform_discount bigint NOT NULL DEFAULT 0 CHECK (platform_discount >= 0);
ALTER TABLE orders ADD COLUMN vendor_discount bigint NOT NULL DEFAULT 0 CHECK (vendor_discount >= 0),
                   ADD COLUMN platform_discount bigint NOT NULL DEFAULT 0 CHECK (platform_discount >= 0);
ALTER TABLE checkouts ADD COLUMN discount_total bigint NOT NULL DEFAULT 0 CHECK (discount_total >= 0),
                      ADD COLUMN coupon_id bigint REFERENCES coupons,
                      ADD COLUMN points_spent integer NOT NULL DEFAULT 0 CHECK (points_spent >= 0);

-- Loyalty points as a ledger: the balance is the sum. A refund claws back points earned (the balance may
-- go below zero) and returns points spent, in proportion; each order and kind posts at most once per
-- `ref` (the refund's cumulative amount), so a replayed event posts nothing.
CREATE TABLE loyalty_ledger (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users,
    delta       integer NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('earned', 'spent', 'returned', 'clawed_back', 'adjusted')),
    checkout_id bigint REFERENCES checkouts,
    order_id    bigint REFERENCES orders,
    ref         text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (kind, checkout_id, order_id, ref)
);
CREATE INDEX loyalty_ledger_user ON loyalty_ledger (user_id, id);

-- Group buying: a vendor offers one SKU at a group price to groups of `group_size` buyers; a group that has
-- not filled `group_minutes` after it was started expires and every member is refunded.
-- `seats_taken` counts members holding a seat (an unpaid checkout or a paid order), `paid` those who paid; a
-- join takes a seat with a conditional update on the group's row, so the CHECKs are the last guard only.
CREATE TABLE group_buy_deals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku_id          bigint NOT NULL REFERENCES skus,
    product_id      bigint NOT NULL REFERENCES products,
    vendor_id       bigint NOT NULL REFERENCES vendors,
    group_price     bigint NOT NULL CHECK (group_price > 0),
    group_size      integer NOT NULL CHECK (group_size BETWEEN 2 AND 100),
    group_minutes   integer NOT NULL CHECK (group_minutes BETWEEN 1 AND 43200),
    per_buyer_limit integer NOT NULL CHECK (per_buyer_limit > 0),  -- groups one buyer may be in, per deal
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL CHECK (ends_at > starts_at),  -- no group starts after this
    cancelled_at    timestamptz,
    created_by      bigint NOT NULL REFERENCES users,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX group_buy_deals_vendor ON group_buy_deals (vendor_id, id);
CREATE INDEX group_buy_deals_product ON group_buy_deals (product_id, id);

CREATE TABLE group_buys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deal_id     bigint NOT NULL REFERENCES group_buy_deals,
    leader_id   bigint NOT NULL REFERENCES users,
    size        integer NOT NULL,
    seats_taken integer NOT NULL DEFAULT 0 CHECK (seats_taken >= 0 AND seats_taken <= size),
    paid        integer NOT NULL DEFAULT 0 CHECK (paid >= 0 AND paid <= seats_taken),
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'filled', 'expired')),
    expires_at  timestamptz NOT NULL,
    filled_at   timestamptz,
    closed_at   timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX group_buys_deal ON group_buys (deal_id, id);
CREATE INDEX group_buys_open ON group_buys (expires_at) WHERE status = 'open';

-- One row per buyer per group (the primary key refuses a double join). `status`: held (checkout unpaid),
-- paid, left (cancelled or expired before the group filled: seat given back), refunded (the group expired).
-- The checkout and order are set later in the join's own transaction (so the SKU's row, which every join of
-- the deal reserves on, is held for as few statements as possible): committed rows always have them.
CREATE TABLE group_buy_members (
    group_id    bigint NOT NULL REFERENCES group_buys,
    buyer_id    bigint NOT NULL REFERENCES users,
    deal_id     bigint NOT NULL REFERENCES group_buy_deals,
    checkout_id bigint REFERENCES checkouts,
    order_id    bigint REFERENCES orders,
    status      text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'paid', 'left', 'refunded')),
    joined_at   timestamptz NOT NULL DEFAULT now(),
    paid_at     timestamptz,
    PRIMARY KEY (group_id, buyer_id)
);
CREATE UNIQUE INDEX group_buy_members_checkout ON group_buy_members (checkout_id);
CREATE UNIQUE INDEX group_buy_members_order ON group_buy_members (order_id);
CREATE INDEX group_buy_members_buyer ON group_buy_members (buyer_id, group_id);

-- Seats each buyer holds in a deal's groups, kept within the deal's per-buyer limit by a conditional upsert.
CREATE TABLE group_buy_buyers (
    deal_id  bigint NOT NULL REFERENCES group_buy_deals,
    buyer_id bigint NOT NULL REFERENCES users,
    seats    integer NOT NULL CHECK (seats >= 0),
    PRIMARY KEY (deal_id, buyer_id)
);

-- Raw browsing interactions are kept for a retention window (INTERACTION_RETENTION_DAYS); what is pruned
-- leaves its counts here, per day, product and kind (searches: per day, no product), so traffic history
-- outlives the rows that name who browsed.
CREATE TABLE interaction_days (
    day        date NOT NULL,
    kind       text NOT NULL,
    product_id bigint,
    events     bigint NOT NULL,
    units      bigint NOT NULL DEFAULT 0,  -- carts and purchases: the quantities
    UNIQUE NULLS NOT DISTINCT (day, kind, product_id)
);

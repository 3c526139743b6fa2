-- The hidden tastes the demo seed gave its buyers: ground truth for judging recommendations and segments.
-- Empty outside demo data.
CREATE TABLE demo_buyer_tastes (
    user_id           bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    leaf_category_ids bigint[] NOT NULL,
    weights           float8[] NOT NULL,
    activity          float8 NOT NULL,
    joined_week       integer NOT NULL,
    churn_week        integer
);

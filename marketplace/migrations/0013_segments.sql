-- Customer segments and targeted campaigns. Rules and arithmetic: analytics/segments.py, analytics/campaigns.py.

-- One computation of every segment, on a schedule or asked for by a marketer. The analytics worker claims
-- queued runs with FOR UPDATE SKIP LOCKED, so two workers never compute the same run.
CREATE TABLE segment_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    trigger      text NOT NULL CHECK (trigger IN ('schedule', 'request')),
    requested_by bigint REFERENCES users,
    customers    integer,
    summary      jsonb NOT NULL DEFAULT '{}',  -- clusters' k and silhouettes, the CLV fit, timings
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
CREATE INDEX segment_runs_done ON segment_runs (id) WHERE status = 'done';
-- At most one run waiting: asking again while one waits returns that one.
CREATE UNIQUE INDEX segment_runs_one_queued ON segment_runs ((true)) WHERE status = 'queued';

-- kind 'rfm': the ten named RFM segments; 'cluster': k-means clusters, named from their centres. A segment
-- is known across runs by (kind, key), which is how its trend is followed.
CREATE TABLE segments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES segment_runs ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('rfm', 'cluster')),
    key         text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL,
    members     integer NOT NULL CHECK (members >= 0),
    monetary    bigint NOT NULL,           -- what the members spent, in cents
    clv         bigint,                    -- their expected spend over the next 52 weeks (NULL: no fit)
    UNIQUE (run_id, kind, key)
);

CREATE TABLE segment_members (
    segment_id   bigint NOT NULL REFERENCES segments ON DELETE CASCADE,
    buyer_id     bigint NOT NULL REFERENCES users,
    recency_days real NOT NULL,
    frequency    integer NOT NULL,
    monetary     bigint NOT NULL,
    r            smallint NOT NULL,
    f            smallint NOT NULL,
    m            smallint NOT NULL,
    clv          bigint,
    PRIMARY KEY (segment_id, buyer_id)
);

-- A campaign: an issued-audience coupon and a message sent to a segment's members, less a random holdout.
CREATE TABLE campaigns (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL,
    segment_id    bigint NOT NULL REFERENCES segments,
    coupon_id     bigint NOT NULL REFERENCES coupons,
    message       text NOT NULL,
    holdout_share real NOT NULL CHECK (holdout_share > 0 AND holdout_share < 1),
    window_days   integer NOT NULL CHECK (window_days BETWEEN 1 AND 365),
    created_by    bigint NOT NULL REFERENCES users,
    launched_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaign_members (
    campaign_id bigint NOT NULL REFERENCES campaigns ON DELETE CASCADE,
    buyer_id    bigint NOT NULL REFERENCES users,
    arm         text NOT NULL CHECK (arm IN ('treatment', 'holdout')),
    PRIMARY KEY (campaign_id, buyer_id)
);

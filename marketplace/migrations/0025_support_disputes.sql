-- Customer service: internal notes on orders, extended after-sales windows, and disputes between buyers and shops
-- (a thread with an answer deadline; support decides once it escalates).

CREATE TABLE support_notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint NOT NULL REFERENCES orders,
    author_id  bigint NOT NULL REFERENCES users,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX support_notes_order ON support_notes (order_id, id);

-- Support reopened or lengthened an order's after-sales window: requests (and disputes) may open until `until`.
CREATE TABLE support_window_extensions (
    order_id    bigint PRIMARY KEY REFERENCES orders,
    until       timestamptz NOT NULL,
    extended_by bigint NOT NULL REFERENCES users,
    reason      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Read by risk control (trust scores, refund abuse): keep the column names.
CREATE TABLE disputes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        bigint REFERENCES orders,  -- NULL only for a complaint about a shop in general
    vendor_id       bigint NOT NULL REFERENCES vendors,
    buyer_id        bigint NOT NULL REFERENCES users,
    kind            text NOT NULL CHECK (kind IN ('not_received', 'not_as_described', 'complaint')),
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'answered', 'escalated', 'resolved', 'withdrawn')),
    reason          text NOT NULL,
    answer_due      timestamptz NOT NULL,  -- the shop's answer window
    escalated_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    resolved_by     bigint REFERENCES users,
    outcome         text CHECK (outcome IN ('refunded', 'reshipped', 'rejected', 'upheld')),
    refunded_amount bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    decision_note   text,
    CHECK (kind = 'complaint' OR order_id IS NOT NULL),
    CHECK ((resolved_at IS NULL) = (outcome IS NULL))  -- decided exactly when resolved (disputes.service.settle)
);
CREATE INDEX disputes_buyer ON disputes (buyer_id, id);
CREATE INDEX disputes_vendor ON disputes (vendor_id, id);
CREATE INDEX disputes_order ON disputes (order_id);
CREATE INDEX disputes_overdue ON disputes (answer_due) WHERE status = 'open';
CREATE INDEX disputes_queue ON disputes (status, id) WHERE status IN ('open', 'answered', 'escalated');
-- One live dispute of a kind per order (and one live general complaint per buyer and shop).
CREATE UNIQUE INDEX disputes_one_live_per_order ON disputes (order_id, kind)
    WHERE status IN ('open', 'answered', 'escalated') AND order_id IS NOT NULL;
CREATE UNIQUE INDEX disputes_one_live_complaint ON disputes (buyer_id, vendor_id)
    WHERE status IN ('open', 'answered', 'escalated') AND order_id IS NULL;

CREATE TABLE dispute_messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dispute_id  bigint NOT NULL REFERENCES disputes ON DELETE CASCADE,
    author_id   bigint REFERENCES users,  -- NULL: the marketplace itself (an escalation notice)
    author_role text NOT NULL CHECK (author_role IN ('buyer', 'vendor', 'support', 'system')),
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dispute_messages_dispute ON dispute_messages (dispute_id, id);

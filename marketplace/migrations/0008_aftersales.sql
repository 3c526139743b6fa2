-- After-sales: returns, exchanges and refund-only requests on delivered order lines, with a message thread.
CREATE TABLE aftersales_requests (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id             bigint NOT NULL REFERENCES orders,
    buyer_id             bigint NOT NULL REFERENCES users,
    vendor_id            bigint NOT NULL REFERENCES vendors,
    kind                 text NOT NULL CHECK (kind IN ('return', 'exchange', 'refund_only')),
    status               text NOT NULL DEFAULT 'requested'
                         CHECK (status IN ('requested', 'approved', 'rejected', 'return_shipped', 'return_received',
                                           'refunded', 'replacement_shipped', 'withdrawn')),
    reason               text NOT NULL,
    refund_cap           bigint NOT NULL DEFAULT 0 CHECK (refund_cap >= 0),
    refunded_amount      bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= refund_cap),
    decision_note        text,
    return_carrier       text,
    return_tracking      text,
    replacement_tracking text,
    restocked            boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX aftersales_buyer ON aftersales_requests (buyer_id, id);
CREATE INDEX aftersales_vendor ON aftersales_requests (vendor_id, status, id);
CREATE INDEX aftersales_order ON aftersales_requests (order_id);

CREATE TABLE aftersales_lines (
    request_id    bigint NOT NULL REFERENCES aftersales_requests ON DELETE CASCADE,
    order_line_id bigint NOT NULL REFERENCES order_lines,
    quantity      integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (request_id, order_line_id)
);

CREATE TABLE aftersales_messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id  bigint NOT NULL REFERENCES aftersales_requests ON DELETE CASCADE,
    author_id   bigint NOT NULL REFERENCES users,
    author_role text NOT NULL CHECK (author_role IN ('buyer', 'vendor', 'admin')),
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX aftersales_messages_request ON aftersales_messages (request_id, id);

-- Refunds per order line, capped at what the buyer paid. Each line's commission is fixed when its order is
-- paid; a refund posting names the line it gives money back for (NULL: the order's shipping, or a refund
-- booked before this migration against the whole order); an after-sales line keeps what the buyer paid for
-- the units it claims, and an exchange line the SKU it asks for instead.
ALTER TABLE order_lines ADD COLUMN commission bigint CHECK (commission >= 0);

ALTER TABLE ledger_entries ADD COLUMN order_line_id bigint REFERENCES order_lines;
CREATE INDEX ledger_entries_refunds ON ledger_entries (order_id, order_line_id) WHERE kind = 'refund';

ALTER TABLE aftersales_lines ADD COLUMN paid bigint NOT NULL DEFAULT 0 CHECK (paid >= 0),
                             ADD COLUMN replacement_sku_id bigint REFERENCES skus;

-- Requests opened before: their units' share of what was paid for the line, rounded down; a request still to
-- be refunded may refund no more than that.
UPDATE aftersales_lines al
SET paid = (l.line_total - l.vendor_discount - l.platform_discount) * al.quantity / l.quantity
FROM order_lines l WHERE l.id = al.order_line_id;
UPDATE aftersales_requests r
SET refund_cap = GREATEST(r.refunded_amount,
                          LEAST(r.refund_cap, (SELECT sum(al.paid) FROM aftersales_lines al WHERE al.request_id = r.id)))
WHERE r.kind <> 'exchange' AND r.status NOT IN ('refunded', 'rejected', 'withdrawn');

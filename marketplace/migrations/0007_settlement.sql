-- Commission rates and the double-entry ledger of every money movement.

-- The most specific rate applies: category (the product's category or its nearest ancestor with a rate),
-- then vendor, then the platform default. Rates are basis points (1000 = 10%).
CREATE TABLE commission_rates (
    scope    text NOT NULL CHECK (scope IN ('platform', 'vendor', 'category')),
    scope_id bigint NOT NULL DEFAULT 0,
    rate_bp  integer NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    PRIMARY KEY (scope, scope_id)
);
INSERT INTO commission_rates (scope, scope_id, rate_bp) VALUES ('platform', 0, 1000);

-- Each posting is a set of entries summing to zero. Accounts: 'gateway' (money held at the payment
-- provider), 'commission' (the platform's revenue), 'vendor:<id>' (what the platform owes a vendor).
-- A positive amount is a debit, a negative one a credit.
CREATE TABLE ledger_entries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    posting    uuid NOT NULL,
    account    text NOT NULL,
    amount     bigint NOT NULL,
    currency   text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('payment', 'refund', 'payout')),
    order_id   bigint REFERENCES orders,
    payout_id  bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_account ON ledger_entries (account, id);
CREATE INDEX ledger_entries_posting ON ledger_entries (posting);

CREATE TABLE payouts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vendor_id  bigint NOT NULL REFERENCES vendors,
    amount     bigint NOT NULL CHECK (amount > 0),
    currency   text NOT NULL,
    admin_id   bigint NOT NULL REFERENCES users,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ledger_entries ADD FOREIGN KEY (payout_id) REFERENCES payouts;

ALTER TABLE orders ADD COLUMN commission bigint;

-- Cash on delivery: a checkout is confirmed without payment, each order is paid in cash to the vendor's
-- courier on delivery, and the ledger records the commission the vendor then owes.

ALTER TABLE checkouts DROP CONSTRAINT checkouts_status_check;
ALTER TABLE checkouts ADD CONSTRAINT checkouts_status_check
    CHECK (status IN ('pending_payment', 'paid', 'cash_on_delivery', 'expired', 'cancelled'));

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending_payment', 'confirmed', 'paid', 'accepted', 'shipped', 'delivered', 'completed',
                      'cancelled'));
ALTER TABLE orders ADD COLUMN cash_on_delivery boolean NOT NULL DEFAULT false;

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('payment', 'cash_collected', 'refund', 'payout'));

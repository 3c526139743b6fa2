-- An account erased by its owner (POST /me/erase): its personal data is gone and it stays disabled; the row
-- remains so that its orders, payments and the ledger still add up.
ALTER TABLE users ADD COLUMN erased_at timestamptz;

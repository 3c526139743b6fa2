-- Personal data and secrets are sealed by the application (marketplace/core/fields.py) in the columns that held
-- them; a phone is found at login by a keyed hash beside it, which is therefore what is unique. Values written
-- before this migration are sealed when `serve` starts (marketplace/privacy/rotation.py).
ALTER TABLE users ADD COLUMN phone_digest bytea;
ALTER TABLE users DROP CONSTRAINT users_phone_key;
CREATE UNIQUE INDEX users_phone_digest ON users (phone_digest);

-- Where a shop's payouts go (account holder and IBAN or account number), sealed like the licence number.
ALTER TABLE vendors ADD COLUMN payout_account text NOT NULL DEFAULT '';

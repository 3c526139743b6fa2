-- A claimed Idempotency-Key remembers the PostgreSQL session doing its work: when that session is gone (its
-- worker crashed or was killed), a retry may take the key over at once instead of after five minutes.
ALTER TABLE idempotency_keys ADD COLUMN owner_pid integer, ADD COLUMN owner_started timestamptz;

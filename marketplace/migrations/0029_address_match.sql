-- Where an address is, as a keyed hash (core/fields.address_match): the lines are sealed, so orders shipped to
-- one address are grouped by this instead (risk control); copied into each checkout's snapshot like the lines.
ALTER TABLE addresses ADD COLUMN match_key text NOT NULL DEFAULT '';

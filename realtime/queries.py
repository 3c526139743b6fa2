"""All SQL of the live feed."""

# The relay. A session advisory lock elects one leader; it dies with the leader's connection.
TRY_LEAD = "SELECT pg_try_advisory_lock(hashtext('marketplace.feed.relay'))"
# Committed, not yet numbered: only committed rows are visible, so in-flight events wait their turn.
LAST_SEQ = "SELECT coalesce(max(seq), 0) FROM events"
PUBLISHED_SEQ = "SELECT published_seq FROM feed_relay"
SET_PUBLISHED = "UPDATE feed_relay SET published_seq = $1 WHERE published_seq < $1"
# One round of the relay in one statement (one round trip, one commit): number up to $2 committed events
# from $1 on, and record that everything up to $3 (the previous round) was published.
NUMBER_NEXT = """
WITH batch AS (
    SELECT id, $1::bigint - 1 + row_number() OVER (ORDER BY id) AS seq
    FROM events WHERE seq IS NULL ORDER BY id LIMIT $2
), marked AS (
    UPDATE feed_relay SET published_seq = $3 WHERE published_seq < $3
)
UPDATE events e SET seq = b.seq FROM batch b WHERE e.id = b.id
RETURNING b.seq, e.id, e.topic, e.type, e.payload::text AS data, e.created_at AS at
"""

# Reading the numbered feed: a hub filling a gap, a socket replaying what it missed.
FEED_COLUMNS = "seq AS id, topic, type, payload::text AS data, created_at AS at"
BETWEEN = f"SELECT {FEED_COLUMNS} FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
REPLAY = f"SELECT {FEED_COLUMNS} FROM events WHERE topic = ANY($1::text[]) AND seq > $2 ORDER BY seq LIMIT $3"

# Who may watch a product: listed products are public, their vendor sees them whatever their state.
PRODUCTS_VISIBLE = """
SELECT p.id FROM products p JOIN vendors v ON v.id = p.vendor_id
WHERE p.id = ANY($1::bigint[]) AND ((p.status = 'listed' AND v.status = 'active') OR p.vendor_id = $2)
"""

# Retention: events older than the window go, once published; a client can resume only within it.
PRUNE = """
DELETE FROM events WHERE id IN (
    SELECT id FROM events
    WHERE created_at < now() - make_interval(days => $1) AND seq <= (SELECT published_seq FROM feed_relay)
    ORDER BY id LIMIT $2
)
"""

-- The live feed. Identity ids are handed out when an event is written, so a transaction that commits
-- later can hold a lower id. The relay therefore numbers committed events itself, in the order it
-- publishes them: `seq` is the id clients see, resume from and drop duplicates by. It only ever grows.
ALTER TABLE events ADD COLUMN seq bigint UNIQUE;
UPDATE events SET seq = id;
DROP INDEX events_topic_id;
CREATE INDEX events_topic_seq ON events (topic, seq);
CREATE INDEX events_unsequenced ON events (id) WHERE seq IS NULL;

-- How far the relay has published: a new leader republishes from here (receivers drop duplicates).
CREATE TABLE feed_relay (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    published_seq bigint NOT NULL
);
INSERT INTO feed_relay (published_seq) SELECT coalesce(max(seq), 0) FROM events;

-- Wakes the relay at commit; polling covers a lost notification.
CREATE FUNCTION notify_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('feed', '');
    RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION notify_feed();

-- Notifications (in-app and email), account moderation's reason, password reset and email verification.

-- Why an admin disabled an account (NULL while active); the audit log keeps every decision.
ALTER TABLE users ADD COLUMN status_reason text;
-- Unverified accounts may sign in, browse and buy; accounts made before verification existed count as verified.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at WHERE email IS NOT NULL;

-- Single-use tokens mailed to an account's address, stored hashed (SHA-256 of the token).
CREATE TABLE account_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('password_reset', 'verify_email')),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose) WHERE used_at IS NULL;

-- One row per thing a user is told: shown in GET /me/notifications when `in_app`, and mailed when
-- `email_status` is pending. A mail that fails waits `next_attempt_at` (exponential back-off), then gives up.
CREATE TABLE notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    kind            text NOT NULL,
    -- What it tells of, once per user and kind: `event:<feed number>`, or `coupon:<id>` so a campaign's offer
    -- and its coupon make one notice; NULL for account mails (reset, verification).
    dedupe_key      text,
    title           text NOT NULL,
    data            jsonb NOT NULL,  -- the templates' context; emptied once an account mail is sent
    in_app          boolean NOT NULL,
    read_at         timestamptz,
    email_to        citext,
    email_status    text NOT NULL CHECK (email_status IN ('pending', 'sent', 'skipped', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- An event read twice (a leader that died before moving its cursor) notifies once.
CREATE UNIQUE INDEX notifications_once ON notifications (user_id, kind, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX notifications_inbox ON notifications (user_id, id) WHERE in_app;
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE in_app AND read_at IS NULL;
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE email_status = 'pending';

-- Per user and kind: whether to mail it (no row: yes). In-app notices are always kept.
CREATE TABLE notification_preferences (
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    kind    text NOT NULL,
    email   boolean NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- How far the leading notifier has read the feed (events.seq). It starts at the present: events from
-- before notifications existed are not mailed.
CREATE TABLE notifier_cursor (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_seq bigint NOT NULL
);
INSERT INTO notifier_cursor (last_seq) SELECT coalesce(max(seq), 0) FROM events;

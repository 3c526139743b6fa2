-- Accounts, vendor onboarding, the events outbox and the audit log.
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         citext UNIQUE,
    phone         text UNIQUE,
    password_hash text NOT NULL,
    display_name  text NOT NULL DEFAULT '',
    roles         text[] NOT NULL DEFAULT '{buyer}',
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    totp_secret   text,
    totp_enabled  boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (email IS NOT NULL OR phone IS NOT NULL),
    CHECK (roles <@ ARRAY['buyer', 'vendor', 'marketer', 'admin'])
);

-- Refresh tokens are stored hashed; rotation links each to its successor, and a family id lets the
-- reuse of an already-rotated token revoke the whole chain.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    family      uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE addresses (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    recipient   text NOT NULL,
    phone       text NOT NULL,
    line1       text NOT NULL,
    line2       text NOT NULL DEFAULT '',
    city        text NOT NULL,
    region      text NOT NULL DEFAULT '',
    postal_code text NOT NULL,
    country     text NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX addresses_user ON addresses (user_id);
CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id) WHERE is_default;

CREATE TABLE vendor_applications (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users,
    shop_name      text NOT NULL,
    description    text NOT NULL DEFAULT '',
    contact_email  text NOT NULL,
    contact_phone  text NOT NULL DEFAULT '',
    licence_number text NOT NULL,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    reason         text,
    reviewed_by    bigint REFERENCES users,
    reviewed_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX vendor_applications_one_pending ON vendor_applications (user_id) WHERE status = 'pending';
CREATE UNIQUE INDEX vendor_applications_pending_name
    ON vendor_applications (lower(shop_name)) WHERE status = 'pending';
CREATE INDEX vendor_applications_status ON vendor_applications (status, id);

CREATE TABLE vendors (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        bigint NOT NULL UNIQUE REFERENCES users,
    application_id bigint REFERENCES vendor_applications,
    shop_name      text NOT NULL,
    description    text NOT NULL DEFAULT '',
    contact_email  text NOT NULL,
    contact_phone  text NOT NULL DEFAULT '',
    licence_number text NOT NULL,
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    status_reason  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX vendors_shop_name ON vendors (lower(shop_name));

-- The outbox. `tx` is the writing transaction, which lets the relay tell committed events from
-- in-flight ones when ids are handed out in a different order than commits happen.
CREATE TABLE events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic      text NOT NULL,
    type       text NOT NULL,
    payload    jsonb NOT NULL,
    tx         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_topic_id ON events (topic, id);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id    bigint REFERENCES users,
    action      text NOT NULL,
    object_type text NOT NULL,
    object_id   text NOT NULL,
    before      jsonb,
    after       jsonb,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);

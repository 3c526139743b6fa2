-- Pre-sale questions: a buyer asks the shop selling a product; the shop answers once and may make the pair
-- public, and only then does anyone else see it (on the product page, without the asker's name).
CREATE TABLE product_questions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  bigint NOT NULL REFERENCES products ON DELETE CASCADE,
    vendor_id   bigint NOT NULL REFERENCES vendors,
    buyer_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    answer      text CHECK (length(answer) BETWEEN 1 AND 4000),
    answered_by bigint REFERENCES users ON DELETE SET NULL,
    answered_at timestamptz,
    is_public   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((answer IS NULL) = (answered_at IS NULL)),
    CHECK (NOT is_public OR answer IS NOT NULL)
);
CREATE INDEX product_questions_public ON product_questions (product_id, id) WHERE is_public;
CREATE INDEX product_questions_vendor ON product_questions (vendor_id, (answer IS NULL), id);
CREATE INDEX product_questions_buyer ON product_questions (buyer_id, product_id, id);

-- Account self-service. A session is a refresh-token family; what client started it (shown in the session list)
-- is recorded once, at sign-in. Rows of ended sessions are not shown and go with the account.
CREATE TABLE session_clients (
    family     uuid PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    user_agent text NOT NULL DEFAULT '',
    ip         text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_clients_user ON session_clients (user_id);

-- An email change is a mailed single-use link (account_tokens, purpose 'email_change') to the new address.
ALTER TABLE account_tokens ADD COLUMN new_email citext;
ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_purpose_check;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_purpose_check
    CHECK (purpose IN ('password_reset', 'verify_email', 'email_change'));
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_new_email_check
    CHECK ((purpose = 'email_change') = (new_email IS NOT NULL));

"""All SQL of the accounts domain."""

USER_COLUMNS = """id, email::text AS email, phone, display_name, roles, status, status_reason, totp_enabled,
email_verified_at, created_at"""

INSERT_USER = f"""
INSERT INTO users (email, phone, phone_digest, password_hash, display_name, roles)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {USER_COLUMNS}
"""

USER_BY_ID = f"SELECT {USER_COLUMNS} FROM users WHERE id = $1"

CREDENTIALS_BY_IDENTIFIER = """
SELECT id, password_hash, status, totp_enabled, totp_secret
FROM users WHERE email = $1::citext OR phone_digest = $2
"""

CREDENTIALS_BY_ID = "SELECT id, password_hash, totp_enabled, totp_secret FROM users WHERE id = $1"

UPDATE_PROFILE = f"""
UPDATE users SET display_name = COALESCE($2, display_name), updated_at = now()
WHERE id = $1
RETURNING {USER_COLUMNS}
"""

SET_PASSWORD = "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1"

SET_TOTP_SECRET = "UPDATE users SET totp_secret = $2, totp_enabled = false, updated_at = now() WHERE id = $1"
ENABLE_TOTP = "UPDATE users SET totp_enabled = true, updated_at = now() WHERE id = $1"
DISABLE_TOTP = "UPDATE users SET totp_enabled = false, totp_secret = NULL, updated_at = now() WHERE id = $1"

ROLES_FOR_UPDATE = "SELECT roles FROM users WHERE id = $1 FOR UPDATE"
USER_FOR_UPDATE = f"SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE"
SET_STATUS = f"""
UPDATE users SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}
"""
SET_ROLES = f"UPDATE users SET roles = $2, updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}"
ADD_ROLE = """
UPDATE users SET roles = array_append(roles, $2), updated_at = now()
WHERE id = $1 AND NOT ($2 = ANY(roles))
"""

LIST_USERS = f"""
SELECT {USER_COLUMNS} FROM users
WHERE ($1::bigint IS NULL OR id < $1)
  AND ($2::text IS NULL OR $2 = ANY(roles))
  AND ($3::text IS NULL OR email::text ILIKE $3 OR phone_digest = $4 OR display_name ILIKE $3)
ORDER BY id DESC
LIMIT $5
"""

# Refresh tokens
INSERT_REFRESH = "INSERT INTO refresh_tokens (token_hash, user_id, family, expires_at) VALUES ($1, $2, $3, $4)"
REFRESH_FOR_UPDATE = """
SELECT r.user_id, r.family, r.expires_at, r.revoked_at, u.status
FROM refresh_tokens r JOIN users u ON u.id = r.user_id
WHERE r.token_hash = $1
FOR UPDATE OF r
"""
REVOKE_REFRESH = "UPDATE refresh_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL"
REVOKE_FAMILY = "UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL"
# Every session of a user at once: a disabled account, a password reset.
REVOKE_ALL_OF_USER = "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"
REVOKE_OWN_FAMILY = """
UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND user_id = $2 AND revoked_at IS NULL
"""
REVOKE_OWN_REFRESH = """
UPDATE refresh_tokens SET revoked_at = now()
WHERE token_hash = $1 AND user_id = $2 AND revoked_at IS NULL
"""

# Addresses: every statement is scoped by user_id, so another user's address id is simply not found.
ADDRESS_COLUMNS = "id, recipient, phone, line1, line2, city, region, postal_code, country, is_default"
LIST_ADDRESSES = f"SELECT {ADDRESS_COLUMNS} FROM addresses WHERE user_id = $1 ORDER BY is_default DESC, id"
GET_ADDRESS = f"SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id = $1 AND user_id = $2"
COUNT_ADDRESSES = "SELECT count(*) FROM addresses WHERE user_id = $1"
CLEAR_DEFAULT = "UPDATE addresses SET is_default = false WHERE user_id = $1 AND is_default"
INSERT_ADDRESS = f"""
INSERT INTO addresses
    (user_id, recipient, phone, line1, line2, city, region, postal_code, country, is_default, match_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING {ADDRESS_COLUMNS}
"""
UPDATE_ADDRESS = f"""
UPDATE addresses SET
    recipient = COALESCE($3, recipient), phone = COALESCE($4, phone), line1 = COALESCE($5, line1),
    line2 = COALESCE($6, line2), city = COALESCE($7, city), region = COALESCE($8, region),
    postal_code = COALESCE($9, postal_code), country = COALESCE($10, country),
    is_default = COALESCE($11, is_default)
WHERE id = $1 AND user_id = $2
RETURNING {ADDRESS_COLUMNS}
"""
SET_ADDRESS_MATCH = "UPDATE addresses SET match_key = $2 WHERE id = $1"
DELETE_ADDRESS = "DELETE FROM addresses WHERE id = $1 AND user_id = $2 RETURNING is_default"
PROMOTE_OLDEST_ADDRESS = """
UPDATE addresses SET is_default = true
WHERE id = (SELECT id FROM addresses WHERE user_id = $1 ORDER BY id LIMIT 1)
"""
# Taken before changing a user's addresses, so concurrent requests keep exactly one default.
LOCK_USER = "SELECT 1 FROM users WHERE id = $1 FOR UPDATE"

# create-admin: a new admin, or an existing account promoted with a new password.
UPSERT_ADMIN = """
INSERT INTO users (email, password_hash, display_name, roles)
VALUES ($1, $2, $3, '{buyer,admin}')
ON CONFLICT (email) DO UPDATE SET
    password_hash = EXCLUDED.password_hash,
    roles = ARRAY(SELECT DISTINCT r FROM unnest(users.roles || '{admin}'::text[]) r ORDER BY r)
RETURNING id
"""

# Mailed single-use tokens (password reset, email verification), stored hashed.
ACTIVE_BY_EMAIL = "SELECT id, email::text AS email, phone FROM users WHERE email = $1::citext AND status = 'active'"
INSERT_ACCOUNT_TOKEN = """
INSERT INTO account_tokens (token_hash, user_id, purpose, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))
"""
# A new link replaces the older ones of the same purpose.
RETIRE_ACCOUNT_TOKENS = """
UPDATE account_tokens SET used_at = now() WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL
"""
ACCOUNT_TOKEN = """
SELECT t.user_id, t.expires_at, t.used_at, u.email::text AS email, u.phone, u.status
FROM account_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.purpose = $2
"""
# Spending a link: only an unused, unexpired token of that purpose; the row lock makes a concurrent second use
# find it used.
USE_ACCOUNT_TOKEN = """
UPDATE account_tokens SET used_at = now()
WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
RETURNING user_id
"""
MARK_EMAIL_VERIFIED = "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1"


# ---------------------------------------------------------------------------------------------------------------
# Account self-service (sessions.py, email_change.py): sessions as refresh-token families, changing the password,
# changing the email address with a mailed link.
# ---------------------------------------------------------------------------------------------------------------

# The client that signed in, recorded once per session: the family of the refresh token just issued.
RECORD_SESSION_CLIENT = """
INSERT INTO session_clients (family, user_id, user_agent, ip)
SELECT family, user_id, $2, $3 FROM refresh_tokens WHERE token_hash = $1
ON CONFLICT (family) DO NOTHING
"""
# A user's live sessions: families holding a refresh token neither revoked nor expired. Each renewal adds a row
# to the family, so its newest row tells when the session was last used (to within an access token's life).
LIVE_SESSIONS = """
SELECT r.family, min(r.created_at) AS created_at, max(r.created_at) AS last_used_at,
       max(r.expires_at) AS expires_at, coalesce(c.user_agent, '') AS user_agent, coalesce(c.ip, '') AS ip
FROM refresh_tokens r LEFT JOIN session_clients c ON c.family = r.family
WHERE r.user_id = $1
GROUP BY r.family, c.user_agent, c.ip
HAVING bool_or(r.revoked_at IS NULL AND r.expires_at > now())
ORDER BY max(r.created_at) DESC
LIMIT $2
"""
# Ending sessions; each answers how many refresh tokens it revoked (a live family holds one).
END_OWN_SESSION = """
WITH ended AS (
    UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND user_id = $2 AND revoked_at IS NULL
    RETURNING family
)
SELECT count(DISTINCT family) FROM ended
"""
END_OTHER_SESSIONS = """
WITH ended AS (
    UPDATE refresh_tokens SET revoked_at = now()
    WHERE user_id = $1 AND revoked_at IS NULL AND family IS DISTINCT FROM $2
    RETURNING family
)
SELECT count(DISTINCT family) FROM ended
"""
FORGET_SESSION_CLIENTS = """
DELETE FROM session_clients c WHERE c.user_id = $1
  AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family = c.family AND r.revoked_at IS NULL)
"""

PASSWORD_OF = "SELECT password_hash, email::text AS email, phone FROM users WHERE id = $1 AND status = 'active'"
# Compare-and-set on the hash that was checked: of two changes racing with the same current password, one wins.
SWAP_PASSWORD = """
UPDATE users SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2 RETURNING id
"""

EMAIL_TAKEN = "SELECT EXISTS (SELECT 1 FROM users WHERE email = $1::citext)"
INSERT_EMAIL_CHANGE = """
INSERT INTO account_tokens (token_hash, user_id, purpose, expires_at, new_email)
VALUES ($1, $2, 'email_change', now() + make_interval(secs => $3), $4)
"""
# Spending an email-change link: unused, unexpired, its account active; the row lock makes a second use find it
# used.
USE_EMAIL_CHANGE = """
UPDATE account_tokens t SET used_at = now()
FROM users u
WHERE t.token_hash = $1 AND t.purpose = 'email_change' AND t.used_at IS NULL AND t.expires_at > now()
  AND u.id = t.user_id AND u.status = 'active'
RETURNING t.user_id, t.new_email::text AS new_email
"""
EMAIL_FOR_UPDATE = "SELECT email::text AS email FROM users WHERE id = $1 FOR UPDATE"
# The link reached the new address, so it is verified as it is set.
SET_EMAIL = "UPDATE users SET email = $2, email_verified_at = now(), updated_at = now() WHERE id = $1"

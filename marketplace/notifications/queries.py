"""All SQL of the notifications domain."""

# The notifier. A session advisory lock elects one leader across every worker and machine.
TRY_LEAD = "SELECT pg_try_advisory_lock(hashtext('marketplace.notifier'))"
CURSOR = "SELECT last_seq FROM notifier_cursor"
SET_CURSOR = "UPDATE notifier_cursor SET last_seq = $1 WHERE last_seq < $1"
# The feed in the relay's numbering (events.seq): gap-free in commit order, unlike ids, which are handed out
# before commit (an event committed late under a lower id would be skipped by an id cursor).
EVENTS_AFTER = "SELECT seq, topic, type, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"
VENDOR_OWNERS = "SELECT id, user_id FROM vendors WHERE id = ANY($1::bigint[])"
# Who gets mail of each kind: the address, unless the user turned the kind off or the account is disabled.
RECIPIENTS = """
SELECT DISTINCT u.id, w.kind, u.email::text AS email,
       u.email IS NOT NULL AND u.status = 'active' AND coalesce(p.email, true)
       -- offers only to a confirmed address, so nobody signs a stranger up for marketing mail
       AND (w.kind <> 'campaign_offer' OR u.email_verified_at IS NOT NULL) AS wants
FROM unnest($1::bigint[], $2::text[]) AS w(user_id, kind)
JOIN users u ON u.id = w.user_id
LEFT JOIN notification_preferences p ON p.user_id = w.user_id AND p.kind = w.kind
"""
INSERT_NOTICES = """
INSERT INTO notifications (user_id, kind, dedupe_key, title, data, in_app, email_to, email_status, next_attempt_at)
SELECT n.user_id, n.kind, n.dedupe_key, n.title, n.data, true, n.email_to,
       CASE WHEN n.email_to IS NULL THEN 'skipped' ELSE 'pending' END, now()
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[])
     AS n(user_id, kind, dedupe_key, title, data, email_to)
ON CONFLICT (user_id, kind, dedupe_key) WHERE dedupe_key IS NOT NULL
DO UPDATE SET data = notifications.data || EXCLUDED.data
"""
# Account mails: queued in the transaction that makes their token.
INSERT_ACCOUNT_MAIL = """
INSERT INTO notifications (user_id, kind, title, data, in_app, email_to, email_status, next_attempt_at)
VALUES ($1, $2, $3, $4, false, $5, 'pending', now())
"""

# Sending. Due mails in order; each is marked by itself, so a crash mid-batch resends at most one mail.
DUE = """
SELECT id, user_id, kind, title, data, email_to::text AS email_to, attempts FROM notifications
WHERE email_status = 'pending' AND next_attempt_at <= now()
ORDER BY next_attempt_at, id LIMIT $1
"""
# Sent: an account mail's context (its token link) is not kept once it has left.
MARK_SENT = """
UPDATE notifications SET email_status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL,
    data = CASE WHEN in_app THEN data ELSE '{}'::jsonb END
WHERE id = $1
"""
MARK_FAILED = """
UPDATE notifications SET attempts = attempts + 1, last_error = $2,
    email_status = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END,
    next_attempt_at = now() + make_interval(secs => $4)
WHERE id = $1
"""
# A mail still waiting when its kind is turned off (or the account disabled) is not sent.
STILL_WANTED = """
SELECT u.status = 'active' AND (NOT n.in_app OR coalesce(p.email, true))
FROM notifications n JOIN users u ON u.id = n.user_id
LEFT JOIN notification_preferences p ON p.user_id = n.user_id AND p.kind = n.kind
WHERE n.id = $1
"""
SKIP = "UPDATE notifications SET email_status = 'skipped' WHERE id = $1"

# The inbox: every statement is scoped by user_id, so another user's notification is simply not found.
NOTICE_COLUMNS = "id, kind, title, data, read_at, created_at"
LIST_NOTICES = f"""
SELECT {NOTICE_COLUMNS} FROM notifications
WHERE user_id = $1 AND in_app AND ($2::bigint IS NULL OR id < $2) AND (NOT $3 OR read_at IS NULL)
ORDER BY id DESC LIMIT $4
"""
UNREAD_COUNT = "SELECT count(*) FROM notifications WHERE user_id = $1 AND in_app AND read_at IS NULL"
MARK_READ = f"""
UPDATE notifications SET read_at = coalesce(read_at, now())
WHERE id = $1 AND user_id = $2 AND in_app
RETURNING {NOTICE_COLUMNS}
"""
MARK_ALL_READ = "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND in_app AND read_at IS NULL"

PREFERENCES = "SELECT kind, email FROM notification_preferences WHERE user_id = $1"
SET_PREFERENCE = """
INSERT INTO notification_preferences (user_id, kind, email) VALUES ($1, $2, $3)
ON CONFLICT (user_id, kind) DO UPDATE SET email = EXCLUDED.email
"""
USER_EXISTS = "SELECT 1 FROM users WHERE id = $1"

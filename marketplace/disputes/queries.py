"""All SQL of disputes."""

# What opening a dispute on order $1 decides on: its owner, status, expected arrival, when it was shipped and
# delivered (from its history), and until when support extended its after-sales window.
ORDER_FOR_DISPUTE = """
SELECT o.id, o.buyer_id, o.vendor_id, o.status, o.estimated_arrival,
       (SELECT max(h.at) FROM order_history h WHERE h.order_id = o.id AND h.to_status = 'shipped') AS shipped_at,
       (SELECT max(h.at) FROM order_history h WHERE h.order_id = o.id AND h.to_status = 'delivered') AS delivered_at,
       (SELECT x.until FROM support_window_extensions x WHERE x.order_id = o.id) AS window_until
FROM orders o WHERE o.id = $1
"""
HAS_ORDERED_FROM = "SELECT EXISTS (SELECT 1 FROM orders WHERE buyer_id = $1 AND vendor_id = $2)"
INSERT_DISPUTE = """
INSERT INTO disputes (order_id, vendor_id, buyer_id, kind, reason, answer_due)
VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))
RETURNING id
"""
INSERT_MESSAGE = """
INSERT INTO dispute_messages (dispute_id, author_id, author_role, body) VALUES ($1, $2, $3, $4)
"""
COLUMNS = """id, order_id, vendor_id, buyer_id, kind, status, reason, answer_due, escalated_at, created_at, updated_at,
resolved_at, outcome, refunded_amount, decision_note"""
GET_DISPUTE = f"SELECT {COLUMNS} FROM disputes WHERE id = $1"
DISPUTE_FOR_UPDATE = f"SELECT {COLUMNS} FROM disputes WHERE id = $1 FOR UPDATE"
MESSAGES_OF = """
SELECT dispute_id, id, author_id, author_role, body, created_at FROM dispute_messages
WHERE dispute_id = ANY($1::bigint[]) ORDER BY id
"""
SET_STATUS = """
UPDATE disputes SET status = $2, updated_at = now(),
    escalated_at = CASE WHEN $2 = 'escalated' THEN now() ELSE escalated_at END
WHERE id = $1
"""
SETTLE = """
UPDATE disputes SET status = 'resolved', updated_at = now(), resolved_at = now(), resolved_by = $2, outcome = $3,
    refunded_amount = refunded_amount + $4, decision_note = $5
WHERE id = $1
"""
# A buyer's ($1) or a shop's ($2) disputes, or everyone's; by status; newest first.
LIST_DISPUTES = f"""
SELECT {COLUMNS} FROM disputes
WHERE ($1::bigint IS NULL OR buyer_id = $1) AND ($2::bigint IS NULL OR vendor_id = $2)
  AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR order_id = $4) AND ($5::bigint IS NULL OR id < $5)
ORDER BY id DESC LIMIT $6
"""
# Support's queue: the live disputes, escalated first (oldest escalation first), then by the shop's deadline.
QUEUE = f"""
SELECT {COLUMNS}, count(*) OVER () AS total FROM disputes
WHERE status IN ('open', 'answered', 'escalated') AND ($1::text IS NULL OR status = $1)
ORDER BY status = 'escalated' DESC, coalesce(escalated_at, answer_due), id
LIMIT $2 OFFSET $3
"""
# Disputes whose shop let its answer window pass, locked; those another worker holds are skipped.
OVERDUE = f"""
SELECT {COLUMNS} FROM disputes WHERE status = 'open' AND answer_due <= now()
ORDER BY answer_due LIMIT $1 FOR UPDATE SKIP LOCKED
"""
DISPUTES_OF_ORDER = f"SELECT {COLUMNS} FROM disputes WHERE order_id = $1 ORDER BY id"

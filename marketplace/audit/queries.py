"""All SQL of the audit domain (writing lives in marketplace.core.audit, next to the services)."""

LIST_AUDIT = """
SELECT id, actor_id, action, object_type, object_id, before, after, at FROM audit_log
WHERE ($1::bigint IS NULL OR id < $1)
  AND ($2::text IS NULL OR object_type = $2)
  AND ($3::text IS NULL OR object_id = $3)
  AND ($4::bigint IS NULL OR actor_id = $4)
  AND ($5::text IS NULL OR action = $5)
ORDER BY id DESC
LIMIT $6
"""

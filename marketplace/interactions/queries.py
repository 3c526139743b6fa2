"""All SQL of browsing interactions (the recorder writes them with COPY)."""

# One batch of the retention window's pruning: delete the oldest raw rows beyond it and add their counts
# to interaction_days, in one statement, so a count is added exactly when its rows are deleted (two
# processes pruning at once cannot count a row twice: a row's delete happens once).
PRUNE_BATCH = """
WITH gone AS (
    DELETE FROM interactions WHERE id IN (
        SELECT id FROM interactions WHERE occurred_at < now() - make_interval(days => $1) ORDER BY id LIMIT $2
    )
    RETURNING (occurred_at AT TIME ZONE 'UTC')::date AS day, kind, product_id, coalesce(quantity, 0) AS units
), counted AS (
    INSERT INTO interaction_days AS d (day, kind, product_id, events, units)
    SELECT day, kind, product_id, count(*), sum(units) FROM gone GROUP BY day, kind, product_id
    ON CONFLICT (day, kind, product_id) DO UPDATE SET events = d.events + EXCLUDED.events,
                                                     units = d.units + EXCLUDED.units
)
SELECT count(*) FROM gone
"""

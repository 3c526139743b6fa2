"""All SQL of customer segments and campaigns."""

# A purchase is a checkout with at least one order that was paid (or confirmed for cash on delivery) and not
# cancelled; it is worth what those orders cost.
PAID = "('paid', 'confirmed', 'accepted', 'shipped', 'delivered', 'completed')"
PURCHASES = f"""
SELECT o.buyer_id, c.created_at, sum(o.total)::bigint AS total
FROM orders o JOIN checkouts c ON c.id = o.checkout_id
WHERE o.status IN {PAID}
GROUP BY o.buyer_id, o.checkout_id, c.created_at
"""

# Runs: at most one waits at a time (a unique partial index); the worker claims it without blocking others.
REQUEST_RUN = """
INSERT INTO segment_runs (trigger, requested_by) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING id
"""
QUEUED_RUN = "SELECT id FROM segment_runs WHERE status = 'queued'"
CLAIM_QUEUED = """
UPDATE segment_runs SET status = 'running', started_at = now() WHERE id = $1 AND status = 'queued' RETURNING id
"""
CLAIM_RUN = """
UPDATE segment_runs SET status = 'running', started_at = now()
WHERE id = (SELECT id FROM segment_runs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""
# A run left running by a worker that died is marked failed after an hour, so the schedule goes on.
ABANDON_RUNS = """
UPDATE segment_runs SET status = 'failed', finished_at = now(), error = 'abandoned: the worker stopped'
WHERE status = 'running' AND started_at < now() - interval '1 hour'
"""
LAST_RUN_AT = "SELECT max(created_at) FROM segment_runs WHERE status <> 'failed'"
FINISH_RUN = """
UPDATE segment_runs SET status = 'done', finished_at = now(), customers = $2, summary = $3 WHERE id = $1
"""
FAIL_RUN = "UPDATE segment_runs SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1"
_RUN = """
SELECT id, status, trigger, requested_by, customers, summary, error, created_at, started_at, finished_at
FROM segment_runs
"""
GET_RUN = _RUN + "WHERE id = $1"
RUNS = _RUN + "WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"

INSERT_SEGMENTS = """
INSERT INTO segments (run_id, kind, key, name, description, members, monetary, clv)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::bigint[])
RETURNING id, kind, key
"""
MEMBER_COLUMNS = ("segment_id", "buyer_id", "recency_days", "frequency", "monetary", "r", "f", "m", "clv")

# The newest finished run's segments, each with its sizes in up to `$2` runs before (oldest first).
LATEST_SEGMENTS = """
WITH latest AS (SELECT max(id) AS id FROM segment_runs WHERE status = 'done')
SELECT s.id, s.run_id, s.kind, s.key, s.name, s.description, s.members, s.monetary, s.clv, r.finished_at,
       coalesce((SELECT array_agg(members ORDER BY run_id) FROM (
           SELECT p.members, p.run_id FROM segments p JOIN segment_runs pr ON pr.id = p.run_id
           WHERE p.kind = s.kind AND p.key = s.key AND p.run_id < s.run_id AND pr.status = 'done'
           ORDER BY p.run_id DESC LIMIT $2) before), '{}') AS before
FROM segments s JOIN latest ON s.run_id = latest.id JOIN segment_runs r ON r.id = s.run_id
WHERE ($1::text IS NULL OR s.kind = $1)
ORDER BY s.kind DESC, s.members DESC, s.key
"""
GET_SEGMENT = """
SELECT s.id, s.run_id, s.kind, s.key, s.name, s.description, s.members, s.monetary, s.clv, r.finished_at,
       '{}'::int[] AS before
FROM segments s JOIN segment_runs r ON r.id = s.run_id WHERE s.id = $1
"""
MEMBERS = """
SELECT m.buyer_id, u.email, m.recency_days, m.frequency, m.monetary, m.r, m.f, m.m, m.clv
FROM segment_members m JOIN users u ON u.id = m.buyer_id
WHERE m.segment_id = $1 AND ($2::bigint IS NULL OR m.buyer_id > $2)
ORDER BY m.buyer_id LIMIT $3
"""
MEMBER_IDS = "SELECT buyer_id FROM segment_members WHERE segment_id = $1 ORDER BY buyer_id"
# Which of these buyers hold the coupon already (in their wallet, used or not).
HOLDERS = "SELECT buyer_id FROM coupon_grants WHERE coupon_id = $1 AND buyer_id = ANY($2::bigint[])"

# Campaigns.
INSERT_CAMPAIGN = """
INSERT INTO campaigns (name, segment_id, coupon_id, message, holdout_share, window_days, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id, launched_at
"""
INSERT_ARMS = """
INSERT INTO campaign_members (campaign_id, buyer_id, arm)
SELECT $1, * FROM unnest($2::bigint[], $3::text[])
"""
_CAMPAIGN = """
SELECT c.id, c.name, c.segment_id, s.name AS segment, c.coupon_id, c.message, c.holdout_share, c.window_days,
       c.created_by, c.launched_at,
       count(*) FILTER (WHERE m.arm = 'treatment')::int AS treatment,
       count(*) FILTER (WHERE m.arm = 'holdout')::int AS holdout,
       (s.members - count(m.buyer_id))::int AS excluded
FROM campaigns c JOIN segments s ON s.id = c.segment_id LEFT JOIN campaign_members m ON m.campaign_id = c.id
"""
GET_CAMPAIGN = _CAMPAIGN + "WHERE c.id = $1 GROUP BY c.id, s.id"
CAMPAIGNS = _CAMPAIGN + "WHERE ($1::bigint IS NULL OR c.id < $1) GROUP BY c.id, s.id ORDER BY c.id DESC LIMIT $2"

# Per member, what happened in the campaign's window: purchases (as in PURCHASES) placed after launch and
# before the window closed, their value, and whether one used the campaign's coupon.
OUTCOMES = f"""
SELECT m.buyer_id, m.arm,
       count(p.checkout_id)::int AS purchases,
       coalesce(sum(p.total), 0)::bigint AS revenue,
       coalesce(bool_or(p.coupon_id = c.coupon_id), false) AS redeemed
FROM campaigns c
JOIN campaign_members m ON m.campaign_id = c.id
LEFT JOIN LATERAL (
    SELECT k.id AS checkout_id, k.coupon_id, sum(o.total)::bigint AS total
    FROM checkouts k JOIN orders o ON o.checkout_id = k.id
    WHERE k.buyer_id = m.buyer_id AND k.created_at >= c.launched_at
      AND k.created_at < c.launched_at + make_interval(days => c.window_days)
      AND o.status IN {PAID}
    GROUP BY k.id
) p ON true
WHERE c.id = $1
GROUP BY m.buyer_id, m.arm
"""

# Sales metrics. $1, $2: the period [start, end) as timestamps; $3: the grain ('day' or 'week', which starts on
# Monday); $4: a vendor id, or NULL for the platform. Buckets are UTC days or weeks, empty ones included.
# A purchase is as in PURCHASES, narrowed to the vendor's own orders when $4 is given.
_BUCKETS = """
buckets AS (
    SELECT generate_series(date_trunc($3, $1::timestamptz AT TIME ZONE 'UTC'),
                           date_trunc($3, ($2::timestamptz - interval '1 second') AT TIME ZONE 'UTC'),
                           ('1 ' || $3)::interval) AS bucket
)"""
SALES = f"""
WITH {_BUCKETS},
purchases AS (
    SELECT o.checkout_id, o.buyer_id, date_trunc($3, c.created_at AT TIME ZONE 'UTC') AS bucket,
           sum(o.total)::bigint AS total
    FROM orders o JOIN checkouts c ON c.id = o.checkout_id
    WHERE o.status IN {PAID} AND c.created_at >= $1 AND c.created_at < $2 AND ($4::bigint IS NULL OR o.vendor_id = $4)
    GROUP BY o.checkout_id, o.buyer_id, c.created_at
),
firsts AS (  -- each buyer's first purchase ever (in scope), to tell returning buyers from new ones
    SELECT o.buyer_id, min(c.created_at AT TIME ZONE 'UTC') AS first_at
    FROM orders o JOIN checkouts c ON c.id = o.checkout_id
    WHERE o.status IN {PAID} AND ($4::bigint IS NULL OR o.vendor_id = $4)
      AND o.buyer_id IN (SELECT buyer_id FROM purchases)
    GROUP BY o.buyer_id
)
SELECT b.bucket::date AS period, coalesce(sum(p.total), 0)::bigint AS gmv, count(p.checkout_id)::int AS orders,
       count(DISTINCT p.buyer_id)::int AS buyers,
       count(DISTINCT p.buyer_id) FILTER (WHERE f.first_at < b.bucket)::int AS returning_buyers
FROM buckets b LEFT JOIN purchases p ON p.bucket = b.bucket LEFT JOIN firsts f ON f.buyer_id = p.buyer_id
GROUP BY b.bucket ORDER BY b.bucket
"""
# Visitors are signed-in users or anonymous sessions; ordering and paying are counted per buyer. The distinct
# visitors of a period are a large hash or sort: run it with ANALYTICS_WORK_MEM so it stays in memory.
ANALYTICS_WORK_MEM = "SET LOCAL work_mem = '64MB'"
FUNNEL = f"""
WITH {_BUCKETS},
seen AS (  -- a visitor is the signed-in user, else the anonymous session
    SELECT bucket, count(*) FILTER (WHERE kind = 'view') AS viewed, count(*) FILTER (WHERE kind = 'cart') AS carted
    FROM (SELECT DISTINCT date_trunc($3, i.occurred_at AT TIME ZONE 'UTC') AS bucket, i.kind, i.user_id,
                          CASE WHEN i.user_id IS NULL THEN i.session_id END AS session_id
          FROM interactions i
          WHERE i.kind IN ('view', 'cart') AND i.occurred_at >= $1 AND i.occurred_at < $2
            AND ($4::bigint IS NULL OR i.product_id IN (SELECT id FROM products WHERE vendor_id = $4))) visitors
    GROUP BY bucket
),
placed AS (
    SELECT bucket, count(*) AS ordered, count(*) FILTER (WHERE paid) AS paid
    FROM (SELECT date_trunc($3, c.created_at AT TIME ZONE 'UTC') AS bucket, o.buyer_id,
                 bool_or(o.status IN {PAID}) AS paid
          FROM orders o JOIN checkouts c ON c.id = o.checkout_id
          WHERE c.created_at >= $1 AND c.created_at < $2 AND ($4::bigint IS NULL OR o.vendor_id = $4)
          GROUP BY 1, 2) per_buyer
    GROUP BY bucket
)
SELECT b.bucket::date AS period, coalesce(s.viewed, 0)::int AS viewed, coalesce(s.carted, 0)::int AS carted,
       coalesce(o.ordered, 0)::int AS ordered, coalesce(o.paid, 0)::int AS paid
FROM buckets b LEFT JOIN seen s ON s.bucket = b.bucket LEFT JOIN placed o ON o.bucket = b.bucket
ORDER BY b.bucket
"""
_TOP = f"""
SELECT {{key}} AS id, {{name}} AS name, sum(l.quantity)::int AS units,
       sum(l.line_total - l.vendor_discount - l.platform_discount)::bigint AS revenue,
       count(DISTINCT o.id)::int AS orders
FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN checkouts c ON c.id = o.checkout_id
JOIN products p ON p.id = l.product_id JOIN categories k ON k.id = p.category_id
WHERE o.status IN {PAID} AND c.created_at >= $1 AND c.created_at < $2 AND ($3::bigint IS NULL OR o.vendor_id = $3)
GROUP BY 1, 2 ORDER BY revenue DESC, id LIMIT $4
"""
TOP_PRODUCTS = _TOP.format(key="p.id", name="p.title")
TOP_CATEGORIES = _TOP.format(key="k.id", name="k.name")

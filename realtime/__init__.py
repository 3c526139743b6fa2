"""Real time: committed events from the outbox reach WebSocket subscribers, in order and without loss.

    events table ─(NOTIFY / poll)→ relay (one leader) ─ Redis channel `feed` → hub (every worker) → sockets

The relay numbers each committed event (`seq`, the `id` clients see) and publishes batches to one Redis
channel; every app process's hub receives every batch, notices any gap in the numbers and fills it from
PostgreSQL, and hands each event to the sockets subscribed to its topic. A socket that reconnects with its
last id gets what it missed replayed from PostgreSQL before the live stream continues. The protocol is in
docs/realtime.md.
"""

CHANNEL = "feed"  # the Redis channel the relay publishes to
NOTIFY_CHANNEL = "feed"  # the PostgreSQL channel the events trigger notifies at commit

# Close codes. 1008 (policy violation) is the standard code for a bad or expired token.
CLOSE_POLICY = 1008
CLOSE_RESUME = 4000  # too far behind: reconnect and resume from your last id

"""GET /metrics in Prometheus text format, and what feeds it.

- Requests: one histogram, `marketplace_http_request_duration_seconds{method, route, status}`, observed by
  `RequestMetrics`, which wraps the whole app so that it sees every response's final status (401s from the
  auth middleware, 404s for paths no route serves). `route` is Litestar's route template
  (`/products/{product_id}`), never the raw path; paths no route serves share `route="unmatched"`.
- Figures kept elsewhere (the PostgreSQL pool, the feed's hub and relay) are read when they are scraped; open
  sockets and flash-sale gate answers are counted where they happen (realtime/feed.py, flash_sales/service.py).
- Several workers (`marketplace serve --workers N`) share one view through prometheus-client's multiprocess
  mode: `serve` points PROMETHEUS_MULTIPROC_DIR at `<data dir>/prometheus` (emptied at start), each worker
  writes its figures there (its gauges every `SAMPLE_SECONDS`, and at once when it serves the scrape) and
  whichever worker serves the scrape reports all of them. Without that variable each process reports its own.

Every metric and its labels are listed in docs/operations.md ("Metrics").
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

import asyncpg
from litestar import Response, get
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from marketplace.core.auth import bearer_token, caller_of
from marketplace.core.deps import AppState
from marketplace.core.errors import Forbidden

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")  # prometheus-client reads it once, at import
SAMPLE_SECONDS = 5.0  # with several workers, how old another worker's gauges may be
READ_TIMEOUT_SECONDS = 2.0
BACKLOG_CAP = 100_000
# Litestar adds the charset to text/* types itself.
MEDIA_TYPE = CONTENT_TYPE_LATEST.removesuffix("; charset=utf-8")

disable_created_metrics()  # no `_created` series beside every counter and histogram: half the scrape's size

# Latency buckets around this app's targets: cached pages and the refused flash-sale crowd in a few ms,
# checkouts under 100 ms, admitted flash-sale buyers under 250 ms.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUEST_SECONDS = Histogram(
    "marketplace_http_request_duration_seconds",
    "HTTP requests: time from arrival to the response's last byte, by method, route template and status code",
    ("method", "route", "status"),
    buckets=BUCKETS,
)
POOL_SIZE = Gauge(
    "marketplace_db_pool_size",
    "Connections open in the PostgreSQL pool (summed over workers)",
    multiprocess_mode="livesum",
)
POOL_IN_USE = Gauge(
    "marketplace_db_pool_in_use",
    "Connections of the PostgreSQL pool lent out to a request or task (summed over workers)",
    multiprocess_mode="livesum",
)
FEED_SOCKETS = Gauge(
    "marketplace_feed_sockets", "Open /feed WebSockets (summed over workers)", multiprocess_mode="livesum"
)
FEED_TOPICS = Gauge(
    "marketplace_feed_topics",
    "Topics watched by at least one socket, counted per worker and summed",
    multiprocess_mode="livesum",
)
FEED_PUBLISHED = Gauge(
    "marketplace_feed_published_id",
    "Id of the last event the relay published (feed_relay.published_seq); NaN when PostgreSQL did not answer",
    multiprocess_mode="mostrecent",
)
FEED_DELIVERED = Gauge(
    "marketplace_feed_delivered_id",
    "Id of the last event this worker's hub handed to its sockets",
    multiprocess_mode="liveall",
)
FEED_LAG = Gauge(
    "marketplace_feed_lag_events",
    "Events published but not yet handed to this worker's sockets; NaN when unknown",
    multiprocess_mode="liveall",
)
FEED_BACKLOG = Gauge(
    "marketplace_feed_outbox_backlog",
    f"Committed events the relay has not numbered yet (counted up to {BACKLOG_CAP}); NaN when PostgreSQL did not "
    "answer",
    multiprocess_mode="mostrecent",
)
RELAY_LEADING = Gauge(
    "marketplace_feed_relay_leading",
    "1 in the worker whose relay leads (summed over workers: 1 is healthy, 0 means no relay is publishing)",
    multiprocess_mode="livesum",
)
FEED_DOWN = Gauge(
    "marketplace_feed_down",
    "1 while the feed's hub or relay is in an outage (cannot reach PostgreSQL or Redis), in any worker",
    ("component",),
    multiprocess_mode="livemax",
)
FLASH_SALE_ATTEMPTS = Counter(
    "marketplace_flash_sale_attempts",
    "Flash-sale purchase attempts by the gate's answer (admitted, or the reason for refusing)",
    ("outcome",),
)

# The gate's answers (flash_sales/gate.py), plus `unavailable` when Redis does not answer. Bound up front: the
# purchase path increments a child it already holds.
FLASH_SALE_OUTCOMES = ("admitted", "sold_out", "limit_reached", "not_started", "ended", "rate_limited", "unavailable")
_flash_sale_outcomes = {outcome: FLASH_SALE_ATTEMPTS.labels(outcome) for outcome in FLASH_SALE_OUTCOMES}
HUB_DOWN = FEED_DOWN.labels("hub")
RELAY_DOWN = FEED_DOWN.labels("relay")


def count_flash_sale(outcome: str) -> None:
    """One purchase attempt answered `outcome` by the gate (anything unforeseen counts as sold out, as the
    purchase path answers it)."""
    _flash_sale_outcomes.get(outcome, _flash_sale_outcomes["sold_out"]).inc()


# Requests -------------------------------------------------------------------------------------------------

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


class RequestMetrics:
    """Times each HTTP request and observes it once, under its route template and final status.

    Installed around Litestar's own handler (`app.asgi_handler`), outside routing, the auth middleware and
    the exception handlers, so nothing answers without passing through it. Hot paths serve thousands of
    requests a second: per request this costs one closure, one tuple, one dict lookup and one observe. The
    label sets are few (the app's routes, its status codes, the standard methods), so the observers are
    cached; a request with an unknown method is counted as `other` without growing the cache."""

    __slots__ = ("_observers", "app")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._observers: dict[tuple[str, str, int], Callable[[float], None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        status = 500  # if the app raises before answering, the server answers 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # Litestar writes the matched route's template into the scope; unmatched paths have none.
            key = (scope["method"], scope.get("path_template") or UNMATCHED, status)
            observe = self._observers.get(key) or self._observer(key)
            observe(perf_counter() - start)

    def _observer(self, key: tuple[str, str, int]) -> Callable[[float], None]:
        method, route, status = key
        if method not in METHODS:
            return REQUEST_SECONDS.labels("other", route, str(status)).observe
        observe = self._observers[key] = REQUEST_SECONDS.labels(method, route, str(status)).observe
        return observe


# Figures read at scrape time ---------------------------------------------------------------------------------

# The outbox backlog through the partial index events_unsequenced (migration 0010), bounded so that a huge
# backlog costs a bounded scan.
FEED_FIGURES = f"""
SELECT (SELECT published_seq FROM feed_relay) AS published,
       (SELECT count(*) FROM (SELECT 1 FROM events WHERE seq IS NULL LIMIT {BACKLOG_CAP}) AS waiting) AS backlog
"""
PUBLISHED = "SELECT published_seq FROM feed_relay"


def sample_process(state: AppState, published: float) -> None:
    """This worker's figures: its pool, its hub and its relay (`published`: the relay's mark, NaN if unknown)."""
    size = state.db.get_size()
    POOL_SIZE.set(size)
    POOL_IN_USE.set(size - state.db.get_idle_size())
    hub = state.hub
    FEED_TOPICS.set(hub.topic_count)
    HUB_DOWN.set(hub.outage.down)
    ready = hub.ready.is_set()  # before its first start the hub has delivered nothing and knows no position
    FEED_DELIVERED.set(hub.last_id if ready else math.nan)
    FEED_LAG.set(max(0.0, published - hub.last_id) if ready and not math.isnan(published) else math.nan)
    relay = state.relay
    RELAY_LEADING.set(relay.leading)
    RELAY_DOWN.set(relay.outage.down)


async def _read(db: asyncpg.Pool, query: str) -> Any:
    """One row from PostgreSQL, or None when it does not answer in time: metrics are served through outages."""
    try:
        return await asyncio.wait_for(db.fetchrow(query), READ_TIMEOUT_SECONDS)
    except Exception:
        return None


async def sample_forever(state: AppState) -> None:
    """With several workers, keep this worker's gauges fresh for whichever worker serves the scrape, and take
    them away when the worker stops. With one process, figures are read at scrape time and this returns."""
    if not MULTIPROC_DIR:
        return
    try:
        while True:
            row = await _read(state.db, PUBLISHED)
            sample_process(state, math.nan if row is None else row[0])
            await asyncio.sleep(SAMPLE_SECONDS)
    finally:
        multiprocess.mark_process_dead(os.getpid())


# The endpoint ----------------------------------------------------------------------------------------------------


async def metrics_reader(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Metrics reveal business volumes: open with METRICS_PUBLIC, else the METRICS_TOKEN bearer or an admin."""
    settings = connection.app.state.settings
    if settings.metrics_public:
        return
    scheme, _, credential = connection.headers.get("authorization", "").partition(" ")
    if (
        settings.metrics_token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(credential.strip().encode(), settings.metrics_token.encode())
    ):
        return
    user = await caller_of(bearer_token(connection), connection)
    if not user.has("admin"):
        raise Forbidden("metrics need the admin role or the metrics token")


_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")
_registry: CollectorRegistry | None = None


def _forget_dead_workers(path: str) -> None:
    """A worker that was killed could not take its live gauges away (`sample_forever`); do it for it."""
    for name in os.listdir(path):
        found = _GAUGE_FILE.fullmatch(name)
        if found is None:
            continue
        pid = int(found.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:  # alive, another user's
            pass


def registry() -> CollectorRegistry:
    """What a scrape reports: this process's registry, or every worker's files in multiprocess mode."""
    global _registry
    if not MULTIPROC_DIR:
        return REGISTRY
    if _registry is None:
        _registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(_registry, MULTIPROC_DIR)
    with contextlib.suppress(OSError):
        _forget_dead_workers(MULTIPROC_DIR)
    return _registry


@get(
    "/metrics",
    exclude_from_auth=True,  # an admin's token or the metrics token, checked by the guard
    guards=[metrics_reader],
    tags=["health"],
    summary="Prometheus metrics (admins, the METRICS_TOKEN bearer, or anyone with METRICS_PUBLIC)",
    media_type=MEDIA_TYPE,
)
async def metrics(state: AppState) -> Response[bytes]:
    row = await _read(state.db, FEED_FIGURES)
    published = math.nan if row is None else float(row["published"])
    FEED_PUBLISHED.set(published)
    FEED_BACKLOG.set(math.nan if row is None else row["backlog"])
    sample_process(state, published)
    return Response(generate_latest(registry()), media_type=MEDIA_TYPE)


def multiprocess_dir(data_dir: Path) -> Path:
    """An empty directory for the workers' metric files: figures of an earlier run must not add up with ours."""
    path = data_dir / "prometheus"
    if path.exists():
        for stale in path.glob("*.db"):
            stale.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()

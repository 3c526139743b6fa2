"""GET /metrics: who may read it, the request histogram's labels, the figures read at scrape time (pool, feed
sockets, topics, lag and backlog, relay leadership), flash-sale gate answers, and several workers reporting as
one. Metrics are process-wide, so tests compare figures before and after what they do."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from marketplace.app import create_app
from marketplace.settings import Settings
from tests.catalog_helpers import category_tree, product
from tests.conftest import ADDRESS, Actor, approved_vendor
from tests.test_realtime import Live, free_port, live, open_feed, until

__all__ = ["live"]  # the live server fixture (tests/test_realtime.py)

pytestmark = pytest.mark.timeout(90)

DURATION_COUNT = "marketplace_http_request_duration_seconds_count"
LEAD_LOCK = "hashtext('marketplace.feed.relay')"


class Scrape:
    """A scrape's samples, to look up by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float | None:
        """The sum of `name`'s samples carrying `labels` (several workers' samples differ by `pid`); None if
        there is none."""
        found = [s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()]
        return sum(found) if found else None

    def labels(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}


async def scrape(client: AsyncTestClient[Litestar] | httpx.AsyncClient, url: str = "/metrics", **kw: Any) -> Scrape:
    r = await client.get(url, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return Scrape(r.text)


async def test_requests_are_timed_under_their_route_template_and_final_status(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    before = await scrape(client, headers=admin.headers)
    for _ in range(3):
        assert (await client.get("/flash-sales/987654321")).status_code == 404
    assert (await client.get("/me")).status_code == 401  # refused by the auth middleware, still counted
    assert (await client.get("/no/such/page/424242")).status_code == 404
    assert (await admin.get("/me")).status_code == 200
    after = await scrape(client, headers=admin.headers)

    def grew(**labels: str) -> float:
        return (after.value(DURATION_COUNT, **labels) or 0) - (before.value(DURATION_COUNT, **labels) or 0)

    assert grew(method="GET", route="/flash-sales/{sale_id}", status="404") == 3
    assert grew(method="GET", route="/me", status="401") == 1
    assert grew(method="GET", route="/me", status="200") == 1
    assert grew(method="GET", route="unmatched", status="404") == 1
    routes = after.labels(DURATION_COUNT, "route")
    assert not [r for r in routes if "987654321" in r or "424242" in r], routes  # templates, never raw paths
    labels = {"method": "GET", "route": "/flash-sales/{sale_id}", "status": "404"}
    assert after.value("marketplace_http_request_duration_seconds_bucket", le="+Inf", **labels) == after.value(
        DURATION_COUNT, **labels
    )
    assert after.value("marketplace_http_request_duration_seconds_sum", **labels) > 0


async def test_metrics_are_for_admins_and_the_metrics_token_only(
    client: AsyncTestClient[Litestar], admin: Actor, buyer: Actor, settings: Settings
) -> None:
    r = await client.get("/metrics")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await buyer.get("/metrics")).status_code == 403
    assert (await client.get("/metrics", headers={"Authorization": "Bearer not-a-token"})).status_code == 401
    await scrape(client, headers=admin.headers)

    token = "a-long-random-metrics-token"
    async with AsyncTestClient(app=create_app(msgspec.structs.replace(settings, metrics_token=token))) as scraper:
        await scrape(scraper, headers={"Authorization": f"Bearer {token}"})
        assert (await scraper.get("/metrics", headers={"Authorization": f"Bearer {token}x"})).status_code == 401
        assert (await scraper.get("/metrics")).status_code == 401
        assert (await scraper.get("/metrics", headers=buyer.headers)).status_code == 403


async def test_metrics_are_open_to_anyone_when_public(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(msgspec.structs.replace(settings, metrics_public=True))) as anyone:
        await scrape(anyone)


@pytest.fixture
async def lead_held(db: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """This test's connection holds the relay's leadership lock, so no app's relay leads until it lets go."""
    assert await db.fetchval(f"SELECT pg_try_advisory_lock({LEAD_LOCK})")
    yield db
    await db.execute("SELECT pg_advisory_unlock_all()")


async def test_outbox_backlog_feed_lag_and_relay_leadership_are_reported(
    settings: Settings, lead_held: asyncpg.Connection
) -> None:
    db = lead_held
    async with AsyncTestClient(app=create_app(msgspec.structs.replace(settings, metrics_public=True))) as anyone:
        published = await db.fetchval("SELECT published_seq FROM feed_relay")
        await db.executemany(
            "INSERT INTO events (topic, type, payload) VALUES ($1, 'test.happened', '{}')",
            [(f"product:{i}:stock",) for i in range(3)],
        )
        await asyncio.sleep(0.3)  # a relay that wrongly led would number them by now
        figures = await scrape(anyone)
        assert figures.value("marketplace_feed_outbox_backlog") == 3
        assert figures.value("marketplace_feed_relay_leading") == 0
        assert figures.value("marketplace_feed_published_id") == published
        assert (await anyone.get("/health")).json()["feed_relay"] == "standby"

        await db.execute(f"SELECT pg_advisory_unlock({LEAD_LOCK})")
        deadline = time.monotonic() + 15
        while True:
            figures = await scrape(anyone)
            caught_up = (
                figures.value("marketplace_feed_outbox_backlog") == 0
                and figures.value("marketplace_feed_published_id") == published + 3
                and figures.value("marketplace_feed_delivered_id") == published + 3
                and figures.value("marketplace_feed_lag_events") == 0
                and figures.value("marketplace_feed_relay_leading") == 1
            )
            if caught_up or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert caught_up, figures.text
        assert figures.value("marketplace_feed_down", component="hub") == 0
        assert figures.value("marketplace_feed_down", component="relay") == 0
        health = (await anyone.get("/health")).json()
        assert (health["feed_hub"], health["feed_relay"]) == ("ok", "leading")


async def test_the_pool_open_sockets_and_watched_topics_are_reported(live: Live, buyer: Actor, admin: Actor) -> None:
    metrics_url = live.replace("ws://", "http://").replace("/feed", "/metrics")
    async with httpx.AsyncClient(headers=admin.headers) as http:
        before = await scrape(http, metrics_url)
        assert before.value("marketplace_feed_topics") == 0
        size = before.value("marketplace_db_pool_size")
        assert size is not None and size >= 1
        assert 0 <= before.value("marketplace_db_pool_in_use") <= size  # type: ignore[operator]

        ws = await open_feed(live, buyer, [f"user:{buyer.id}:orders"])
        await until(ws, "subscribed")
        during = await scrape(http, metrics_url)
        assert during.value("marketplace_feed_sockets") == before.value("marketplace_feed_sockets") + 1  # type: ignore[operator]
        # Its subscription and the socket's own watch on the user's access changes.
        assert during.value("marketplace_feed_topics") == len({f"user:{buyer.id}:orders", f"user:{buyer.id}:access"})

        await ws.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = await scrape(http, metrics_url)
            if after.value("marketplace_feed_sockets") == before.value("marketplace_feed_sockets"):
                break
            await asyncio.sleep(0.05)
        assert after.value("marketplace_feed_sockets") == before.value("marketplace_feed_sockets")
        assert after.value("marketplace_feed_topics") == 0


async def test_flash_sale_refusals_are_counted_by_reason(
    client: AsyncTestClient[Litestar], admin: Actor, buyer: Actor
) -> None:
    cats = await category_tree(admin)
    alpha = await approved_vendor(client, admin, "alpha@example.com", "Alpha")
    kettle = await product(alpha, cats["Kettles"], "Kettle", 3000, stock=10)
    later = datetime.now(UTC) + timedelta(hours=1)
    r = await alpha.post(
        "/vendor/flash-sales",
        json={
            "sku_id": kettle["skus"][0]["id"],
            "sale_price": 1999,
            "units": 5,
            "per_buyer_limit": 1,
            "starts_at": later.isoformat(),
            "ends_at": (later + timedelta(hours=1)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    address = (await buyer.post("/me/addresses", json=ADDRESS)).json()

    before = await scrape(client, headers=admin.headers)
    r = await buyer.post(f"/flash-sales/{r.json()['id']}/purchase", json={"address_id": address["id"]})
    assert r.status_code == 409 and r.json()["reason"] == "not_started", r.text
    after = await scrape(client, headers=admin.headers)

    attempts = "marketplace_flash_sale_attempts_total"
    assert after.value(attempts, outcome="not_started") == before.value(attempts, outcome="not_started") + 1  # type: ignore[operator]
    assert after.value(attempts, outcome="admitted") == before.value(attempts, outcome="admitted")


async def test_several_workers_report_as_one(settings: Settings, tmp_path: Path) -> None:
    """`marketplace serve --workers 2`: whichever worker answers the scrape reports both workers' requests and
    gauges, and a worker that stops takes its gauges with it."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "METRICS_PUBLIC": "true",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    args = [sys.executable, "-m", "marketplace", "--data-dir", str(tmp_path), "serve", "--workers", "2"]
    server = await asyncio.create_subprocess_exec(*args, "--port", str(port), env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    # No kept-alive connections: each request connects anew, so both workers take some.
    http = httpx.AsyncClient(base_url=base, timeout=5, limits=httpx.Limits(max_keepalive_connections=0))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.returncode is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not start"
            try:
                if (await http.get("/health")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.2)
        for _ in range(40):
            assert (await http.get("/flash-sales/987654321")).status_code == 404
        deadline = time.monotonic() + 30
        while True:
            figures = await scrape(http)
            workers = figures.labels("marketplace_feed_delivered_id", "pid")
            if (len(workers) == 2 and figures.value("marketplace_feed_relay_leading") == 1) or (
                time.monotonic() > deadline
            ):
                break
            await asyncio.sleep(0.5)
        assert len(workers) == 2, figures.text  # each worker's hub, whichever answered
        assert figures.value("marketplace_feed_relay_leading") == 1, figures.text  # one leads, summed over both
        # Both pools: each opens at least db_pool_min connections.
        assert figures.value("marketplace_db_pool_size") >= 2 * settings.db_pool_min, figures.text  # type: ignore[operator]
        assert figures.value(DURATION_COUNT, route="/flash-sales/{sale_id}", status="404") == 40
        assert not math.isnan(figures.value("marketplace_feed_published_id"))  # type: ignore[arg-type]
        assert list((tmp_path / "prometheus").glob("histogram_*.db"))
    finally:
        await http.aclose()
        server.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(server.wait(), 30)
        except TimeoutError:
            os.killpg(server.pid, signal.SIGKILL)
            await server.wait()
    assert not list((tmp_path / "prometheus").glob("gauge_live*.db"))  # stopped workers took their gauges away

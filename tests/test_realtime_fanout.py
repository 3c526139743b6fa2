"""The live feed's fan-out under load, end to end on a real uvicorn server: a crowd watching a product's stock
gets coalesced figures while owners' feeds get every event at once, ids only grow on every socket, the
relay records how far it published, heartbeats and token expiry run on their own clock, and a worker's
startup objects are out of the garbage collector's reach."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
import websockets
from litestar.security.jwt import Token
from websockets.asyncio.client import ClientConnection, connect

from marketplace.settings import Settings
from realtime import CLOSE_POLICY
from tests.test_realtime import Live, nothing_more, open_feed, until
from tests.test_realtime import live as live  # the fixture, for these tests too

pytestmark = pytest.mark.timeout(60)

HEARTBEAT = 0.5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with a short heartbeat, so an idle socket's heartbeat comes within the test."""
    return msgspec.structs.replace(settings, feed_heartbeat_seconds=HEARTBEAT)


async def stock_event(db: asyncpg.Connection, topic: str, sku_id: int, available: int) -> None:
    """A stock change as inventory writes it: its own committed transaction, through the relay and Redis."""
    payload = {"sku_id": sku_id, "available": available}
    await db.execute("INSERT INTO events (topic, type, payload) VALUES ($1, 'stock.changed', $2)", topic, payload)


async def stream(ws: ClientConnection, wait: float = 3) -> AsyncIterator[dict[str, Any]]:
    while True:
        yield await until(ws, "event", wait)


@pytest.fixture
async def crowd(shop: dict[str, Any], live: Live) -> AsyncIterator[tuple[str, list[ClientConnection]]]:
    """Three anonymous sockets on the kettle's stock, a crowd for a hub told that three make one."""
    live.app.state.hub.crowd = 3
    topic = f"product:{shop['kettle']['id']}:stock"
    sockets = [await open_feed(live, None, [topic]) for _ in range(3)]
    for ws in sockets:
        await until(ws, "subscribed")
    yield topic, sockets
    for ws in sockets:
        await ws.close()


async def test_a_crowd_gets_a_products_latest_stock_not_every_change(
    crowd: tuple[str, list[ClientConnection]], db: asyncpg.Connection
) -> None:
    topic, sockets = crowd
    for available in range(30, 0, -1):  # thirty sales, one transaction each
        await stock_event(db, topic, 7, available)
    for ws in sockets:
        got = []
        async for event in stream(ws):
            got.append(event)
            if event["data"]["available"] == 1:
                break
        ids = [e["id"] for e in got]
        assert ids == sorted(set(ids))  # in order, none twice
        assert len(got) < 30  # coalesced: the figures of each moment, not every sale
        await nothing_more(ws, wait=0.3)


async def test_an_owners_feed_is_not_held_back_by_a_crowd_and_ids_still_grow(
    shop: dict[str, Any], crowd: tuple[str, list[ClientConnection]], live: Live, db: asyncpg.Connection
) -> None:
    """The vendor watches its product's stock (with the crowd) and its orders on one socket: an order comes at
    once, after the stock figures committed before it, while the crowd waits for its round."""
    topic, sockets = crowd
    live.app.state.hub.crowd_seconds = 3.0
    alpha = shop["alpha"]
    vendor = await open_feed(live, alpha, [topic, f"vendor:{alpha.vendor_id}:orders"])
    await until(vendor, "subscribed")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await stock_event(db, topic, 7, 5)
    orders = await shop["checkout"](pay=False)  # takes a kettle too: another stock figure, then the order
    got = [await until(vendor, "event", wait=2)]
    while got[-1]["type"] != "order.placed":
        got.append(await until(vendor, "event", wait=2))
    assert loop.time() - began < 3.0  # not held for the crowd's round
    assert got[-1]["data"]["order_id"] == orders[alpha.vendor_id]["id"]
    assert [e["type"] for e in got[:-1]] == ["stock.changed"] * (len(got) - 1) and got[0]["data"]["available"] == 5
    assert [e["id"] for e in got] == sorted({e["id"] for e in got})
    # The crowd's round hands the same figures to the crowd, once; the vendor has them already.
    for ws in sockets:
        first = await until(ws, "event", wait=4)
        assert first["id"] == got[0]["id"] and loop.time() - began >= 2.5
    await nothing_more(vendor, wait=0.5)
    await vendor.close()


async def test_the_relay_records_how_far_it_published_when_it_goes_idle(
    shop: dict[str, Any], live: Live, db: asyncpg.Connection
) -> None:
    alpha = shop["alpha"]
    ws = await open_feed(live, alpha, [f"vendor:{alpha.vendor_id}:orders"])
    await until(ws, "subscribed")
    await shop["checkout"](pay=False)
    event = await until(ws, "event")
    for _ in range(50):
        if await db.fetchval("SELECT published_seq FROM feed_relay") >= event["id"]:
            break
        await asyncio.sleep(0.05)
    assert await db.fetchval("SELECT published_seq FROM feed_relay") == await db.fetchval("SELECT max(seq) FROM events")
    assert await db.fetchval("SELECT count(*) FROM events WHERE seq IS NULL") == 0
    await ws.close()


async def test_an_idle_socket_gets_heartbeats_and_an_expired_token_closes_it(
    shop: dict[str, Any], live: Live, settings: Settings
) -> None:
    buyer = shop["buyer"]
    now = datetime.now(UTC)
    token = Token(sub=str(buyer.id), exp=now + timedelta(seconds=2), iat=now, jti=uuid.uuid4().hex)
    headers = {"Authorization": f"Bearer {token.encode(settings.secret_key, 'HS256')}"}
    async with connect(live, additional_headers=headers) as ws:
        await ws.send(msgspec.json.encode({"op": "subscribe", "topics": [f"user:{buyer.id}:orders"]}))
        subscribed = await until(ws, "subscribed")
        beats = [await until(ws, "heartbeat", wait=HEARTBEAT * 3) for _ in range(2)]
        assert all(beat["last_id"] >= subscribed["last_id"] for beat in beats)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await until(ws, "event", wait=3)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_POLICY


async def test_a_workers_startup_objects_are_frozen_out_of_the_collector(live: Live) -> None:
    """A full collection over them stalled every socket of the worker (see realtime/hub.py)."""
    assert live.app.state.hub.ready.is_set()
    assert gc.get_freeze_count() > 0

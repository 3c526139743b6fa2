"""Cart and checkout: server-side prices, one order per vendor, stock that never oversells, idempotent
retries, and unpaid checkouts that give their stock back."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core.db import create_pool
from marketplace.orders.place_checkout import place_checkout
from marketplace.workflows.sweeper import expire_unpaid
from tests.catalog_helpers import category_tree, product
from tests.conftest import ADDRESS, Actor, approved_vendor, sign_up


@pytest.fixture
async def market(client: AsyncTestClient[Litestar], admin: Actor) -> dict[str, Any]:
    cats = await category_tree(admin)
    alpha = await approved_vendor(client, admin, "alpha@example.com", "Alpha")
    beta = await approved_vendor(client, admin, "beta@example.com", "Beta")
    return {
        "alpha": alpha,
        "beta": beta,
        "kettle": await product(alpha, cats["Kettles"], "Kettle", 3000, stock=20),
        "teapot": await product(alpha, cats["Kitchen"], "Teapot", 1500, stock=20),
        "hose": await product(beta, cats["Garden"], "Hose", 6000, stock=20),
        "scarce": await product(beta, cats["Garden"], "Last hose", 2000, stock=10),
        "draft": await product(alpha, cats["Kettles"], "Draft", 100, stock=5, listed=False),
    }


def sku(item: dict[str, Any]) -> int:
    return item["skus"][0]["id"]


async def shopper(client: AsyncTestClient[Litestar], email: str) -> tuple[Actor, int]:
    actor = await sign_up(client, email)
    address = (await actor.post("/me/addresses", json=ADDRESS)).json()
    return actor, address["id"]


async def test_cart_prices_come_from_the_database(
    client: AsyncTestClient[Litestar], market: dict[str, Any], db: asyncpg.Connection
) -> None:
    buyer, _ = await shopper(client, "cart@example.com")
    r = await buyer.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 2})
    assert r.status_code == 200
    assert r.json()["items_total"] == 6000
    await db.execute("UPDATE skus SET price = 3500 WHERE id = $1", sku(market["kettle"]))
    cart = (await buyer.get("/cart")).json()
    assert cart["lines"][0]["unit_price"] == 3500 and cart["items_total"] == 7000
    assert (
        await buyer.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 1, "price": 1})
    ).status_code == 400
    assert (await buyer.put(f"/cart/items/{sku(market['draft'])}", json={"quantity": 1})).status_code == 404
    assert (await buyer.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 0})).status_code == 400
    assert (await buyer.delete(f"/cart/items/{sku(market['kettle'])}")).json()["lines"] == []


async def test_checkout_splits_into_one_order_per_vendor_priced_on_the_server(
    client: AsyncTestClient[Litestar], market: dict[str, Any], db: asyncpg.Connection
) -> None:
    buyer, address_id = await shopper(client, "split@example.com")
    for item, quantity in [("kettle", 1), ("teapot", 2), ("hose", 1)]:
        await buyer.put(f"/cart/items/{sku(market[item])}", json={"quantity": quantity})
    r = await buyer.post("/checkouts", json={"address_id": address_id})
    assert r.status_code == 201, r.text
    checkout = r.json()
    by_vendor = {o["vendor_id"]: o for o in checkout["orders"]}
    alpha, beta = by_vendor[market["alpha"].vendor_id], by_vendor[market["beta"].vendor_id]
    assert (alpha["items_total"], alpha["shipping_total"], alpha["total"]) == (6000, 0, 6000)
    assert (beta["items_total"], beta["shipping_total"], beta["total"]) == (6000, 0, 6000)
    assert checkout["grand_total"] == 12000 and checkout["status"] == "pending_payment"
    assert checkout["shipping_address"]["city"] == "Berlin"
    assert (await buyer.get("/cart")).json()["lines"] == []
    reserved = await db.fetchval("SELECT reserved FROM skus WHERE id = $1", sku(market["teapot"]))
    assert reserved == 2
    topics = {r["topic"] for r in await db.fetch("SELECT topic FROM events WHERE type = 'order.placed'")}
    assert topics == {
        f"vendor:{market['alpha'].vendor_id}:orders",
        f"vendor:{market['beta'].vendor_id}:orders",
        f"user:{buyer.id}:orders",
    }


async def test_a_checkout_is_two_statements_however_many_vendors_and_lines(
    client: AsyncTestClient[Litestar], market: dict[str, Any], db: asyncpg.Connection
) -> None:
    buyer, address = await shopper(client, "count@example.com")
    items = [sku(market[name]) for name in ("kettle", "teapot", "hose")]
    for item in items:
        await buyer.put(f"/cart/items/{item}", json={"quantity": 1})
    statements: list[str] = []
    db.add_query_logger(lambda record: statements.append(record.query))
    async with db.transaction():
        checkout = await place_checkout(db, buyer.id, address, 15)
    # asyncpg's own type introspection (first use of a type on this connection) is not the checkout's.
    introspection = ("pg_catalog.pg_type", "'jit'")
    ours = [s for s in statements if s not in ("BEGIN;", "COMMIT;") and not any(i in s for i in introspection)]
    assert len(ours) == 2
    assert [len(o.lines) for o in checkout.orders] == [2, 1]
    events = await db.fetch("SELECT topic, type, payload FROM events ORDER BY id DESC LIMIT 7")
    stock = [e["payload"]["sku_id"] for e in reversed(events) if e["type"] == "stock.changed"]
    assert stock[-3:] == sorted(items)
    placed = [(e["topic"], e["payload"]["order_id"]) for e in reversed(events) if e["type"] == "order.placed"]
    alpha, beta = checkout.orders
    assert placed == [
        (f"vendor:{alpha.vendor_id}:orders", alpha.id),
        (f"user:{buyer.id}:orders", alpha.id),
        (f"vendor:{beta.vendor_id}:orders", beta.id),
        (f"user:{buyer.id}:orders", beta.id),
    ]
    assert await db.fetchval("SELECT count(*) FROM cart_items WHERE user_id = $1", buyer.id) == 0


async def test_small_orders_pay_shipping(client: AsyncTestClient[Litestar], market: dict[str, Any]) -> None:
    buyer, address_id = await shopper(client, "small@example.com")
    await buyer.put(f"/cart/items/{sku(market['teapot'])}", json={"quantity": 1})
    checkout = (await buyer.post("/checkouts", json={"address_id": address_id})).json()
    assert (checkout["items_total"], checkout["shipping_total"], checkout["grand_total"]) == (1500, 499, 1999)


async def test_checkout_refusals_change_nothing(
    client: AsyncTestClient[Litestar], market: dict[str, Any], db: asyncpg.Connection
) -> None:
    buyer, address_id = await shopper(client, "refused@example.com")
    assert (await buyer.post("/checkouts", json={"address_id": address_id})).status_code == 422  # empty cart
    await buyer.put(f"/cart/items/{sku(market['scarce'])}", json={"quantity": 11})
    r = await buyer.post("/checkouts", json={"address_id": address_id})
    assert r.status_code == 409 and r.json()["available"] == 10
    _, other_address = await shopper(client, "other@example.com")
    assert (await buyer.post("/checkouts", json={"address_id": other_address})).status_code == 404
    await buyer.put(f"/cart/items/{sku(market['scarce'])}", json={"quantity": 1})
    await market["beta"].post(f"/vendor/products/{market['scarce']['id']}/unlist")
    assert (await buyer.post("/checkouts", json={"address_id": address_id})).status_code == 409
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    assert await db.fetchval("SELECT sum(reserved) FROM skus") == 0


async def test_fifty_buyers_race_for_the_last_ten_units(
    client: AsyncTestClient[Litestar], market: dict[str, Any], db: asyncpg.Connection
) -> None:
    buyers = [await shopper(client, f"racer{i}@example.com") for i in range(50)]
    for buyer, _ in buyers:
        await buyer.put(f"/cart/items/{sku(market['scarce'])}", json={"quantity": 1})
    results = await asyncio.gather(
        *(buyer.post("/checkouts", json={"address_id": address_id}) for buyer, address_id in buyers)
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 10 and codes.count(409) == 40, codes
    row = await db.fetchrow("SELECT on_hand, reserved, available FROM skus WHERE id = $1", sku(market["scarce"]))
    assert tuple(row) == (10, 10, 0)
    assert await db.fetchval("SELECT sum(quantity) FROM order_lines WHERE sku_id = $1", sku(market["scarce"])) == 10


async def test_retry_with_the_same_key_gives_the_same_checkout(
    client: AsyncTestClient[Litestar], market: dict[str, Any], db: asyncpg.Connection
) -> None:
    buyer, address_id = await shopper(client, "retry@example.com")
    await buyer.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 1})
    headers = {**buyer.headers, "Idempotency-Key": "checkout-7f3a"}
    first = await client.post("/checkouts", json={"address_id": address_id}, headers=headers)
    again = await client.post("/checkouts", json={"address_id": address_id}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM checkouts") == 1
    other_address = (await buyer.post("/me/addresses", json={**ADDRESS, "city": "Hamburg"})).json()["id"]
    changed = await client.post("/checkouts", json={"address_id": other_address}, headers=headers)
    assert changed.status_code == 422
    # Keys belong to their user: another buyer's identical key is a different key.
    rival, rival_address = await shopper(client, "rival@example.com")
    await rival.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 1})
    r = await client.post(
        "/checkouts", json={"address_id": rival_address}, headers={**rival.headers, "Idempotency-Key": "checkout-7f3a"}
    )
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]


async def test_concurrent_requests_with_one_key_place_one_checkout(
    client: AsyncTestClient[Litestar], market: dict[str, Any], db: asyncpg.Connection
) -> None:
    buyer, address_id = await shopper(client, "burst@example.com")
    await buyer.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 1})
    headers = {**buyer.headers, "Idempotency-Key": "burst-1"}
    results = await asyncio.gather(
        *(client.post("/checkouts", json={"address_id": address_id}, headers=headers) for _ in range(6))
    )
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {201, 409} and 201 in codes, codes
    assert await db.fetchval("SELECT count(*) FROM checkouts") == 1
    assert len({r.json()["id"] for r in results if r.status_code == 201}) == 1


async def test_a_failed_checkout_releases_its_key_for_a_retry(
    client: AsyncTestClient[Litestar], market: dict[str, Any]
) -> None:
    buyer, address_id = await shopper(client, "again@example.com")
    headers = {**buyer.headers, "Idempotency-Key": "after-empty-cart"}
    assert (await client.post("/checkouts", json={"address_id": address_id}, headers=headers)).status_code == 422
    await buyer.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 1})
    assert (await client.post("/checkouts", json={"address_id": address_id}, headers=headers)).status_code == 201


async def test_nobody_sees_another_buyers_checkout_or_another_vendors_orders(
    client: AsyncTestClient[Litestar], market: dict[str, Any]
) -> None:
    buyer, address_id = await shopper(client, "private@example.com")
    await buyer.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 1})
    checkout = (await buyer.post("/checkouts", json={"address_id": address_id})).json()
    order_id = checkout["orders"][0]["id"]
    snoop, _ = await shopper(client, "snoop@example.com")
    assert (await snoop.get(f"/checkouts/{checkout['id']}")).status_code == 404
    assert (await snoop.get(f"/orders/{order_id}")).status_code == 404
    assert (await snoop.get("/orders")).json()["items"] == []
    assert (await market["beta"].get(f"/vendor/orders/{order_id}")).status_code == 404
    assert (await market["beta"].get("/vendor/orders")).json()["items"] == []
    detail = (await market["alpha"].get(f"/vendor/orders/{order_id}")).json()
    assert detail["order"]["buyer_id"] == buyer.id and detail["history"][0]["to_status"] == "pending_payment"
    mine = (await buyer.get("/orders", params={"status": "pending_payment"})).json()["items"]
    assert [o["id"] for o in mine] == [order_id]


async def test_unpaid_checkouts_expire_and_give_their_stock_back(
    client: AsyncTestClient[Litestar], market: dict[str, Any], database_url: str, db: asyncpg.Connection
) -> None:
    buyer, address_id = await shopper(client, "late@example.com")
    await buyer.put(f"/cart/items/{sku(market['scarce'])}", json={"quantity": 4})
    checkout = (await buyer.post("/checkouts", json={"address_id": address_id})).json()
    pool = await create_pool(database_url, 1, 2)
    try:
        assert await expire_unpaid(pool) == 0  # not due yet
        await db.execute("UPDATE checkouts SET expires_at = now() - interval '1 second'")
        assert await expire_unpaid(pool) == 1
        assert await expire_unpaid(pool) == 0
    finally:
        await pool.close()
    row = await db.fetchrow("SELECT reserved, available FROM skus WHERE id = $1", sku(market["scarce"]))
    assert tuple(row) == (0, 10)
    order = (await buyer.get(f"/orders/{checkout['orders'][0]['id']}")).json()
    assert order["order"]["status"] == "cancelled" and order["history"][-1]["note"] == "payment not received in time"
    assert (await buyer.get(f"/checkouts/{checkout['id']}")).json()["status"] == "expired"
    assert await db.fetchval("SELECT count(*) FROM events WHERE type = 'order.cancelled'") == 2


async def test_expiring_checkouts_lock_skus_in_the_order_checkouts_do(
    client: AsyncTestClient[Litestar], market: dict[str, Any], database_url: str, db: asyncpg.Connection
) -> None:
    """The sweeper releases a batch's SKUs in id order, as a checkout locks them: releasing one checkout's at
    a time held a later SKU while waiting for an earlier one, and a checkout holding the earlier one while
    waiting for the later deadlocked with it."""
    early, late = sorted([sku(market["kettle"]), sku(market["teapot"])])
    for email, item in (("first@example.com", late), ("second@example.com", early)):  # the later SKU first
        buyer, address_id = await shopper(client, email)
        await buyer.put(f"/cart/items/{item}", json={"quantity": 1})
        assert (await buyer.post("/checkouts", json={"address_id": address_id})).status_code == 201
    await db.execute("UPDATE checkouts SET expires_at = now() - interval '1 second'")
    pool = await create_pool(database_url, 1, 2)
    placing = await asyncpg.connect(database_url)
    try:
        async with placing.transaction():  # a checkout being placed: it holds the earlier SKU...
            await placing.execute("SELECT 1 FROM skus WHERE id = $1 FOR NO KEY UPDATE", early)
            sweep = asyncio.create_task(expire_unpaid(pool))
            await asyncio.sleep(0.5)  # the sweeper waits for the earlier SKU (before: holding the later)
            # ...and then takes the later one, within PostgreSQL's deadlock check (1 s)
            await placing.execute("SET LOCAL lock_timeout = '3s'")
            await placing.execute("SELECT 1 FROM skus WHERE id = $1 FOR NO KEY UPDATE", late)
        assert await sweep == 2
    finally:
        await placing.close()
        await pool.close()
    assert await db.fetchval("SELECT sum(reserved) FROM skus WHERE id = ANY($1::bigint[])", [early, late]) == 0


def test_the_checkout_statement_names_every_field_of_the_rows_it_is_sent() -> None:
    """PLACE_CHECKOUT reads its four jsonb parameters by name: each column list must be its row's fields, with
    matching types, so a renamed or missing field fails here instead of arriving as NULL."""
    import re
    import types
    import typing

    from marketplace.orders import queries
    from marketplace.orders.place_checkout import CheckoutRow, LineRow, SkuRow, VendorRow

    sql_types = {int: {"bigint", "int"}, str: {"text"}, bool: {"boolean"}, dict: {"jsonb"}}
    for param, row in (("$1", CheckoutRow), ("$2", VendorRow), ("$3", LineRow), ("$4", SkuRow)):
        listed = re.search(rf"jsonb_to_record(?:set)?\({re.escape(param)}\) AS \w*\(([^)]*)\)", queries.PLACE_CHECKOUT)
        assert listed, f"no column list for {param}"
        columns = [column.split() for column in listed[1].split(",")]
        hints = typing.get_type_hints(row)
        assert [name for name, _ in columns] == list(row.__struct_fields__), row.__name__
        for name, sql_type in columns:
            hint = hints[name]
            base = typing.get_origin(hint) or hint
            if base in (typing.Union, types.UnionType):
                base = next(a for a in typing.get_args(hint) if a is not type(None))
            base = typing.get_origin(base) or base
            assert sql_type in sql_types[base], f"{row.__name__}.{name}: {hint} sent as {sql_type}"

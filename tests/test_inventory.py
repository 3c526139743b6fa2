"""Inventory: set and delta adjustments, the reserved floor, movements, events and low-stock alerts."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor


@pytest.fixture
async def stocked(client: AsyncTestClient[Litestar], admin: Actor) -> tuple[Actor, dict[str, object]]:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "stock@example.com", "Stock Shop")
    skus = [{"code": "A", "price": 1000, "stock": 10, "low_stock_threshold": 3}]
    return vendor, await product(vendor, cats["Kettles"], "Tracked kettle", skus=skus)


async def test_set_and_delta_adjust_stock_and_record_movements(
    stocked: tuple[Actor, dict[str, object]], db: asyncpg.Connection
) -> None:
    vendor, item = stocked
    sku = item["skus"][0]["id"]  # type: ignore[index]
    r = await vendor.post(f"/vendor/inventory/{sku}", json={"delta": 5, "reason": "delivery"})
    assert r.status_code == 200 and r.json()["on_hand"] == 15
    r = await vendor.post(f"/vendor/inventory/{sku}", json={"set": 12, "reason": "stock count"})
    assert r.json()["available"] == 12
    moves = (await vendor.get(f"/vendor/inventory/{sku}/movements")).json()
    assert [(m["delta"], m["on_hand"], m["reason"]) for m in moves] == [
        (-3, 12, "stock count"),
        (5, 15, "delivery"),
        (10, 10, "initial stock"),
    ]
    events = await db.fetch("SELECT topic, payload FROM events WHERE type = 'stock.changed' ORDER BY id")
    assert [e["payload"]["on_hand"] for e in events] == [10, 15, 12]
    assert {e["topic"] for e in events} == {f"product:{item['id']}:stock"}


async def test_stock_never_goes_below_reserved(
    stocked: tuple[Actor, dict[str, object]], db: asyncpg.Connection
) -> None:
    vendor, item = stocked
    sku = item["skus"][0]["id"]  # type: ignore[index]
    await db.execute("UPDATE skus SET reserved = 4 WHERE id = $1", sku)
    assert (await vendor.post(f"/vendor/inventory/{sku}", json={"set": 3})).status_code == 409
    assert (await vendor.post(f"/vendor/inventory/{sku}", json={"delta": -7})).status_code == 409
    assert (await vendor.post(f"/vendor/inventory/{sku}", json={"delta": -11})).status_code == 409
    assert (await vendor.post(f"/vendor/inventory/{sku}", json={"set": 4})).json()["available"] == 0
    assert await db.fetchval("SELECT count(*) FROM stock_movements") == 2


async def test_concurrent_deltas_are_all_applied(stocked: tuple[Actor, dict[str, object]]) -> None:
    vendor, item = stocked
    sku = item["skus"][0]["id"]  # type: ignore[index]
    results = await asyncio.gather(*(vendor.post(f"/vendor/inventory/{sku}", json={"delta": -1}) for _ in range(12)))
    assert sorted(r.status_code for r in results) == [200] * 10 + [409] * 2
    levels = (await vendor.get("/vendor/inventory")).json()["items"]
    assert levels[0]["on_hand"] == 0


async def test_low_stock_is_flagged_and_announced_once(
    stocked: tuple[Actor, dict[str, object]], db: asyncpg.Connection
) -> None:
    vendor, item = stocked
    sku = item["skus"][0]["id"]  # type: ignore[index]
    await vendor.post(f"/vendor/inventory/{sku}", json={"set": 2})
    await vendor.post(f"/vendor/inventory/{sku}", json={"set": 1})
    low = (await vendor.get("/vendor/inventory", params={"low": "true"})).json()["items"]
    assert [s["sku_id"] for s in low] == [sku] and low[0]["low"] is True
    alerts = await db.fetch("SELECT topic FROM events WHERE type = 'stock.low'")
    assert [a["topic"] for a in alerts] == [f"vendor:{vendor.vendor_id}:stock"]


async def test_adjustment_needs_exactly_one_of_set_or_delta(stocked: tuple[Actor, dict[str, object]]) -> None:
    vendor, item = stocked
    sku = item["skus"][0]["id"]  # type: ignore[index]
    assert (await vendor.post(f"/vendor/inventory/{sku}", json={})).status_code == 422
    assert (await vendor.post(f"/vendor/inventory/{sku}", json={"set": 1, "delta": 1})).status_code == 422
    assert (await vendor.post(f"/vendor/inventory/{sku}", json={"set": -1})).status_code == 400


async def test_vendor_cannot_read_another_shops_or_a_missing_skus_movements(
    client: AsyncTestClient[Litestar], admin: Actor, stocked: tuple[Actor, dict[str, object]]
) -> None:
    vendor, item = stocked
    sku = item["skus"][0]["id"]  # type: ignore[index]
    other = await approved_vendor(client, admin, "other-shop@example.com", "Other Shop")
    r = await other.get(f"/vendor/inventory/{sku}/movements")
    assert r.status_code == 404 and r.json()["detail"] == "no such SKU in your shop"
    assert (await vendor.get("/vendor/inventory/987654/movements")).status_code == 404
    assert [m["reason"] for m in (await vendor.get(f"/vendor/inventory/{sku}/movements")).json()] == ["initial stock"]


async def test_a_checkout_that_takes_stock_to_its_threshold_raises_stock_low_once(
    shop: dict[str, object], db: asyncpg.Connection
) -> None:
    alpha = shop["alpha"]
    checkout = shop["checkout"]

    async def alerts() -> list[asyncpg.Record]:
        return await db.fetch("SELECT topic, payload FROM events WHERE type = 'stock.low' ORDER BY id")

    await checkout(pay=False)  # two kettles each time: 10 → 8 available
    await checkout(pay=True)  # → 6
    assert await alerts() == []
    await checkout(pay=False)  # → 4, under the threshold of 5
    await checkout(pay=False)  # → 2, still under: no second alert
    found = await alerts()
    assert [a["topic"] for a in found] == [f"vendor:{alpha.vendor_id}:stock"]  # type: ignore[attr-defined]
    assert found[0]["payload"]["available"] == 4 and found[0]["payload"]["low_stock_threshold"] == 5

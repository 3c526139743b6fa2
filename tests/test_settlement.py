"""Settlement: commission by the most specific rate, a ledger that balances to the cent after payments,
refunds and payouts, and payouts that never exceed what a vendor is owed."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from marketplace.settlement.service import commission_of
from tests.conftest import Actor


def test_commission_rounds_half_up_to_the_cent() -> None:
    assert commission_of(6000, 1000) == 600
    assert commission_of(1995, 1000) == 200  # 199.5 rounds up
    assert commission_of(1994, 1000) == 199
    assert commission_of(999, 0) == 0


async def test_ledger_balances_after_payments_refunds_and_payouts(
    shop: dict[str, Any], admin: Actor, db: asyncpg.Connection
) -> None:
    alpha, beta = shop["alpha"], shop["beta"]
    # Beta negotiated 5%; everything else pays the platform's 10%.
    r = await admin.put("/admin/settlement/rates", json={"scope": "vendor", "scope_id": beta.vendor_id, "rate_bp": 500})
    assert r.status_code == 200
    first = await shop["checkout"](pay=True)  # kettles 2 x 3000 (alpha), hose 1 x 6000 (beta)
    second = await shop["checkout"](pay=True)
    assert await db.fetchval("SELECT commission FROM orders WHERE id = $1", first[alpha.vendor_id]["id"]) == 600
    assert await db.fetchval("SELECT commission FROM orders WHERE id = $1", first[beta.vendor_id]["id"]) == 300
    assert (await alpha.get("/vendor/settlement/balance")).json()["balance"] == 2 * 5400
    assert (await beta.get("/vendor/settlement/balance")).json()["balance"] == 2 * 5700

    # Beta rejects one paid order: refunded, and its share leaves the ledger again.
    await beta.post(f"/vendor/orders/{second[beta.vendor_id]['id']}/reject", json={"reason": "damaged in store"})
    assert (await beta.get("/vendor/settlement/balance")).json()["balance"] == 5700

    r = await admin.post("/admin/settlement/payouts", json={"vendor_id": alpha.vendor_id, "amount": 10000})
    assert r.status_code == 201
    assert (await alpha.get("/vendor/settlement/balance")).json()["balance"] == 800
    r = await admin.post("/admin/settlement/payouts", json={"vendor_id": alpha.vendor_id, "amount": 801})
    assert r.status_code == 409 and r.json()["detail"] == "the vendor is owed 8.00 EUR; cannot pay out 8.01 EUR"

    trial = (await admin.get("/admin/settlement/trial-balance")).json()
    assert trial["total"] == 0
    balances = {a["account"]: a["balance"] for a in trial["accounts"]}
    assert balances["commission"] == -(600 + 600 + 300)
    assert balances["gateway"] == 12000 + 12000 - 6000 - 10000
    assert await db.fetchval("SELECT sum(amount) FROM ledger_entries") == 0
    for posting_sum in await db.fetch("SELECT sum(amount) AS s FROM ledger_entries GROUP BY posting"):
        assert posting_sum["s"] == 0

    kinds = [line["kind"] for line in (await alpha.get("/vendor/settlement/statement")).json()["items"]]
    assert kinds == ["payout", "payment", "payment"]
    payouts = (await alpha.get("/vendor/settlement/payouts")).json()
    assert [p["amount"] for p in payouts["items"]] == [10000] and payouts["next_cursor"] is None
    assert (await beta.get("/vendor/settlement/payouts")).json()["items"] == []
    everyone = (await admin.get("/admin/settlement/payouts")).json()["items"]
    assert [(p["vendor_id"], p["amount"]) for p in everyone] == [(alpha.vendor_id, 10000)]
    assert (await admin.get("/admin/settlement/payouts", params={"vendor_id": beta.vendor_id})).json()["items"] == []
    assert (await alpha.get("/admin/settlement/payouts")).status_code == 403


async def test_category_rate_beats_vendor_rate(shop: dict[str, Any], admin: Actor, db: asyncpg.Connection) -> None:
    alpha = shop["alpha"]
    await admin.put("/admin/settlement/rates", json={"scope": "vendor", "scope_id": alpha.vendor_id, "rate_bp": 800})
    kettles = shop["kettle"]["category_id"]
    home = await db.fetchval("SELECT path[1] FROM categories WHERE id = $1", kettles)
    await admin.put("/admin/settlement/rates", json={"scope": "category", "scope_id": home, "rate_bp": 1500})
    orders = await shop["checkout"](pay=True)
    assert await db.fetchval("SELECT commission FROM orders WHERE id = $1", orders[alpha.vendor_id]["id"]) == 900


async def test_concurrent_payouts_cannot_overdraw(shop: dict[str, Any], admin: Actor, db: asyncpg.Connection) -> None:
    alpha = shop["alpha"]
    await shop["checkout"](pay=True)  # alpha is owed 5400
    results = await asyncio.gather(
        *(
            admin.post("/admin/settlement/payouts", json={"vendor_id": alpha.vendor_id, "amount": 2000})
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in results) == [201, 201, 409, 409]
    assert (await alpha.get("/vendor/settlement/balance")).json()["balance"] == 1400


async def test_settlement_is_for_its_owners_only(
    client: AsyncTestClient[Any], shop: dict[str, Any], admin: Actor
) -> None:
    buyer, alpha = shop["buyer"], shop["alpha"]
    assert (await buyer.get("/vendor/settlement/balance")).status_code == 403
    assert (await alpha.get("/admin/settlement/trial-balance")).status_code == 403
    assert (
        await alpha.post("/admin/settlement/payouts", json={"vendor_id": alpha.vendor_id, "amount": 1})
    ).status_code == 403
    bad = {"scope": "vendor", "scope_id": 999_999, "rate_bp": 100}
    assert (await admin.put("/admin/settlement/rates", json=bad)).status_code == 404
    assert (
        await admin.put("/admin/settlement/rates", json={"scope": "platform", "rate_bp": 10_001})
    ).status_code == 400

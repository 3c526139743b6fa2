"""Refunds are capped at what the buyer paid, on every path (after-sales refunds, refund-only requests, partial
returns one after another, cancelling a paid order, a refund asked of the payment directly), and each refund
reverses exactly the refunded line's own share of the payment posting: its commission and its share of the
platform's coupons and points, so a vendor is never debited more than it was credited."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from marketplace.aftersales.claims import split_refund, units_paid
from marketplace.core.errors import Conflict
from marketplace.payments.service import refund
from marketplace.promotions.pricing import allocate
from marketplace.settlement import Part, part_refund_entries, payment_entries, vendor_account
from tests.catalog_helpers import product
from tests.conftest import Actor

SHIP = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
codes = itertools.count(1)


def coupon(**fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"name": "test coupon", "audience": "code", "code": f"CODE{next(codes)}", "min_spend": 0,
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat()} | fields  # fmt: skip


async def buy(shop: dict[str, Any], cart: dict[int, int], code: str | None = None, points: int = 0) -> dict[str, Any]:
    """Check out `cart` (SKU id → quantity) with a coupon code and points (fewer if that many are not allowed),
    pay, and return the checkout."""
    buyer = shop["buyer"]
    for sku_id, quantity in cart.items():
        await buyer.put(f"/cart/items/{sku_id}", json={"quantity": quantity})
    address = (await buyer.get("/me/addresses")).json()[0]["id"]
    body = {"address_id": address, "coupon_code": code, "points": points}
    r = await buyer.post("/checkouts", json=body)
    if r.status_code == 422 and "points_allowed" in r.json():
        r = await buyer.post("/checkouts", json=body | {"points": r.json()["points_allowed"]})
    assert r.status_code == 201, r.text
    await shop["pay_checkout"](r.json())
    return r.json()


async def deliver(vendor: Actor, order_id: int) -> None:
    for step, body in (("accept", None), ("ship", SHIP), ("deliver", None)):
        assert (await vendor.post(f"/vendor/orders/{order_id}/{step}", json=body)).status_code == 200


async def refund_only(shop: dict[str, Any], vendor: Actor, order: dict[str, Any], line: int, units: int) -> dict:
    """Ask for money back on `units` of an order line, have the vendor approve and refund all it covers."""
    body = {"kind": "refund_only", "reason": "arrived broken", "lines": [{"order_line_id": line, "quantity": units}]}
    r = await shop["buyer"].post(f"/orders/{order['id']}/aftersales", json=body)
    assert r.status_code == 201, r.text
    request = r.json()
    assert (await vendor.post(f"/vendor/aftersales/{request['id']}/approve")).status_code == 200
    r = await vendor.post(f"/vendor/aftersales/{request['id']}/refund", json={})
    assert r.status_code == 200, r.text
    return r.json()


async def balances(admin: Actor) -> dict[str, int]:
    body = (await admin.get("/admin/settlement/trial-balance")).json()
    assert body["total"] == 0
    return {a["account"]: a["balance"] for a in body["accounts"]}


async def owed(vendor: Actor) -> int:
    return (await vendor.get("/vendor/settlement/balance")).json()["balance"]


async def test_a_discounted_line_is_refunded_what_was_paid_for_it_not_its_list_price(
    shop: dict[str, Any], admin: Actor, db: asyncpg.Connection
) -> None:
    """8,500 bought for 7,814 after a coupon: the refund is 7,814, and the vendor gives back exactly what it
    was credited (8,500 less commission, the platform having paid 686 of it)."""
    alpha, beta = shop["alpha"], shop["beta"]
    lamp = await product(alpha, shop["kettle"]["category_id"], "Lamp", 8_500, stock=5)
    off = coupon(kind="fixed", amount_off=686, scope="product", scope_ids=[lamp["id"]])
    assert (await admin.post("/marketing/coupons", json=off)).status_code == 201
    checkout = await buy(shop, {lamp["skus"][0]["id"]: 1, shop["hose"]["skus"][0]["id"]: 1}, off["code"])
    order = next(o for o in checkout["orders"] if o["vendor_id"] == alpha.vendor_id)
    assert order["total"] == 7_814
    assert await owed(alpha) == 8_500 - 850
    await deliver(alpha, order["id"])

    done = await refund_only(shop, alpha, order, order["lines"][0]["id"], 1)
    assert (done["refund_cap"], done["refunded_amount"]) == (7_814, 7_814)
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 7_814
    assert await owed(alpha) == 0  # debited exactly what the payment credited, not more
    assert await owed(beta) == 6_000 - 600
    accounts = await balances(admin)
    assert (accounts.get("promotions", 0), accounts["commission"]) == (0, -600)


async def test_partial_returns_one_after_another_add_up_to_what_was_paid_with_coupon_and_points(
    shop: dict[str, Any], admin: Actor, db: asyncpg.Connection
) -> None:
    """Three kettles under the shop's 10% coupon and points, returned one at a time: the three refunds add up
    to exactly what was paid for the line, and the shop and the platform are back where they started."""
    alpha, buyer = shop["alpha"], shop["buyer"]
    await db.execute("INSERT INTO loyalty_ledger (user_id, delta, kind) VALUES ($1, 1000, 'adjusted')", buyer.id)
    mine = coupon(kind="percent", percent_bp=1_000, scope="vendor", scope_ids=[alpha.vendor_id])
    assert (await alpha.post("/vendor/coupons", json=mine)).status_code == 201
    kettle, hose = shop["kettle"]["skus"][0]["id"], shop["hose"]["skus"][0]["id"]
    checkout = await buy(shop, {kettle: 3, hose: 1}, mine["code"], points=1_000)
    order = next(o for o in checkout["orders"] if o["vendor_id"] == alpha.vendor_id)
    line = order["lines"][0]
    paid = line["line_total"] - line["discount"]
    assert paid < 8_100  # 9,000 less the shop's 900, less the line's share of the points
    await deliver(alpha, order["id"])

    caps = [(await refund_only(shop, alpha, order, line["id"], 1))["refund_cap"] for _ in range(3)]
    assert sum(caps) == paid and max(caps) - min(caps) <= 1
    r = await buyer.post(f"/orders/{order['id']}/aftersales",
                         json={"kind": "refund_only", "reason": "again", "lines": [{"order_line_id": line["id"],
                                                                                  "quantity": 1}]})  # fmt: skip
    assert r.status_code == 409  # nothing left to claim
    assert await owed(alpha) == 0
    accounts = await balances(admin)
    beta_order = next(o for o in checkout["orders"] if o["vendor_id"] != alpha.vendor_id)
    # What is left is the hose's: its commission, and its share of the points as the platform's cost.
    assert accounts["commission"] == -600
    assert accounts["promotions"] == beta_order["discount"]
    assert await db.fetchval("SELECT sum(amount) FROM ledger_entries") == 0


async def test_a_refund_reverses_the_refunded_lines_own_commission_and_promotion_share(
    shop: dict[str, Any], admin: Actor, db: asyncpg.Connection
) -> None:
    """One order, two lines: kettles at a 20% category rate, a lamp at 10% with a platform coupon on the lamp
    only. Returning the kettle gives back its own commission and touches none of the lamp's coupon."""
    alpha = shop["alpha"]
    kettles = shop["kettle"]["category_id"]
    await admin.put("/admin/settlement/rates", json={"scope": "category", "scope_id": kettles, "rate_bp": 2_000})
    lamp = await product(alpha, shop["hose"]["category_id"], "Lamp", 5_000, stock=5)
    off = coupon(kind="fixed", amount_off=1_000, scope="product", scope_ids=[lamp["id"]])
    assert (await admin.post("/marketing/coupons", json=off)).status_code == 201
    checkout = await buy(shop, {shop["kettle"]["skus"][0]["id"]: 1, lamp["skus"][0]["id"]: 1}, off["code"])
    [order] = checkout["orders"]
    assert await owed(alpha) == (3_000 - 600) + (5_000 - 500)
    await deliver(alpha, order["id"])
    kettle_line = next(line for line in order["lines"] if line["title"] == "Kettle")

    await refund_only(shop, alpha, order, kettle_line["id"], 1)
    assert await owed(alpha) == 5_000 - 500  # the lamp's credit, untouched
    accounts = await balances(admin)
    assert (accounts["promotions"], accounts["commission"]) == (1_000, -500)
    refund = await db.fetch(
        "SELECT account, amount FROM ledger_entries WHERE kind = 'refund' AND order_line_id = $1", kettle_line["id"]
    )
    assert {r["account"]: r["amount"] for r in refund} == {
        "gateway": -3_000, "commission": 600, vendor_account(alpha.vendor_id): 2_400,
    }  # fmt: skip


async def test_no_refund_path_gives_back_more_than_was_paid_for_the_order(
    shop: dict[str, Any], admin: Actor, db: asyncpg.Connection
) -> None:
    """The payment covers both shops' orders, but a refund of one order is capped at that order's total;
    cancelling a paid order with a coupon refunds what was paid for it and reverses its posting exactly."""
    alpha, beta, buyer = shop["alpha"], shop["beta"], shop["buyer"]
    off = coupon(kind="fixed", amount_off=3_000, min_spend=10_000)
    assert (await admin.post("/marketing/coupons", json=off)).status_code == 201
    checkout = await buy(shop, {shop["kettle"]["skus"][0]["id"]: 2, shop["hose"]["skus"][0]["id"]: 1}, off["code"])
    orders = {o["vendor_id"]: o for o in checkout["orders"]}
    alpha_order = orders[alpha.vendor_id]
    assert alpha_order["total"] == 4_500
    async with db.transaction():
        with pytest.raises(Conflict):
            await refund(db, checkout["id"], alpha_order["id"], alpha_order["total"] + 1)
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 0

    r = await buyer.post(f"/orders/{alpha_order['id']}/cancel", json={"reason": "changed my mind"})
    assert r.status_code == 200, r.text
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 4_500
    per_account = await db.fetch(
        "SELECT account, sum(amount) AS s FROM ledger_entries WHERE order_id = $1 GROUP BY account", alpha_order["id"]
    )
    assert {r["account"]: r["s"] for r in per_account} == dict.fromkeys(
        ["gateway", "promotions", "commission", vendor_account(alpha.vendor_id)], 0
    )
    async with db.transaction():
        with pytest.raises(Conflict):
            await refund(db, checkout["id"], alpha_order["id"], 1)
    assert await owed(beta) == 6_000 - 600


# Property: for any mix of coupons, points, cancellations and partial returns, through the API.

COUPONS = {
    "none": None,
    "platform 15%": {"kind": "percent", "percent_bp": 1_500},
    "platform 37.77 off": {"kind": "fixed", "amount_off": 3_777},
    "kettles 2 for 1": {"kind": "buy_x_get_y", "buy_quantity": 1, "free_quantity": 1, "scope": "product"},
    "alpha's 33%": {"kind": "percent", "percent_bp": 3_333, "scope": "vendor"},
}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # examples share one database: shrinking could not replay
)
@given(data=st.data())
async def test_refunds_never_exceed_payments_and_the_ledger_stays_balanced(
    data: st.DataObject, shop: dict[str, Any], admin: Actor, db: asyncpg.Connection
) -> None:
    alpha, beta, buyer = shop["alpha"], shop["beta"], shop["buyer"]
    vendors = {alpha.vendor_id: alpha, beta.vendor_id: beta}
    await db.execute("UPDATE skus SET on_hand = 1000")
    await db.execute(
        "INSERT INTO loyalty_ledger (user_id, delta, kind, ref) VALUES ($1, 5000, 'adjusted', $2)", buyer.id,
        f"example {next(codes)}",
    )  # fmt: skip
    choice = COUPONS[data.draw(st.sampled_from(list(COUPONS)), label="coupon")]
    code = None
    if choice is not None:
        body = coupon(**choice)
        if body.get("scope") == "product":
            body["scope_ids"] = [shop["kettle"]["id"]]
        if body.get("scope") == "vendor":
            body["scope_ids"] = [alpha.vendor_id]
            assert (await alpha.post("/vendor/coupons", json=body)).status_code == 201
        else:
            assert (await admin.post("/marketing/coupons", json=body)).status_code == 201
        code = body["code"]
    cart = {  # two kettles at least, so that "2 for 1" applies
        shop["kettle"]["skus"][0]["id"]: data.draw(st.integers(2, 4), label="kettles"),
        shop["hose"]["skus"][0]["id"]: data.draw(st.integers(1, 2), label="hoses"),
    }
    checkout = await buy(shop, cart, code, points=data.draw(st.integers(0, 4_000), label="points"))
    for order in checkout["orders"]:
        vendor = vendors[order["vendor_id"]]
        if data.draw(st.booleans(), label=f"cancel order {order['vendor_id']}"):
            r = await buyer.post(f"/orders/{order['id']}/cancel", json={"reason": "changed my mind"})
            assert r.status_code == 200, r.text
            continue
        await deliver(vendor, order["id"])
        for line in order["lines"]:
            left = line["quantity"]
            while left and data.draw(st.booleans(), label="return more"):
                units = data.draw(st.integers(1, left), label="units")
                body = {"kind": "refund_only", "reason": "broken",
                        "lines": [{"order_line_id": line["id"], "quantity": units}]}  # fmt: skip
                request = (await buyer.post(f"/orders/{order['id']}/aftersales", json=body)).json()
                await vendor.post(f"/vendor/aftersales/{request['id']}/approve")
                cap = request["refund_cap"]
                amount = data.draw(st.integers(1, cap), label="amount") if cap else None
                r = await vendor.post(f"/vendor/aftersales/{request['id']}/refund", json={"amount": amount})
                assert r.status_code == 200, r.text
                left -= units
    await check_refunds_within_payments(db, checkout["id"])


async def check_refunds_within_payments(db: asyncpg.Connection, checkout_id: int) -> None:
    assert await db.fetchval("SELECT sum(amount) FROM ledger_entries") == 0
    assert await db.fetchval("SELECT count(*) FROM (SELECT posting FROM ledger_entries GROUP BY posting "
                             "HAVING sum(amount) <> 0) unbalanced") == 0  # fmt: skip
    payment = await db.fetchrow("SELECT amount, refunded_amount FROM payments WHERE checkout_id = $1", checkout_id)
    refunds = """SELECT coalesce(-sum(amount), 0) FROM ledger_entries
                 WHERE kind = 'refund' AND account = 'gateway' AND {} = $1"""
    given_back = 0
    for order in await db.fetch("SELECT id, vendor_id, total FROM orders WHERE checkout_id = $1", checkout_id):
        order_refunded = await db.fetchval(refunds.format("order_id"), order["id"])
        assert order_refunded <= order["total"]
        given_back += order_refunded
        vendor = vendor_account(order["vendor_id"])
        entries = "SELECT account, coalesce(sum(amount), 0) AS s FROM ledger_entries WHERE {} = $1 GROUP BY account"
        # The vendor never gives back more than the order credited it.
        on_order = {r["account"]: r["s"] for r in await db.fetch(entries.format("order_id"), order["id"])}
        assert on_order.get(vendor, 0) <= 0
        for line in await db.fetch("SELECT id, line_total, vendor_discount, platform_discount, commission "
                                   "FROM order_lines WHERE order_id = $1", order["id"]):  # fmt: skip
            paid = line["line_total"] - line["vendor_discount"] - line["platform_discount"]
            line_refunded = await db.fetchval(refunds.format("order_line_id"), line["id"])
            assert line_refunded <= paid
            if paid and line_refunded == paid:  # all of it back: exactly what its payment credited reverses
                back = {r["account"]: r["s"] for r in await db.fetch(entries.format("order_line_id"), line["id"])}
                credited = line["line_total"] - line["vendor_discount"] - line["commission"]
                assert back.get(vendor, 0) == credited
                assert back.get("promotions", 0) == -line["platform_discount"]
                assert back.get("commission", 0) == line["commission"]
    assert given_back == payment["refunded_amount"] <= payment["amount"]


# The same arithmetic without the database, over many more cases.


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.tuples(st.integers(1, 20_000), st.integers(1, 5)), min_size=1, max_size=4),
    vendor_off_bp=st.integers(0, 5_000),
    platform_off_bp=st.integers(0, 9_000),
    rate_bp=st.integers(0, 3_000),
    data=st.data(),
)
def test_claims_one_after_another_never_refund_more_than_was_paid(
    lines: list[tuple[int, int]], vendor_off_bp: int, platform_off_bp: int, rate_bp: int, data: st.DataObject
) -> None:
    totals = {i: price * quantity for i, (price, quantity) in enumerate(lines)}
    vendor_off = allocate(sum(totals.values()) * vendor_off_bp // 10_000, totals)
    sells_for = {i: totals[i] - vendor_off[i] for i in totals}
    platform_off = allocate(sum(sells_for.values()) * platform_off_bp // 10_000, sells_for)
    commission = {i: (sells_for[i] * rate_bp + 5_000) // 10_000 for i in totals}
    parts = {i: Part(sells_for[i] - platform_off[i], platform_off[i], commission[i]) for i in totals}
    order_total = sum(p.paid for p in parts.values())
    ledger: dict[str, int] = dict.fromkeys(["gateway", "promotions", "commission", "vendor:1"], 0)
    for account, amount in payment_entries(
        1, order_total, sum(commission.values()), sum(platform_off.values())
    ).items():
        ledger[account] += amount
    claimed = {i: 0 for i in totals}  # units claimed by requests so far
    committed = {i: 0 for i in totals}  # what those requests are worth
    for _ in range(data.draw(st.integers(0, 8), label="requests")):
        open_lines = [i for i in totals if claimed[i] < lines[i][1]]
        if not open_lines:
            break
        wanted = {}
        for i in data.draw(st.lists(st.sampled_from(open_lines), min_size=1, unique=True), label="lines"):
            wanted[i] = data.draw(st.integers(1, lines[i][1] - claimed[i]), label="units")
        worth = {}
        for i, units in wanted.items():
            worth[i] = units_paid(parts[i].paid, lines[i][1], lines[i][1] - claimed[i], committed[i], units)
            claimed[i] += units
            committed[i] += worth[i]
        assert all(committed[i] <= parts[i].paid for i in totals)
        cap = sum(worth.values())
        amount = data.draw(st.integers(0, cap), label="refund")
        if not amount:
            continue
        for i, share in split_refund(amount, worth).items():
            for account, value in part_refund_entries(1, parts[i], share).items():
                ledger[account] += value
            parts[i] = Part(parts[i].paid, parts[i].platform_discount, parts[i].commission, parts[i].refunded + share)
            assert parts[i].refunded <= parts[i].paid
    assert sum(ledger.values()) == 0
    assert ledger["gateway"] >= 0 and ledger["promotions"] >= 0 and ledger["vendor:1"] <= 0
    for i in totals:  # a line claimed whole is worth exactly what was paid for it
        if claimed[i] == lines[i][1]:
            assert committed[i] == parts[i].paid

"""Coupons, automatic discounts and loyalty points through the API: who may create what, how a discount
splits across vendor orders and lands in settlement, limits under concurrency, tiers, and points given
back exactly when money is."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core.db import create_pool
from marketplace.settings import Settings
from marketplace.workflows.sweeper import expire_unpaid
from tests.conftest import ADDRESS, Actor, sign_up

SHIP = {"carrier": "DHL", "tracking_number": "TRACK-123"}


def coupon(**fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    window = {"starts_at": (now - timedelta(minutes=1)).isoformat(), "ends_at": (now + timedelta(days=7)).isoformat()}
    return {"name": "Spend 100, save 30", "kind": "threshold", "audience": "code", "min_spend": 10_000,
            "amount_off": 3_000, "code": "SAVE30"} | window | fields  # fmt: skip


async def fill_cart(buyer: Actor, shop: dict[str, Any]) -> None:
    await buyer.put(f"/cart/items/{shop['kettle']['skus'][0]['id']}", json={"quantity": 2})  # 2 x 30.00, alpha
    await buyer.put(f"/cart/items/{shop['hose']['skus'][0]['id']}", json={"quantity": 1})  # 1 x 60.00, beta


async def address_of(buyer: Actor) -> int:
    return (await buyer.get("/me/addresses")).json()[0]["id"]


async def trial_balance(admin: Actor) -> dict[str, int]:
    body = (await admin.get("/admin/settlement/trial-balance")).json()
    assert body["total"] == 0
    return {a["account"]: a["balance"] for a in body["accounts"]}


async def test_a_platform_coupon_splits_across_vendor_orders_and_the_platform_pays_for_it(
    admin: Actor, shop: dict[str, Any]
) -> None:
    assert (await admin.post("/marketing/coupons", json=coupon())).status_code == 201
    buyer, alpha, beta = shop["buyer"], shop["alpha"], shop["beta"]
    await fill_cart(buyer, shop)
    placed = await buyer.post("/checkouts", json={"address_id": await address_of(buyer), "coupon_code": "save30"})
    assert placed.status_code == 201, placed.text
    checkout = placed.json()
    assert (checkout["items_total"], checkout["discount_total"], checkout["grand_total"]) == (12_000, 3_000, 9_000)
    assert sorted((o["discount"], o["total"]) for o in checkout["orders"]) == [(1_500, 4_500), (1_500, 4_500)]
    await shop["pay_checkout"](checkout)
    # Each vendor is owed its full price less 10% commission; the platform's promotions account paid 30.00.
    assert (await alpha.get("/vendor/settlement/balance")).json()["balance"] == 6_000 - 600
    assert (await beta.get("/vendor/settlement/balance")).json()["balance"] == 6_000 - 600
    assert (await trial_balance(admin))["promotions"] == 3_000
    await fill_cart(buyer, shop)
    again = await buyer.post("/checkouts", json={"address_id": await address_of(buyer), "coupon_code": "SAVE30"})
    assert again.status_code == 422 and "as often as allowed" in again.json()["detail"]


async def test_a_shops_coupon_takes_off_only_its_lines_and_the_shop_pays_for_it(
    admin: Actor, shop: dict[str, Any]
) -> None:
    alpha, beta, buyer = shop["alpha"], shop["beta"], shop["buyer"]
    mine = coupon(name="Alpha 10%", kind="percent", percent_bp=1_000, code="ALPHA10", scope="vendor",
                  scope_ids=[alpha.vendor_id], min_spend=0, amount_off=0)  # fmt: skip
    assert (await beta.post("/vendor/coupons", json=mine)).status_code == 422  # not beta's shop
    assert (await beta.post("/vendor/coupons", json=mine | {"scope": "platform", "scope_ids": []})).status_code == 422
    theirs = mine | {"scope": "product", "scope_ids": [shop["kettle"]["id"]]}
    assert (await beta.post("/vendor/coupons", json=theirs)).status_code == 404
    r = await alpha.post("/vendor/coupons", json=mine)
    assert r.status_code == 201 and r.json()["vendor_id"] == alpha.vendor_id
    assert (await beta.get(f"/vendor/coupons/{r.json()['id']}")).status_code == 404
    await fill_cart(buyer, shop)
    checkout = (
        await buyer.post("/checkouts", json={"address_id": await address_of(buyer), "coupon_code": "ALPHA10"})
    ).json()
    orders = {o["vendor_id"]: o for o in checkout["orders"]}
    assert (orders[alpha.vendor_id]["discount"], orders[beta.vendor_id]["discount"]) == (600, 0)
    await shop["pay_checkout"](checkout)
    # Alpha sold for 54.00 and pays 10% commission on that; nothing was the platform's cost.
    assert (await alpha.get("/vendor/settlement/balance")).json()["balance"] == 5_400 - 540
    assert (await trial_balance(admin)).get("promotions", 0) == 0


async def test_marketing_routes_treat_a_shops_coupon_as_absent(
    client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    marketer = await sign_up(client, "marketer@example.com")
    await db.execute("UPDATE users SET roles = '{buyer,marketer}' WHERE id = $1", marketer.id)
    issued = {"audience": "issued", "code": None}
    theirs = await alpha.post("/vendor/coupons", json=coupon(scope="vendor", scope_ids=[alpha.vendor_id], **issued))
    assert theirs.status_code == 201, theirs.text
    shops = theirs.json()["id"]
    ours = (await marketer.post("/marketing/coupons", json=coupon(name="Platform 30", **issued))).json()["id"]
    for who in (marketer, admin):
        assert (await who.get(f"/marketing/coupons/{shops}")).status_code == 404
        issue = await who.post(f"/marketing/coupons/{shops}/issue", json={"buyer_ids": [buyer.id]})
        assert issue.status_code == 404, issue.text
        assert (await who.post(f"/marketing/coupons/{shops}/disable")).status_code == 404
        assert [c["id"] for c in (await who.get("/marketing/coupons")).json()["items"]] == [ours]
    # The shop's coupon is untouched, issued to nobody, and still the shop's to manage.
    assert await db.fetchval("SELECT count(*) FROM coupon_grants") == 0
    assert (await alpha.get(f"/vendor/coupons/{shops}")).json()["disabled_at"] is None
    assert (await alpha.post(f"/vendor/coupons/{shops}/disable")).status_code == 200
    # The platform's own coupon goes through the marketing routes as before.
    assert (await marketer.get(f"/marketing/coupons/{ours}")).status_code == 200
    r = await marketer.post(f"/marketing/coupons/{ours}/issue", json={"buyer_ids": [buyer.id]})
    assert r.json() == {"coupon_id": ours, "issued": 1}
    assert (await alpha.get(f"/vendor/coupons/{ours}")).status_code == 404


async def test_automatic_discounts_apply_without_a_code_and_the_best_one_wins(
    admin: Actor, shop: dict[str, Any]
) -> None:
    for body in (coupon(audience="automatic", code=None, name="Week of hoses", kind="fixed", amount_off=500,
                        scope="product", scope_ids=[shop["hose"]["id"]], min_spend=0),
                 coupon(audience="automatic", code=None, name="2 for 1 kettles", kind="buy_x_get_y", buy_quantity=1,
                        free_quantity=1, scope="product", scope_ids=[shop["kettle"]["id"]], amount_off=0)):  # fmt: skip
        assert (await admin.post("/marketing/coupons", json=body)).status_code == 201, body
    buyer = shop["buyer"]
    await fill_cart(buyer, shop)
    checkout = (await buyer.post("/checkouts", json={"address_id": await address_of(buyer)})).json()
    assert checkout["discount_total"] == 3_000  # one kettle free beats 5.00 off the hose


async def test_a_limited_coupon_is_used_exactly_as_often_as_allowed_when_buyers_race(
    client: AsyncTestClient[Litestar], admin: Actor, shop: dict[str, Any]
) -> None:
    assert (await admin.post("/marketing/coupons", json=coupon(total_limit=1))).status_code == 201
    buyers = [shop["buyer"], await sign_up(client, "racer@example.com")]
    await buyers[1].post("/me/addresses", json=ADDRESS)
    for buyer in buyers:
        await fill_cart(buyer, shop)
    bodies = [{"address_id": await address_of(b), "coupon_code": "SAVE30"} for b in buyers]
    replies = await asyncio.gather(*(b.post("/checkouts", json=body) for b, body in zip(buyers, bodies, strict=True)))
    assert sorted(r.status_code for r in replies) in ([201, 409], [201, 422])
    assert (await admin.get("/marketing/coupons")).json()["items"][0]["redeemed"] == 1


async def test_tier_only_coupons_issued_live_and_refused_below_the_tier(
    admin: Actor, db: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    buyer = shop["buyer"]
    gold = coupon(audience="issued", code=None, name="Gold members' 20 off", kind="fixed", amount_off=2_000,
                  min_spend=0, min_tier="gold")  # fmt: skip
    created = (await admin.post("/marketing/coupons", json=gold)).json()
    issued = await admin.post(f"/marketing/coupons/{created['id']}/issue", json={"buyer_ids": [buyer.id, 999_999]})
    assert issued.json() == {"coupon_id": created["id"], "issued": 1}
    event = await db.fetchrow("SELECT topic, payload FROM events WHERE type = 'coupon.issued'")
    assert event["topic"] == f"user:{buyer.id}" and event["payload"]["coupon_id"] == created["id"]
    [held] = (await buyer.get("/me/coupons")).json()
    assert (held["usable"], held["why_not"]) == (False, "needs the gold tier")
    await fill_cart(buyer, shop)
    r = await buyer.post("/checkouts", json={"address_id": await address_of(buyer), "coupon_code": "nope"})
    assert r.status_code == 422
    loyalty = (await buyer.get("/me/loyalty")).json()
    assert (loyalty["tier"], loyalty["next_tier"], loyalty["spend_to_next_tier"]) == ("member", "silver", 50_000)


async def test_points_are_earned_on_completion_spent_at_checkout_and_given_back_exactly_on_refund(
    admin: Actor, settings: Settings, shop: dict[str, Any]
) -> None:
    buyer, alpha, beta = shop["buyer"], shop["alpha"], shop["beta"]
    orders = await shop["checkout"](pay=True)
    for vendor in (alpha, beta):
        order_id = orders[vendor.vendor_id]["id"]
        for step, body in (("accept", None), ("ship", SHIP), ("deliver", None)):
            assert (await vendor.post(f"/vendor/orders/{order_id}/{step}", json=body)).status_code == 200
        assert (await buyer.post(f"/orders/{order_id}/confirm-receipt")).status_code == 200
    loyalty = (await buyer.get("/me/loyalty")).json()
    assert loyalty["balance"] == 60 + 60  # one point per euro paid for items
    await fill_cart(buyer, shop)
    too_many = await buyer.post("/checkouts", json={"address_id": await address_of(buyer), "points": 121})
    assert too_many.status_code == 422 and too_many.json()["points_allowed"] == 120
    checkout = (await buyer.post("/checkouts", json={"address_id": await address_of(buyer), "points": 101})).json()
    assert (checkout["points_spent"], checkout["discount_total"], checkout["grand_total"]) == (101, 101, 11_899)
    assert (await buyer.get("/me/loyalty")).json()["balance"] == 19
    await shop["pay_checkout"](checkout)
    assert (await trial_balance(admin))["promotions"] == 101
    for order in checkout["orders"]:  # cancelling both paid orders refunds them, which gives the points back
        r = await buyer.post(f"/orders/{order['id']}/cancel", json={"reason": "changed my mind"})
        assert r.status_code == 200, r.text
    assert (await buyer.get("/me/loyalty")).json()["balance"] == 120
    assert (await trial_balance(admin)).get("promotions", 0) == 0


async def test_an_expired_unpaid_checkout_gives_its_coupon_use_and_points_back(
    admin: Actor, db: asyncpg.Connection, settings: Settings, shop: dict[str, Any]
) -> None:
    buyer = shop["buyer"]
    await db.execute("INSERT INTO loyalty_ledger (user_id, delta, kind) VALUES ($1, 500, 'adjusted')", buyer.id)
    await admin.post("/marketing/coupons", json=coupon())
    await fill_cart(buyer, shop)
    body = {"address_id": await address_of(buyer), "coupon_code": "SAVE30", "points": 300}
    checkout = (await buyer.post("/checkouts", json=body)).json()
    assert (checkout["discount_total"], (await buyer.get("/me/loyalty")).json()["balance"]) == (3_300, 200)
    await db.execute("UPDATE checkouts SET expires_at = now() - interval '1 second' WHERE id = $1", checkout["id"])
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        assert await expire_unpaid(pool) == 1
    finally:
        await pool.close()
    assert (await buyer.get("/me/loyalty")).json()["balance"] == 500
    await fill_cart(buyer, shop)
    again = await buyer.post("/checkouts", json={"address_id": await address_of(buyer), "coupon_code": "SAVE30"})
    assert again.status_code == 201 and again.json()["discount_total"] == 3_000


async def test_bad_coupons_are_refused_and_change_nothing(
    admin: Actor, db: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    for bad, status in (
        (coupon(kind="percent", percent_bp=0), 422),
        (coupon(kind="threshold", min_spend=100, amount_off=3_000), 422),
        (coupon(code=None), 422),
        (coupon(scope="category", scope_ids=[987_654]), 404),
        (
            coupon(
                ends_at=datetime.now(UTC).isoformat(), starts_at=(datetime.now(UTC) - timedelta(days=1)).isoformat()
            ),
            422,
        ),
        (coupon(amount_off=-5), 400),
    ):
        r = await admin.post("/marketing/coupons", json=bad)
        assert r.status_code == status, (bad, r.text)
    assert await db.fetchval("SELECT count(*) FROM coupons") == 0
    assert (await shop["buyer"].post("/marketing/coupons", json=coupon())).status_code == 403
    assert (await shop["buyer"].post("/me/coupons/claim", json={"code": "NOPE"})).status_code == 404


async def test_tiers_count_what_was_paid_net_of_refunds_and_cash_orders_once_paid(shop: dict[str, Any]) -> None:
    """A tier measures what the buyer actually spent: a refund takes its amount off (a fully refunded order
    counts nothing), and a cash-on-delivery order counts once the courier has been paid."""
    buyer, alpha, beta = shop["buyer"], shop["alpha"], shop["beta"]

    async def spend() -> int:
        return (await buyer.get("/me/loyalty")).json()["trailing_spend"]

    async def deliver(vendor: Actor, order_id: int) -> None:
        for step, body in (("accept", None), ("ship", SHIP), ("deliver", None)):
            assert (await vendor.post(f"/vendor/orders/{order_id}/{step}", json=body)).status_code == 200

    orders = await shop["checkout"](pay=True)  # 2 kettles at 30.00 (alpha), a hose at 60.00 (beta)
    assert await spend() == 12_000
    kettles = orders[alpha.vendor_id]
    await deliver(alpha, kettles["id"])
    line = kettles["lines"][0]["id"]
    for left in (9_000, 6_000):  # one kettle refunded, then the other: the order is refunded whole
        claim = {"kind": "refund_only", "reason": "broken", "lines": [{"order_line_id": line, "quantity": 1}]}
        request = (await buyer.post(f"/orders/{kettles['id']}/aftersales", json=claim)).json()
        await alpha.post(f"/vendor/aftersales/{request['id']}/approve")
        assert (await alpha.post(f"/vendor/aftersales/{request['id']}/refund", json={})).status_code == 200
        assert await spend() == left

    cash = await shop["checkout"](pay=False)
    r = await buyer.post(f"/checkouts/{cash['checkout']['id']}/payments", json={"method": "cash_on_delivery"})
    assert r.status_code == 201, r.text
    assert await spend() == 6_000  # confirmed, not paid yet
    await deliver(beta, cash[beta.vendor_id]["id"])
    assert await spend() == 6_000 + 6_000

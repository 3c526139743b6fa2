"""Risk control against real PostgreSQL: a brushing ring raises alerts and holds its payout while honest traffic
raises none; alerts are not duplicated by a rerun; support decides them (audit-logged, holds released); the
refund, failed-login, failed-payment and shared-IP rules; only support and admins see any of it.

Orders are written behind the API's back (200 checkouts through it would take the test's time, not the
rules'), as the seed does: paid, with their history and their payment postings made by settlement itself."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core import fields
from marketplace.core.db import create_pool
from marketplace.risk import Rule
from marketplace.risk.rules import Thresholds
from marketplace.risk.service import scan
from marketplace.settlement.service import post_payments
from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor, sign_up

RING_ADDRESS = {"line1": "12 Fake Lane", "postal_code": "10999", "country": "DE", "city": "Berlin"}


def address(n: int, **over: str) -> dict[str, Any]:
    return {"recipient": f"Person {n}", "phone": "+4915100000000", "line1": f"{n} Honest Road", "line2": "",
            "city": "Hamburg", "region": "", "postal_code": f"2{n:04d}", "country": "DE", **over}  # fmt: skip


async def new_buyers(db: asyncpg.Connection, prefix: str, count: int) -> list[int]:
    rows = await db.fetch(
        "INSERT INTO users (email, password_hash) SELECT $1 || g || '@example.com', 'x' FROM generate_series(1, $2) g"
        " RETURNING id",
        prefix,
        count,
    )
    return [r["id"] for r in rows]


def sku_of(item: dict[str, Any]) -> dict[str, Any]:
    sku = item["skus"][0]
    return {"id": sku["id"], "price": sku["price"], "code": sku["code"], "product_id": item["id"],
            "vendor_id": item["vendor_id"], "title": item["title"]}  # fmt: skip


async def paid_orders(db: asyncpg.Connection, purchases: list[tuple[int, dict[str, Any], dict[str, Any]]]) -> list[int]:
    """(buyer, shipping address, SKU) → one paid order each, with history and its payment posted."""
    ids = []
    async with db.transaction():
        for buyer_id, ship_to, sku in purchases:
            price = sku["price"]
            checkout_id = await db.fetchval(
                "INSERT INTO checkouts (buyer_id, status, currency, items_total, shipping_total, grand_total,"
                " shipping_address, expires_at, paid_at) VALUES ($1, 'paid', 'EUR', $2, 0, $2, $3,"
                " now() + interval '15 minutes', now()) RETURNING id",
                buyer_id, price, fields.sealed_snapshot(ship_to),  # as checkout copies it from the address
            )  # fmt: skip
            order_id = await db.fetchval(
                "INSERT INTO orders (checkout_id, buyer_id, vendor_id, status, currency, items_total, shipping_total,"
                " total) VALUES ($1, $2, $3, 'paid', 'EUR', $4, 0, $4) RETURNING id",
                checkout_id, buyer_id, sku["vendor_id"], price,
            )  # fmt: skip
            await db.execute(
                "INSERT INTO order_lines (order_id, sku_id, product_id, title, sku_code, unit_price, quantity,"
                " line_total) VALUES ($1, $2, $3, $4, $5, $6, 1, $6)",
                order_id, sku["id"], sku["product_id"], sku["title"], sku["code"], price,
            )  # fmt: skip
            await db.execute(
                "INSERT INTO order_history (order_id, from_status, to_status) VALUES ($1, NULL, 'pending_payment'),"
                " ($1, 'pending_payment', 'paid')",
                order_id,
            )
            ids.append(order_id)
        await post_payments(db, ids)
    return ids


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of its own for `scan`, as the app's loop and the CLI have."""
    pool = await create_pool(database_url, 1, 2)
    yield pool
    await pool.close()


@pytest.fixture
async def market(client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection) -> dict[str, Any]:
    return await build_market(client, admin, db)


async def build_market(client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection) -> dict[str, Any]:
    """Three shops (one to be the ring's) with a SKU or two each, and a support agent."""
    cats = await category_tree(admin)
    ring_shop = await approved_vendor(client, admin, "ring@example.com", "Ring Shop")
    alpha = await approved_vendor(client, admin, "alpha@example.com", "Alpha")
    beta = await approved_vendor(client, admin, "beta@example.com", "Beta")
    skus = {
        "ring": sku_of(await product(ring_shop, cats["Kettles"], "Ring Kettle", 2000, stock=1000)),
        "alpha1": sku_of(await product(alpha, cats["Kettles"], "Steel Kettle", 3000, stock=1000)),
        "alpha2": sku_of(await product(alpha, cats["Garden"], "Hose", 1500, stock=1000)),
        "beta1": sku_of(await product(beta, cats["Electronics"], "Lamp", 4500, stock=1000)),
        "beta2": sku_of(await product(beta, cats["Garden"], "Rake", 2500, stock=1000)),
    }
    support = await sign_up(client, "support@example.com")
    await db.execute("UPDATE users SET roles = '{buyer,support}' WHERE id = $1", support.id)
    return {"ring_shop": ring_shop, "alpha": alpha, "beta": beta, "skus": skus, "support": support}


async def seed_ring(db: asyncpg.Connection, sku: dict[str, Any], accounts: int = 20, each: int = 10) -> tuple:
    """`accounts` accounts at one address (spelled a little differently by each) buying `each` of one SKU."""
    ring = await new_buyers(db, "ring", accounts)
    spellings = [RING_ADDRESS["line1"], "12, fake lane", "12 FAKE LANE."]
    purchases = [
        (buyer, {**RING_ADDRESS, "recipient": f"R{i}", "line1": spellings[i % 3], "postal_code": "10 999"}, sku)
        for i, buyer in enumerate(ring)
        for _ in range(each)
    ]
    return ring, await paid_orders(db, purchases)


async def seed_honest(db: asyncpg.Connection, skus: dict[str, dict[str, Any]]) -> list[int]:
    """60 buyers at their own addresses buying 1-3 of any SKU (the ring's too), and a couple sharing a flat
    who buy the same lamp: below every threshold."""
    rng = random.Random(7)
    honest = await new_buyers(db, "honest", 60)
    names = sorted(skus)
    purchases = [
        (buyer, address(n), skus[rng.choice(names)]) for n, buyer in enumerate(honest) for _ in range(rng.randint(1, 3))
    ]
    couple = await new_buyers(db, "couple", 2)
    purchases += [(buyer, address(999, recipient=f"Partner {buyer}"), skus["beta1"]) for buyer in couple]
    await paid_orders(db, purchases)
    return honest + couple


async def test_a_brushing_ring_raises_alerts_and_holds_its_payout_while_honest_traffic_raises_none(
    market: dict[str, Any], db: asyncpg.Connection, pool: asyncpg.Pool, admin: Actor
) -> None:
    skus = market["skus"]
    honest = await seed_honest(db, skus)
    quiet = await scan(pool)
    assert quiet.ran and sum(r.matched for r in quiet.rules) == 0, quiet  # honest traffic alone: nothing
    ring, ring_orders = await seed_ring(db, skus["ring"])
    result = await scan(pool)
    found = {r.rule: r.raised for r in result.rules if r.raised}
    assert found == {Rule.SHARED_ADDRESS: 1, Rule.BRUSHING_RING: 1}, result

    support = market["support"]
    alerts = (await support.get("/support/risk/alerts")).json()["items"]
    ring_shop_id = market["ring_shop"].vendor_id
    for alert in alerts:
        assert set(alert["user_ids"]) == set(ring) and not set(alert["user_ids"]) & set(honest)
        assert sorted(alert["order_ids"]) == sorted(ring_orders) and alert["vendor_id"] == ring_shop_id
        assert alert["held_orders"] == 200 and alert["status"] == "open"
        assert alert["evidence"]["accounts"] == 20 and alert["evidence"]["orders"] == 200
        assert alert["evidence"]["address"]["key"] == fields.address_match(RING_ADDRESS)  # three spellings, one
    shared = next(a for a in alerts if a["rule"] == "shared_address")
    assert shared["score"] == 100 and shared["evidence"]["sku_id"] == skus["ring"]["id"]

    # The ring's credit is held; what honest buyers paid the ring shop is not.
    vendor = market["ring_shop"]
    owed = (await vendor.get("/vendor/settlement/balance")).json()
    ring_credit = -await db.fetchval(
        "SELECT sum(amount)::bigint FROM ledger_entries WHERE account = $1 AND order_id = ANY ($2)",
        f"vendor:{ring_shop_id}", ring_orders,
    )  # fmt: skip
    assert owed["held"] == ring_credit > 0 and owed["balance"] > owed["held"]
    refused = await admin.post("/admin/settlement/payouts", json={"vendor_id": ring_shop_id, "amount": owed["balance"]})
    assert refused.status_code == 409 and refused.json()["held"] == ring_credit
    free = owed["balance"] - owed["held"]
    assert (
        await admin.post("/admin/settlement/payouts", json={"vendor_id": ring_shop_id, "amount": free})
    ).status_code == 201
    assert (await admin.get("/admin/settlement/trial-balance")).json()["total"] == 0

    # Dismissing one alert leaves the other holding; dismissing both releases the money.
    for n, alert in enumerate(alerts):
        r = await support.post(f"/support/risk/alerts/{alert['id']}/dismiss", json={"reason": "checked with shop"})
        assert r.status_code == 200 and r.json()["held_orders"] == 0
        held = (await vendor.get("/vendor/settlement/balance")).json()["held"]
        assert held == (ring_credit if n == 0 else 0)
    paid = await admin.post("/admin/settlement/payouts", json={"vendor_id": ring_shop_id, "amount": ring_credit})
    assert paid.status_code == 201
    assert (await admin.get("/admin/settlement/trial-balance")).json()["total"] == 0


async def test_a_second_scan_does_not_duplicate_and_a_dismissal_keeps_quiet_until_new_orders(
    market: dict[str, Any], db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    skus = market["skus"]
    ring, _ = await seed_ring(db, skus["ring"], accounts=6, each=2)
    first = await scan(pool)
    assert sum(r.raised for r in first.rules) == 2
    again = await scan(pool)
    assert sum(r.raised for r in again.rules) == 0 and sum(r.updated for r in again.rules) == 2
    assert await db.fetchval("SELECT count(*) FROM risk_alerts") == 2

    support = market["support"]
    shared = (await support.get("/support/risk/alerts", params={"rule": "shared_address"})).json()["items"]
    assert len(shared) == 1
    await support.post(f"/support/risk/alerts/{shared[0]['id']}/dismiss", json={"reason": "a student hall"})
    third = await scan(pool)
    assert {r.rule: r.raised for r in third.rules}[Rule.SHARED_ADDRESS] == 0
    assert await db.fetchval("SELECT count(*) FROM risk_alerts") == 2

    await paid_orders(db, [(ring[0], {**RING_ADDRESS, "recipient": "again"}, skus["ring"])])  # new evidence
    fourth = await scan(pool)
    assert {r.rule: r.raised for r in fourth.rules}[Rule.SHARED_ADDRESS] == 1
    live = (await support.get("/support/risk/alerts", params={"rule": "shared_address", "status": "open"})).json()
    assert len(live["items"]) == 1 and live["items"][0]["evidence"]["orders"] == 13


async def test_support_decides_an_alert_with_a_reason_audit_logged_and_others_are_refused(
    market: dict[str, Any], db: asyncpg.Connection, client: AsyncTestClient[Litestar]
) -> None:
    await seed_ring(db, market["skus"]["ring"], accounts=5, each=1)
    support = market["support"]
    assert (await support.post("/support/risk/scan")).status_code == 200
    page = (await support.get("/support/risk/alerts", params={"vendor_id": market["ring_shop"].vendor_id})).json()
    assert {a["rule"] for a in page["items"]} == {"shared_address", "brushing_ring"}
    alert_id = page["items"][0]["id"]

    buyer = await sign_up(client, "curious@example.com")
    for caller in (buyer, market["alpha"]):  # a buyer, a vendor: not staff
        assert (await caller.get("/support/risk/alerts")).status_code == 403
        assert (await caller.get(f"/support/risk/alerts/{alert_id}")).status_code == 403
        r = await caller.post(f"/support/risk/alerts/{alert_id}/dismiss", json={"reason": "not me"})
        assert r.status_code == 403
        assert (await caller.post("/support/risk/scan")).status_code == 403
    assert (await client.get("/support/risk/alerts")).status_code == 401

    assert (await support.post(f"/support/risk/alerts/{alert_id}/confirm", json={"reason": ""})).status_code == 400
    r = await support.post(f"/support/risk/alerts/{alert_id}/acknowledge", json={"reason": "looking into it"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    r = await support.post(f"/support/risk/alerts/{alert_id}/confirm", json={"reason": "same courier, fake names"})
    assert r.json()["status"] == "confirmed" and r.json()["held_orders"] == 5
    r = await support.post(f"/support/risk/alerts/{alert_id}/acknowledge", json={"reason": "again"})
    assert r.status_code == 409
    assert (await support.get("/support/risk/alerts/999999")).status_code == 404
    audit = await db.fetch(
        "SELECT action, actor_id, after->>'reason' AS reason FROM audit_log WHERE object_type = 'risk_alert'"
        " AND object_id = $1 ORDER BY id", str(alert_id),
    )  # fmt: skip
    assert [(a["action"], a["reason"]) for a in audit] == [
        ("risk_alert.acknowledged", "looking into it"), ("risk_alert.confirmed", "same courier, fake names"),
    ]  # fmt: skip
    assert {a["actor_id"] for a in audit} == {support.id}
    confirmed = (await support.get("/support/risk/alerts", params={"status": "confirmed"})).json()["items"]
    assert [a["id"] for a in confirmed] == [alert_id]
    assert (await support.get("/support/risk/alerts", params={"status": "nonsense"})).status_code == 400


async def test_refund_abuse_is_a_buyers_rate_far_above_the_platforms_and_holds_no_payout(
    market: dict[str, Any], db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    skus = market["skus"]
    honest = await new_buyers(db, "fair", 30)
    orders = await paid_orders(db, [(b, address(n), skus["alpha1"]) for n, b in enumerate(honest) for _ in range(2)])
    [abuser] = await new_buyers(db, "abuser", 1)
    abused = await paid_orders(db, [(abuser, address(500), skus["beta1"]) for _ in range(6)])
    await db.execute("UPDATE orders SET status = 'delivered' WHERE id = ANY ($1)", orders + abused)
    refunded = abused[:5] + orders[:1]  # one honest return among 60 orders
    await db.execute(
        "INSERT INTO aftersales_requests (order_id, buyer_id, vendor_id, kind, status, reason, refund_cap,"
        " refunded_amount) SELECT o.id, o.buyer_id, o.vendor_id, 'refund_only', 'refunded', 'broken', o.total, o.total"
        " FROM orders o WHERE o.id = ANY ($1)", refunded,
    )  # fmt: skip
    result = await scan(pool)
    assert {r.rule: r.raised for r in result.rules if r.raised} == {Rule.REFUND_ABUSE: 1}
    row = await db.fetchrow("SELECT * FROM risk_alerts")
    assert row["user_ids"] == [abuser] and sorted(row["order_ids"]) == sorted(abused[:5])
    assert row["score"] == 83 and row["evidence"]["platform_refund_rate"] == round(6 / 66, 3)
    assert await db.fetchval("SELECT count(*) FROM payout_holds") == 0


async def test_a_burst_of_failed_logins_through_the_login_route_raises_an_alert(
    market: dict[str, Any], db: asyncpg.Connection, pool: asyncpg.Pool, client: AsyncTestClient[Litestar]
) -> None:
    victim = await sign_up(client, "victim@example.com")
    for _ in range(5):  # then the login route makes this IP wait (LOGIN_FREE_FAILURES)
        r = await client.post("/auth/login", json={"identifier": victim.email, "password": "wrong guess 123"})
        assert r.status_code == 401
    await client.post("/auth/login", json={"identifier": "nobody@example.com", "password": "wrong guess 123"})
    assert await db.fetchval("SELECT count(*) FROM login_failures WHERE user_id = $1", victim.id) == 5
    assert await db.fetchval("SELECT count(*) FROM login_failures WHERE user_id IS NULL") == 1
    result = await scan(pool, Thresholds(login_failures_per_hour=5))
    assert {r.rule: r.raised for r in result.rules if r.raised} == {Rule.FAILED_LOGINS: 1}
    alert = await db.fetchrow("SELECT subject, score, evidence FROM risk_alerts")
    assert alert["subject"] == f"user:{victim.id}" and alert["score"] == 50
    assert alert["evidence"]["failures"] == 5
    assert sum(r.matched for r in (await scan(pool)).rules) == 0  # the default threshold is 20


async def test_a_burst_of_failed_payments_raises_an_alert(
    market: dict[str, Any], db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    [card_tester] = await new_buyers(db, "tester", 1)
    [checkout] = await paid_orders(db, [(card_tester, address(1), market["skus"]["alpha2"])])
    checkout_id = await db.fetchval("SELECT checkout_id FROM orders WHERE id = $1", checkout)
    await db.execute(
        "INSERT INTO payments (checkout_id, method, provider_ref, amount, currency, status)"
        " SELECT $1, 'sandbox', 'ref-' || g, 1500, 'EUR', 'failed' FROM generate_series(1, 7) g", checkout_id,
    )  # fmt: skip
    result = await scan(pool)
    assert {r.rule: r.raised for r in result.rules if r.raised} == {Rule.FAILED_PAYMENTS: 1}
    alert = await db.fetchrow("SELECT subject, score, evidence FROM risk_alerts")
    assert alert["subject"] == f"buyer:{card_tester}" and alert["score"] == 70
    assert len(alert["evidence"]["payment_ids"]) == 7


async def test_many_accounts_signed_in_from_one_ip_buying_one_sku_raise_an_alert(
    market: dict[str, Any], db: asyncpg.Connection, pool: asyncpg.Pool, client: AsyncTestClient[Litestar]
) -> None:
    """The test client is one IP: eight accounts signing in through it and buying the same hose."""
    accounts = [await sign_up(client, f"farm{n}@example.com") for n in range(8)]
    sku = market["skus"]["alpha2"]
    await paid_orders(db, [(a.id, address(n), sku) for n, a in enumerate(accounts)])
    result = await scan(pool)
    assert {r.rule: r.raised for r in result.rules if r.raised} == {Rule.SHARED_IP: 1}
    alert = await db.fetchrow("SELECT vendor_id, user_ids, evidence FROM risk_alerts")
    assert sorted(alert["user_ids"]) == sorted(a.id for a in accounts)
    assert alert["vendor_id"] == market["alpha"].vendor_id and alert["evidence"]["accounts"] == 8


async def test_two_scans_at_once_raise_each_alert_once_and_two_decisions_at_once_apply_once(
    market: dict[str, Any], db: asyncpg.Connection, database_url: str
) -> None:
    await seed_ring(db, market["skus"]["ring"], accounts=5, each=2)
    wide = await create_pool(database_url, 4, 4)
    try:
        waited, skipped_or_not, waited_too = await asyncio.gather(
            scan(wide), scan(wide, wait=False), scan(wide)
        )  # the loop's scan skips while another runs; the CLI's waits and then only refreshes
    finally:
        await wide.close()
    raised = [sum(r.raised for r in s.rules) for s in (waited, skipped_or_not, waited_too)]
    assert sum(raised) == 2 and await db.fetchval("SELECT count(*) FROM risk_alerts") == 2
    assert skipped_or_not.ran is False or raised[1] in (0, 2)

    support = market["support"]
    alert_id = await db.fetchval("SELECT id FROM risk_alerts WHERE rule = 'shared_address'")
    path = f"/support/risk/alerts/{alert_id}"
    answers = await asyncio.gather(
        support.post(f"{path}/dismiss", json={"reason": "one"}), support.post(f"{path}/dismiss", json={"reason": "two"})
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE object_type = 'risk_alert'") == 1


async def test_accounts_shipping_to_the_owners_address_and_reviewing_the_shop_are_a_ring(
    market: dict[str, Any], db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """Two accounts (below any shared-address threshold) ship five orders to the shop owner's own address and
    leave five-star reviews: the owner link alone makes them a ring."""
    owner = market["ring_shop"]
    home = address(77)
    sealed = fields.sealed_snapshot({**home, "recipient": "Owner"})
    await db.execute(
        "INSERT INTO addresses (user_id, recipient, phone, line1, city, postal_code, country, match_key)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        owner.id, *(sealed[k] for k in ("recipient", "phone", "line1", "city", "postal_code", "country", "match_key")),
    )  # fmt: skip
    friends = await new_buyers(db, "friend", 2)
    sku = market["skus"]["ring"]
    orders = await paid_orders(db, [(friends[n % 2], {**home, "recipient": "a friend"}, sku) for n in range(5)])
    await db.execute(
        "INSERT INTO reviews (product_id, vendor_id, buyer_id, rating, body) SELECT $1, $2, b, 5, 'superb'"
        " FROM unnest($3::bigint[]) b",
        sku["product_id"], owner.vendor_id, friends,
    )  # fmt: skip
    result = await scan(pool)
    assert {r.rule: r.raised for r in result.rules if r.raised} == {Rule.BRUSHING_RING: 1}
    alert = await db.fetchrow("SELECT subject, score, evidence, order_ids FROM risk_alerts")
    assert alert["subject"] == f"vendor:{owner.vendor_id}:owner" and sorted(alert["order_ids"]) == orders
    evidence = alert["evidence"]
    assert evidence["linked_by"] == "owner" and evidence["reviews"] == 2 and evidence["review_rating"] == 5.0
    assert alert["score"] == 100  # 30 + 25 (owner) + 25 (all the shop's orders) + 20 (every account reviewed)
    assert await db.fetchval("SELECT count(*) FROM payout_holds") == 5

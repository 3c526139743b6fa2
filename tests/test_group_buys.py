"""Group buys: a group that fills (every order paid and its stock taken), one that expires (every member
refunded in full, stock back, the ledger still balanced), a crowd racing for the last seat, double joins,
per-buyer limits and vendors' ownership. Real PostgreSQL and Redis throughout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core.db import create_pool
from marketplace.payments.sandbox import SIGNATURE_HEADER, SandboxGateway
from marketplace.seed.crowd import crowd as seed_crowd
from marketplace.settings import Settings
from marketplace.workflows.group_buys import expire_groups
from marketplace.workflows.sweeper import expire_unpaid
from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor

PRICE, GROUP_PRICE, SHIPPING = 3000, 1999, 499  # below free shipping: each order is 19.99 + 4.99


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


@pytest.fixture
async def shop(client: AsyncTestClient[Litestar], admin: Actor) -> dict[str, Any]:
    """A vendor with a kettle of 20 units, and another vendor."""
    cats = await category_tree(admin)
    alpha = await approved_vendor(client, admin, "alpha@example.com", "Alpha")
    beta = await approved_vendor(client, admin, "beta@example.com", "Beta")
    kettle = await product(alpha, cats["Kettles"], "Kettle", PRICE, stock=20)
    return {"alpha": alpha, "beta": beta, "kettle": kettle, "sku": kettle["skus"][0]["id"]}


async def open_deal(vendor: Actor, sku: int, size: int = 3, limit: int = 1, minutes: int = 60) -> dict[str, Any]:
    body = {"sku_id": sku, "group_price": GROUP_PRICE, "group_size": size, "group_minutes": minutes,
            "per_buyer_limit": limit, "starts_at": at(-1), "ends_at": at(3600)}  # fmt: skip
    r = await vendor.post("/vendor/group-buys", json=body)
    assert r.status_code == 201, r.text
    return r.json()


class Buyer:
    def __init__(self, client: AsyncTestClient[Litestar], buyer_id: int, token: str, address_id: int) -> None:
        self.client, self.id, self.address_id = client, buyer_id, address_id
        self.headers = {"Authorization": f"Bearer {token}"}

    async def start(self, deal_id: int, **headers: str) -> Any:
        return await self.client.post(
            f"/group-buys/deals/{deal_id}/groups", json={"address_id": self.address_id}, headers=self.headers | headers
        )

    async def join(self, group_id: int, **headers: str) -> Any:
        return await self.client.post(
            f"/group-buys/{group_id}/join", json={"address_id": self.address_id}, headers=self.headers | headers
        )


async def buyers(client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, n: int) -> list[Buyer]:
    return [Buyer(client, b, t, a) for b, t, a in await seed_crowd(db, n, settings.secret_key)]


async def pay(client: AsyncTestClient[Litestar], settings: Settings, buyer: Buyer, checkout_id: int) -> None:
    r = await client.post(f"/checkouts/{checkout_id}/payments", json={}, headers=buyer.headers)
    assert r.status_code == 201, r.text
    payment = r.json()["payment"]
    body, signature = SandboxGateway(settings.webhook_secret).callback(
        payment["provider_ref"], payment["amount"], payment["currency"]
    )
    r = await client.post("/payments/webhooks/sandbox", content=body, headers={SIGNATURE_HEADER: signature})
    assert r.json() == {"outcome": "applied"}, r.text


async def shelf(db: asyncpg.Connection, sku: int) -> tuple[int, int]:
    row = await db.fetchrow("SELECT on_hand, reserved FROM skus WHERE id = $1", sku)
    return row["on_hand"], row["reserved"]


@asynccontextmanager
async def sweeper_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The sweeper's own pool, on the test's loop (the app's runs on the test client's)."""
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        yield pool
    finally:
        await pool.close()


async def trial_balance(admin: Actor) -> dict[str, int]:
    body = (await admin.get("/admin/settlement/trial-balance")).json()
    assert body["total"] == 0
    return {a["account"]: a["balance"] for a in body["accounts"]}


async def test_a_group_that_fills_places_every_members_order_paid_with_its_stock_taken(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, shop: dict[str, Any], admin: Actor
) -> None:
    alpha, sku = shop["alpha"], shop["sku"]
    deal = await open_deal(alpha, sku, size=3)
    assert deal["status"] == "live" and deal["group_price"] == GROUP_PRICE
    leader, second, third, late = await buyers(client, db, settings, 4)
    r = await leader.start(deal["id"])
    assert r.status_code == 201, r.text
    joined = r.json()
    group = joined["group"]
    assert group["seats_taken"] == 1 and group["seats_left"] == 2 and group["status"] == "open"
    assert group["share_path"] == f"/group-buys/{group['id']}"
    assert joined["checkout"]["grand_total"] == GROUP_PRICE + SHIPPING
    assert joined["checkout"]["orders"][0]["lines"][0]["unit_price"] == GROUP_PRICE
    checkouts = {leader.id: joined["checkout"]["id"]}
    for buyer in (second, third):
        r = await buyer.join(group["id"])
        assert r.status_code == 201, r.text
        checkouts[buyer.id] = r.json()["checkout"]["id"]
    assert await shelf(db, sku) == (20, 3)  # every seat's unit reserved at join

    public = (await client.get(f"/group-buys/{group['id']}")).json()  # the share link, no login
    assert public["seats_taken"] == 3 and public["paid"] == 0 and public["status"] == "open"

    await pay(client, settings, leader, checkouts[leader.id])
    await pay(client, settings, second, checkouts[second.id])
    assert (await client.get(f"/group-buys/{group['id']}")).json()["status"] == "open"
    order_id = await db.fetchval("SELECT order_id FROM group_buy_members WHERE buyer_id = $1", leader.id)
    r = await alpha.post(f"/vendor/orders/{order_id}/accept")
    assert r.status_code == 409 and r.json()["reason"] == "group_not_filled"  # not before the group fills

    await pay(client, settings, third, checkouts[third.id])
    filled = (await client.get(f"/group-buys/{group['id']}")).json()
    assert filled["status"] == "filled" and filled["paid"] == 3 and filled["filled_at"] is not None
    statuses = await db.fetch(
        "SELECT o.status, o.total FROM group_buy_members m JOIN orders o ON o.id = m.order_id WHERE m.group_id = $1",
        group["id"],
    )
    assert [(s["status"], s["total"]) for s in statuses] == [("paid", GROUP_PRICE + SHIPPING)] * 3
    assert await shelf(db, sku) == (17, 0)  # three units sold, none oversold
    r = await alpha.post(f"/vendor/orders/{order_id}/accept")
    assert r.status_code == 200, r.text
    r = await late.join(group["id"])
    assert r.status_code == 409 and r.json()["reason"] == "full"
    assert (await third.join(group["id"])).json()["reason"] == "already_member"

    mine = (await client.get("/group-buys/mine", headers=leader.headers)).json()["items"]
    assert [(m["group"]["id"], m["member_status"]) for m in mine] == [(group["id"], "paid")]
    events = await db.fetch(
        "SELECT payload FROM events WHERE topic = $1 AND type = 'group_buy.changed' ORDER BY id",
        f"group-buy:{group['id']}",
    )
    assert [(e["payload"]["seats_taken"], e["payload"]["paid"]) for e in events][-1] == (3, 3)
    assert events[-1]["payload"]["status"] == "filled"
    product_events = await db.fetchval(
        "SELECT count(*) FROM events WHERE topic = $1 AND type = 'group_buy.changed'",
        f"product:{shop['kettle']['id']}:stock",
    )
    assert product_events == len(events)  # the product page sees every change too
    await trial_balance(admin)


async def test_a_group_that_expires_refunds_every_member_in_full_and_releases_the_stock(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, shop: dict[str, Any], admin: Actor
) -> None:
    sku = shop["sku"]
    deal = await open_deal(shop["alpha"], sku, size=4)
    first, second, unpaid = await buyers(client, db, settings, 3)
    joined = (await first.start(deal["id"])).json()
    group_id = joined["group"]["id"]
    r2 = (await second.join(group_id)).json()
    assert (await unpaid.join(group_id)).status_code == 201
    await pay(client, settings, first, joined["checkout"]["id"])
    await pay(client, settings, second, r2["checkout"]["id"])
    assert await shelf(db, sku) == (18, 1)
    assert (await trial_balance(admin))["gateway"] == 2 * (GROUP_PRICE + SHIPPING)

    async with sweeper_pool(settings) as db_pool:
        assert await expire_groups(db_pool) == 0  # not due yet
        await db.execute("UPDATE group_buys SET expires_at = now() - interval '1 second' WHERE id = $1", group_id)
        assert (await client.get(f"/group-buys/{group_id}")).json()["status"] == "open"
        assert (await unpaid.join(group_id)).status_code == 409  # past the deadline: closed
        assert await expire_groups(db_pool) == 1
        assert await expire_groups(db_pool) == 0  # nothing twice

    group = (await client.get(f"/group-buys/{group_id}")).json()
    assert group["status"] == "expired"
    payments = await db.fetch(
        "SELECT p.amount, p.refunded_amount, p.status FROM group_buy_members m"
        " JOIN payments p ON p.checkout_id = m.checkout_id WHERE m.group_id = $1 ORDER BY m.buyer_id",
        group_id,
    )
    assert [(p["amount"], p["refunded_amount"]) for p in payments] == [(GROUP_PRICE + SHIPPING,) * 2] * 2
    members = await db.fetch(
        "SELECT m.status, o.status AS order_status, c.status AS checkout_status FROM group_buy_members m"
        " JOIN orders o ON o.id = m.order_id JOIN checkouts c ON c.id = m.checkout_id"
        " WHERE m.group_id = $1 ORDER BY m.buyer_id",
        group_id,
    )
    assert [tuple(m.values()) for m in members] == [
        ("refunded", "cancelled", "paid"),
        ("refunded", "cancelled", "paid"),
        ("left", "cancelled", "expired"),
    ]
    assert await shelf(db, sku) == (20, 0)  # every unit back
    balances = await trial_balance(admin)  # total 0: every posting balances
    assert balances.get("gateway", 0) == 0  # all that came in went back out
    assert await db.fetchval("SELECT sum(amount) FROM ledger_entries") == 0
    assert await db.fetchval("SELECT seats FROM group_buy_buyers WHERE buyer_id = $1", first.id) == 0


async def test_a_crowd_racing_for_the_last_seat_leaves_the_group_exactly_full(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, shop: dict[str, Any]
) -> None:
    deal = await open_deal(shop["alpha"], shop["sku"], size=5)
    leader, *crowd = await buyers(client, db, settings, 13)
    group_id = (await leader.start(deal["id"])).json()["group"]["id"]
    answers = await asyncio.gather(*(buyer.join(group_id) for buyer in crowd))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 4 + [409] * 8, codes
    assert {r.json()["reason"] for r in answers if r.status_code == 409} == {"full"}
    row = await db.fetchrow("SELECT seats_taken, size FROM group_buys WHERE id = $1", group_id)
    assert row["seats_taken"] == row["size"] == 5
    assert await db.fetchval("SELECT count(*) FROM group_buy_members WHERE group_id = $1", group_id) == 5
    assert await shelf(db, shop["sku"]) == (20, 5)


async def test_a_buyer_cannot_join_twice_and_a_retry_with_the_same_key_gets_the_same_checkout(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, shop: dict[str, Any]
) -> None:
    deal = await open_deal(shop["alpha"], shop["sku"], size=3, limit=1)
    leader, buyer = await buyers(client, db, settings, 2)
    group_id = (await leader.start(deal["id"])).json()["group"]["id"]
    r = await leader.join(group_id)
    assert r.status_code == 409 and r.json()["reason"] == "already_member"
    first = await buyer.join(group_id, **{"Idempotency-Key": "join-1"})
    again = await buyer.join(group_id, **{"Idempotency-Key": "join-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["checkout"]["id"] == first.json()["checkout"]["id"]
    both = await asyncio.gather(buyer.join(group_id), buyer.join(group_id))
    assert [r.status_code for r in both] == [409, 409]
    assert await db.fetchval("SELECT count(*) FROM group_buy_members WHERE buyer_id = $1", buyer.id) == 1
    # The per-deal limit: in one group of this deal at a time, so not in a second group either.
    r = await buyer.start(deal["id"])
    assert r.status_code == 409 and r.json()["reason"] == "limit_reached"
    assert await db.fetchval("SELECT count(*) FROM group_buys WHERE deal_id = $1", deal["id"]) == 1  # none left over


async def test_an_unpaid_seat_whose_payment_time_runs_out_goes_back_to_the_group(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, shop: dict[str, Any]
) -> None:
    deal = await open_deal(shop["alpha"], shop["sku"], size=2)
    leader, late, other = await buyers(client, db, settings, 3)
    group_id = (await leader.start(deal["id"])).json()["group"]["id"]
    checkout = (await late.join(group_id)).json()["checkout"]
    assert (await other.join(group_id)).json()["reason"] == "full"
    await db.execute("UPDATE checkouts SET expires_at = now() - interval '1 second' WHERE id = $1", checkout["id"])
    async with sweeper_pool(settings) as pool:
        assert await expire_unpaid(pool) >= 1
    group = (await client.get(f"/group-buys/{group_id}")).json()
    assert group["seats_taken"] == 1 and group["status"] == "open"
    assert (await other.join(group_id)).status_code == 201  # the seat is free again
    assert (await late.join(group_id)).json()["reason"] == "full"


async def test_vendors_manage_only_their_own_deals_and_bad_deals_are_refused(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, shop: dict[str, Any]
) -> None:
    alpha, beta, sku = shop["alpha"], shop["beta"], shop["sku"]
    body = {"sku_id": sku, "group_price": GROUP_PRICE, "group_size": 3, "starts_at": at(-1), "ends_at": at(3600)}
    assert (await beta.post("/vendor/group-buys", json=body)).status_code == 404  # not beta's SKU
    assert (await alpha.post("/vendor/group-buys", json=body | {"group_price": PRICE})).status_code == 422
    assert (await alpha.post("/vendor/group-buys", json=body | {"group_size": 1})).status_code == 400
    assert (await alpha.post("/vendor/group-buys", json=body | {"ends_at": at(-10)})).status_code == 422
    deal = await open_deal(alpha, sku)
    assert [d["id"] for d in (await alpha.get("/vendor/group-buys")).json()["items"]] == [deal["id"]]
    assert (await beta.get("/vendor/group-buys")).json()["items"] == []
    assert (await beta.post(f"/vendor/group-buys/{deal['id']}/cancel")).status_code == 404
    (buyer,) = await buyers(client, db, settings, 1)
    group_id = (await buyer.start(deal["id"])).json()["group"]["id"]
    assert (await client.get(f"/group-buys/deals/{deal['id']}")).json()["open_groups"][0]["id"] == group_id
    assert (await client.get("/group-buys/999999")).status_code == 404
    assert (await buyer.join(999999)).status_code == 404
    assert (await client.post(f"/group-buys/{group_id}/join", json={"address_id": 1})).status_code == 401
    r = await alpha.post(f"/vendor/group-buys/{deal['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await buyer.start(deal["id"])).json()["reason"] == "not_running"
    async with sweeper_pool(settings) as pool:
        assert await expire_groups(pool) == 1  # the open group closes; its unpaid member's checkout expires
    assert (await client.get(f"/group-buys/{group_id}")).json()["status"] == "expired"
    assert await shelf(db, sku) == (20, 0)


async def test_a_join_when_the_shelf_runs_out_is_refused_and_takes_no_seat(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, shop: dict[str, Any]
) -> None:
    sku = shop["sku"]
    deal = await open_deal(shop["alpha"], sku, size=3)
    await db.execute("UPDATE skus SET on_hand = 1 WHERE id = $1", sku)
    first, second = await buyers(client, db, settings, 2)
    group_id = (await first.start(deal["id"])).json()["group"]["id"]
    r = await second.join(group_id)
    assert r.status_code == 409 and r.json()["code"] == "out-of-stock", r.text
    r = await second.client.post(f"/group-buys/{group_id}/join", json={"address_id": "x"}, headers=second.headers)
    assert r.status_code == 400
    assert (await client.get(f"/group-buys/{group_id}")).json()["seats_taken"] == 1  # the refused join left nothing
    assert await db.fetchval("SELECT count(*) FROM group_buy_members WHERE buyer_id = $1", second.id) == 0


async def test_a_member_who_cancels_before_the_group_fills_is_refunded_and_frees_the_seat(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, shop: dict[str, Any], admin: Actor
) -> None:
    deal = await open_deal(shop["alpha"], shop["sku"], size=2)
    leader, other = await buyers(client, db, settings, 2)
    joined = (await leader.start(deal["id"])).json()
    group_id, checkout_id = joined["group"]["id"], joined["checkout"]["id"]
    r = await client.post(
        f"/checkouts/{checkout_id}/payments", json={"method": "cash_on_delivery"}, headers=leader.headers
    )
    assert r.status_code == 422  # a seat counts once paid: no cash on delivery
    await pay(client, settings, leader, checkout_id)
    order_id = joined["checkout"]["orders"][0]["id"]
    r = await client.post(f"/orders/{order_id}/cancel", json={"reason": "changed my mind"}, headers=leader.headers)
    assert r.status_code == 200, r.text
    group = (await client.get(f"/group-buys/{group_id}")).json()
    assert (group["seats_taken"], group["paid"], group["status"]) == (0, 0, "open")
    refunded = await db.fetchrow("SELECT amount, refunded_amount FROM payments WHERE checkout_id = $1", checkout_id)
    assert refunded["refunded_amount"] == refunded["amount"] == GROUP_PRICE + SHIPPING
    assert await shelf(db, shop["sku"]) == (20, 0)
    await trial_balance(admin)
    assert (await other.join(group_id)).status_code == 201
    assert (await leader.join(group_id)).status_code == 201  # a buyer who left may come back

"""A buyer's own data: GET /me/export hands over everything held about them (and nobody else), as JSON and
CSV in a zip, and the export is audit-logged."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import ADDRESS, PASSWORD, Actor, sign_up


async def test_a_buyer_exports_everything_held_about_them_and_nothing_of_anyone_else(
    client: AsyncTestClient[Litestar], shop: dict[str, Any], db: asyncpg.Connection
) -> None:
    buyer = shop["buyer"]
    placed = await shop["checkout"](pay=True)
    await buyer.get(f"/products/{shop['kettle']['id']}")  # a view, recorded in the background
    other = await sign_up(client, "other@example.com")
    await other.post("/me/addresses", json={**ADDRESS, "line1": "2 Other Road"})
    await db.execute(
        "INSERT INTO interactions (kind, user_id, product_id) VALUES ('view', $1, $2), ('view', $3, $2)",
        buyer.id, shop["kettle"]["id"], other.id,
    )  # fmt: skip
    await db.execute(
        "INSERT INTO loyalty_ledger (user_id, delta, kind, ref) VALUES ($1, 50, 'adjusted', 'welcome')", buyer.id
    )

    r = await buyer.get("/me/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert f'filename="marketplace-data-{buyer.id}-' in r.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(archive.namelist())
    expected = ["README.txt", "profile.json", "addresses.json", "orders.json", "orders.csv", "payments.json"]
    expected += ["reviews.json", "points.json", "coupons.json", "interactions.json", "interactions.csv"]
    expected += ["questions.json", "sessions.json"]
    assert set(expected) <= names
    section = {name.removesuffix(".json"): json.loads(archive.read(name)) for name in names if name.endswith(".json")}
    assert [p["email"] for p in section["profile"]] == ["buyer2@example.com"]
    assert "password_hash" not in section["profile"][0] and "totp_secret" not in section["profile"][0]
    assert [a["line1"] for a in section["addresses"]] == [ADDRESS["line1"]]
    orders = {o["id"]: o for o in section["orders"]}
    assert set(orders) == {placed[shop["alpha"].vendor_id]["id"], placed[shop["beta"].vendor_id]["id"]}
    kettle_order = orders[placed[shop["alpha"].vendor_id]["id"]]
    assert kettle_order["status"] == "paid" and kettle_order["lines"][0]["quantity"] == 2
    assert kettle_order["shipping_address"]["line1"] == ADDRESS["line1"]
    assert sum(p["amount"] for p in section["payments"]) == placed["checkout"]["grand_total"]
    assert [p["delta"] for p in section["points"]] == [50]
    mine = await db.fetchval("SELECT count(*) FROM interactions WHERE user_id = $1", buyer.id)
    assert 1 <= len(section["interactions"]) <= mine  # the other buyer's view is not among them
    rows = list(csv.DictReader(io.StringIO(archive.read("orders.csv").decode())))
    assert sorted(int(row["id"]) for row in rows) == sorted(orders)
    everything = b"".join(archive.read(name) for name in names)
    assert b"other@example.com" not in everything and b"2 Other Road" not in everything

    audit = await db.fetch("SELECT actor_id, object_id FROM audit_log WHERE action = 'data.exported'")
    assert [(a["actor_id"], a["object_id"]) for a in audit] == [(buyer.id, str(buyer.id))]
    assert (await client.get("/me/export")).status_code == 401


async def test_erasing_an_account_removes_the_person_and_keeps_the_books(
    client: AsyncTestClient[Litestar], shop: dict[str, Any], admin: Actor, db: asyncpg.Connection
) -> None:
    buyer, alpha, beta = shop["buyer"], shop["alpha"], shop["beta"]
    placed = await shop["checkout"](pay=True)
    order_ids = {vendor: placed[vendor]["id"] for vendor in (alpha.vendor_id, beta.vendor_id)}
    await db.execute(
        "INSERT INTO interactions (kind, user_id, product_id) VALUES ('view', $1, $2)", buyer.id, shop["kettle"]["id"]
    )
    before = (await admin.get("/admin/settlement/trial-balance")).json()

    # An open order keeps the account: its shop still needs the address. Nothing changes.
    refused = await buyer.post("/me/erase", json={"password": PASSWORD})
    assert refused.status_code == 409 and "orders are still open" in refused.json()["detail"]
    assert (await buyer.post("/me/erase", json={"password": "not the password"})).status_code == 403
    assert (await buyer.get("/me")).json()["email"] == "buyer2@example.com"
    for vendor, seller in ((alpha.vendor_id, alpha), (beta.vendor_id, beta)):
        order_id = order_ids[vendor]
        await seller.post(f"/vendor/orders/{order_id}/accept")
        await seller.post(f"/vendor/orders/{order_id}/ship", json={"carrier": "DHL", "tracking_number": "TRACK123"})
        await seller.post(f"/vendor/orders/{order_id}/deliver")
        assert (await buyer.post(f"/orders/{order_id}/confirm-receipt")).status_code == 200

    assert (await buyer.post("/me/erase", json={"password": PASSWORD})).status_code == 204
    assert (await buyer.get("/me")).status_code == 401  # its sessions ended at once
    login = {"identifier": "buyer2@example.com", "password": PASSWORD}
    assert (await client.post("/auth/login", json=login)).status_code == 401
    columns = "email::text, phone, display_name, status, erased_at"
    row = await db.fetchrow(f"SELECT {columns} FROM users WHERE id = $1", buyer.id)
    assert row["email"] == f"erased-{buyer.id}@erased.invalid" and row["phone"] is None
    assert row["display_name"] == "Deleted user" and row["status"] == "disabled" and row["erased_at"] is not None
    wiped = [("addresses", "user_id"), ("interactions", "user_id"), ("cart_items", "user_id")]
    for table, column in [*wiped, ("session_clients", "user_id"), ("product_questions", "buyer_id")]:
        assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = $1", buyer.id) == 0
    snapshot = await db.fetchval("SELECT shipping_address FROM checkouts WHERE buyer_id = $1", buyer.id)
    assert snapshot == {"country": ADDRESS["country"], "erased": True}
    # The shop keeps its orders and the books are as they were.
    order = (await alpha.get(f"/vendor/orders/{order_ids[alpha.vendor_id]}")).json()["order"]
    assert order["status"] == "completed" and order["total"] == placed[alpha.vendor_id]["total"]
    after = (await admin.get("/admin/settlement/trial-balance")).json()
    assert after["total"] == 0 and after["accounts"] == before["accounts"]
    assert (await admin.post(f"/admin/users/{buyer.id}/enable")).status_code == 409
    audit = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'user.erased' AND actor_id = $1", buyer.id)
    assert audit == 1

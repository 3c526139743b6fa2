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

from tests.conftest import ADDRESS, sign_up


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
    assert {i["product_id"] for i in section["interactions"]} == {shop["kettle"]["id"]}
    rows = list(csv.DictReader(io.StringIO(archive.read("orders.csv").decode())))
    assert sorted(int(row["id"]) for row in rows) == sorted(orders)
    everything = b"".join(archive.read(name) for name in names)
    assert b"other@example.com" not in everything and b"2 Other Road" not in everything

    audit = await db.fetch("SELECT actor_id, object_id FROM audit_log WHERE action = 'data.exported'")
    assert [(a["actor_id"], a["object_id"]) for a in audit] == [(buyer.id, str(buyer.id))]
    assert (await client.get("/me/export")).status_code == 401

"""Listing review (LISTING_REVIEW=new_or_flagged): a new shop's product waits in pending_review, unseen by search,
product pages and the cart, until support approves it; a rejection sends it back to draft with the reason;
an established shop lists at once unless a live risk alert flags it; only support and admins review."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.settings import Settings
from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor, sign_up


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, listing_review="new_or_flagged", listing_review_new_shop_days=30)


@pytest.fixture
async def staff(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> Actor:
    support = await sign_up(client, "support@example.com")
    await db.execute("UPDATE users SET roles = '{buyer,support}' WHERE id = $1", support.id)
    return support


async def visible(client: AsyncTestClient[Litestar], item: dict[str, Any]) -> bool:
    found = (await client.get("/products", params={"q": item["title"]})).json()["items"]
    page = await client.get(f"/products/{item['id']}")
    assert page.status_code in (200, 404)
    assert (item["id"] in [p["id"] for p in found]) == (page.status_code == 200), "search and page disagree"
    return page.status_code == 200


async def test_a_new_shops_product_is_hidden_until_support_approves_it(
    client: AsyncTestClient[Litestar], admin: Actor, staff: Actor, buyer: Actor, db: asyncpg.Connection
) -> None:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "new@example.com", "Brand New")
    kettle = await product(vendor, cats["Kettles"], "Copper Kettle", 4000)  # lists it: it waits instead
    assert kettle["status"] == "pending_review"
    assert not await visible(client, kettle)
    sku = kettle["skus"][0]["id"]
    assert (await buyer.put(f"/cart/items/{sku}", json={"quantity": 1})).status_code == 404
    assert (await vendor.post(f"/vendor/products/{kettle['id']}/list")).status_code == 409  # cannot skip review

    queue = (await staff.get("/support/listings")).json()["items"]
    assert [p["id"] for p in queue] == [kettle["id"]]
    for outsider in (buyer, vendor):
        assert (await outsider.get("/support/listings")).status_code == 403
        assert (await outsider.post(f"/support/listings/{kettle['id']}/approve", json={})).status_code == 403

    r = await staff.post(f"/support/listings/{kettle['id']}/approve", json={"reason": "photos match the licence"})
    assert r.status_code == 200 and r.json()["status"] == "listed"
    assert await visible(client, kettle)
    assert (await buyer.put(f"/cart/items/{sku}", json={"quantity": 1})).status_code == 200
    assert (await staff.post(f"/support/listings/{kettle['id']}/approve", json={})).status_code == 409
    assert (await staff.get("/support/listings")).json()["items"] == []

    lamp = await product(vendor, cats["Electronics"], "Knock-off Lamp", 1000)
    assert (await staff.post(f"/support/listings/{lamp['id']}/reject", json={})).status_code == 400  # needs a reason
    r = await staff.post(f"/support/listings/{lamp['id']}/reject", json={"reason": "a counterfeit brand"})
    assert r.json()["status"] == "draft" and r.json()["takedown_reason"] == "a counterfeit brand"
    assert not await visible(client, lamp)
    audit = await db.fetch(
        "SELECT action, actor_id, after->>'reason' AS reason FROM audit_log WHERE object_type = 'product' ORDER BY id"
    )
    assert [(a["action"], a["actor_id"], a["reason"]) for a in audit] == [
        ("product.review_approved", staff.id, "photos match the licence"),
        ("product.review_rejected", staff.id, "a counterfeit brand"),
    ]
    # Rejected, then sent again: it waits again.
    again = await vendor.post(f"/vendor/products/{lamp['id']}/list")
    assert again.json()["status"] == "pending_review"


async def test_an_established_shop_lists_at_once_unless_a_live_alert_flags_it(
    client: AsyncTestClient[Litestar], admin: Actor, staff: Actor, db: asyncpg.Connection
) -> None:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "old@example.com", "Old Hands")
    await db.execute("UPDATE vendors SET created_at = now() - interval '90 days' WHERE id = $1", vendor.vendor_id)
    hose = await product(vendor, cats["Garden"], "Green Hose", 1500)
    assert hose["status"] == "listed" and await visible(client, hose)

    alert_id = await db.fetchval(
        "INSERT INTO risk_alerts (rule, subject, vendor_id, score, evidence, latest_at)"
        " VALUES ('brushing_ring', 'test', $1, 60, '{}', now()) RETURNING id",
        vendor.vendor_id,
    )
    rake = await product(vendor, cats["Garden"], "Rake", 2500)
    assert rake["status"] == "pending_review" and not await visible(client, rake)
    r = await staff.post(f"/support/risk/alerts/{alert_id}/dismiss", json={"reason": "a seasonal rush"})
    assert r.status_code == 200
    spade = await product(vendor, cats["Garden"], "Spade", 2500)
    assert spade["status"] == "listed"
    # Unlisting and listing again a product once approved needs no new review.
    assert (await vendor.post(f"/vendor/products/{hose['id']}/unlist")).json()["status"] == "unlisted"
    assert (await vendor.post(f"/vendor/products/{hose['id']}/list")).json()["status"] == "listed"


async def test_with_review_off_products_list_at_once(
    client: AsyncTestClient[Litestar], admin: Actor, settings: Settings
) -> None:
    from marketplace.app import create_app

    app = create_app(msgspec.structs.replace(settings, listing_review="off"))
    async with AsyncTestClient(app=app) as other:
        admin_there = Actor(other, {"id": admin.id, "email": admin.email}, admin.tokens)
        cats = await category_tree(admin_there)
        vendor = await approved_vendor(other, admin_there, "fresh@example.com", "Fresh")
        kettle = await product(vendor, cats["Kettles"], "Kettle", 3000)
        assert kettle["status"] == "listed"

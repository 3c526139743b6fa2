"""Vendor onboarding: apply, admin review, shop, suspension, and the audit trail of every decision."""

from __future__ import annotations

import asyncio

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import SHOP, Actor, approved_vendor, relogin, sign_up


async def test_application_approved_creates_shop_grants_role_and_is_audited(
    buyer: Actor, admin: Actor, db: asyncpg.Connection
) -> None:
    r = await buyer.post("/vendor-applications", json={**SHOP, "description": "Teas and kettles"})
    assert r.status_code == 201
    application = r.json()
    assert application["status"] == "pending"
    pending = (await admin.get("/admin/vendor-applications")).json()["items"]
    assert [a["id"] for a in pending] == [application["id"]]

    r = await admin.post(f"/admin/vendor-applications/{application['id']}/approve")
    assert r.status_code == 200
    shop = r.json()
    assert shop["shop_name"] == "Blue Kettle" and shop["status"] == "active" and shop["user_id"] == buyer.id
    assert "vendor" in (await buyer.get("/me")).json()["roles"]
    assert (await buyer.get("/vendor/shop")).json()["id"] == shop["id"]

    entry = (await admin.get("/admin/audit", params={"object_type": "vendor_application"})).json()["items"][0]
    assert entry["action"] == "vendor_application.approved" and entry["actor_id"] == admin.id
    assert entry["before"]["status"] == "pending" and entry["after"]["status"] == "approved"
    event = await db.fetchrow("SELECT topic, type, payload FROM events ORDER BY id DESC LIMIT 1")
    assert (event["topic"], event["type"]) == (f"user:{buyer.id}", "vendor.approved")
    assert (await admin.get("/admin/vendor-applications")).json()["items"] == []


async def test_rejection_needs_a_reason_and_allows_a_new_application(buyer: Actor, admin: Actor) -> None:
    application = (await buyer.post("/vendor-applications", json=SHOP)).json()
    path = f"/admin/vendor-applications/{application['id']}/reject"
    assert (await admin.post(path, json={})).status_code == 400
    r = await admin.post(path, json={"reason": "licence number does not match the registry"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    mine = (await buyer.get("/vendor-applications/mine")).json()
    assert mine[0]["reason"] == "licence number does not match the registry"
    assert (await buyer.get("/vendor/shop")).status_code == 403
    assert (await buyer.post("/vendor-applications", json=SHOP)).status_code == 201


async def test_a_decided_application_cannot_be_decided_again(buyer: Actor, admin: Actor) -> None:
    application = (await buyer.post("/vendor-applications", json=SHOP)).json()
    assert (await admin.post(f"/admin/vendor-applications/{application['id']}/approve")).status_code == 200
    assert (await admin.post(f"/admin/vendor-applications/{application['id']}/approve")).status_code == 409
    r = await admin.post(f"/admin/vendor-applications/{application['id']}/reject", json={"reason": "changed mind"})
    assert r.status_code == 409


async def test_concurrent_approvals_create_one_shop(buyer: Actor, admin: Actor, db: asyncpg.Connection) -> None:
    application = (await buyer.post("/vendor-applications", json=SHOP)).json()
    path = f"/admin/vendor-applications/{application['id']}/approve"
    results = await asyncio.gather(*(admin.post(path) for _ in range(4)))
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
    assert await db.fetchval("SELECT count(*) FROM vendors") == 1
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'vendor_application.approved'") == 1


async def test_one_pending_application_per_user_and_unique_shop_names(
    client: AsyncTestClient[Litestar], buyer: Actor, admin: Actor
) -> None:
    assert (await buyer.post("/vendor-applications", json=SHOP)).status_code == 201
    assert (await buyer.post("/vendor-applications", json={**SHOP, "shop_name": "Other"})).status_code == 409
    rival = await sign_up(client, "rival@example.com")
    r = await rival.post("/vendor-applications", json={**SHOP, "shop_name": "blue KETTLE"})
    assert r.status_code == 409 and r.json()["field"] == "shop_name"
    await approved_vendor(client, admin, "third@example.com", "Green Pot")
    assert (await rival.post("/vendor-applications", json={**SHOP, "shop_name": "green pot"})).status_code == 409


async def test_vendor_cannot_approve_itself_or_anyone(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    vendor = await approved_vendor(client, admin, "v@example.com", "Vendor One")
    applicant = await sign_up(client, "next@example.com")
    application = (await applicant.post("/vendor-applications", json={**SHOP, "shop_name": "Next"})).json()
    assert (await vendor.post(f"/admin/vendor-applications/{application['id']}/approve")).status_code == 403
    assert (await vendor.get("/admin/vendor-applications")).status_code == 403
    assert (await vendor.post(f"/admin/vendors/{vendor.vendor_id}/reinstate")).status_code == 403


async def test_admin_cannot_approve_their_own_application(admin: Actor) -> None:
    application = (await admin.post("/vendor-applications", json=SHOP)).json()
    assert (await admin.post(f"/admin/vendor-applications/{application['id']}/approve")).status_code == 403


async def test_suspended_vendor_token_cannot_do_vendor_things(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    vendor = await approved_vendor(client, admin, "sus@example.com", "Shady Shop")
    assert (await vendor.get("/vendor/shop")).status_code == 200
    r = await admin.post(f"/admin/vendors/{vendor.vendor_id}/suspend", json={"reason": "counterfeit goods"})
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    # The token issued before the suspension, and a fresh one, both stop working for vendor routes.
    assert (await vendor.get("/vendor/shop")).status_code == 403
    assert (await (await relogin(vendor)).patch("/vendor/shop", json={"description": "x"})).status_code == 403
    assert (await client.get(f"/vendors/{vendor.vendor_id}")).status_code == 404
    # They can still shop as a buyer.
    assert (await vendor.get("/me")).status_code == 200

    assert (await admin.post(f"/admin/vendors/{vendor.vendor_id}/reinstate")).status_code == 200
    assert (await vendor.get("/vendor/shop")).status_code == 200
    actions = [e["action"] for e in (await admin.get("/admin/audit", params={"object_type": "vendor"})).json()["items"]]
    assert actions == ["vendor.reinstated", "vendor.suspended"]


async def test_suspending_twice_is_a_conflict(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    vendor = await approved_vendor(client, admin, "twice@example.com", "Twice")
    path = f"/admin/vendors/{vendor.vendor_id}/suspend"
    assert (await admin.post(path, json={"reason": "first time"})).status_code == 200
    assert (await admin.post(path, json={"reason": "second time"})).status_code == 409


async def test_vendor_edits_only_its_own_shop(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    one = await approved_vendor(client, admin, "one@example.com", "Shop One")
    two = await approved_vendor(client, admin, "two@example.com", "Shop Two")
    r = await one.patch("/vendor/shop", json={"description": "Fresh teas"})
    assert r.status_code == 200 and r.json()["id"] == one.vendor_id
    assert (await client.get(f"/vendors/{two.vendor_id}")).json()["description"] == ""
    public = (await client.get(f"/vendors/{one.vendor_id}")).json()
    assert public == {
        "id": one.vendor_id,
        "shop_name": "Shop One",
        "description": "Fresh teas",
        "created_at": public["created_at"],
        "trust": public["trust"],  # the shop's trust score (tests/test_trust.py)
    }
    assert 0 <= public["trust"]["score"] <= 100 and public["trust"]["orders"] == 0


async def test_admin_lists_vendors_by_status(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    one = await approved_vendor(client, admin, "l1@example.com", "List One")
    await approved_vendor(client, admin, "l2@example.com", "List Two")
    await admin.post(f"/admin/vendors/{one.vendor_id}/suspend", json={"reason": "late shipping"})
    suspended = (await admin.get("/admin/vendors", params={"status": "suspended"})).json()["items"]
    assert [v["id"] for v in suspended] == [one.vendor_id]
    assert len((await admin.get("/admin/vendors")).json()["items"]) == 2


async def test_buyers_cannot_read_the_audit_log(buyer: Actor) -> None:
    assert (await buyer.get("/admin/audit")).status_code == 403

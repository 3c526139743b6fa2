"""Admins disable and enable accounts: a disabled account's sessions and sockets end at once, the decision
is audited with its reason, and no admin can lock themselves out."""

from __future__ import annotations

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from realtime import CLOSE_POLICY
from tests.conftest import PASSWORD, Actor, sign_up
from tests.test_realtime import Live, live, open_feed, until
from tests.test_sessions import closed_with

__all__ = ["live"]
pytestmark = pytest.mark.timeout(60)


async def test_disabling_an_account_ends_its_sessions_and_is_audited(
    client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection
) -> None:
    ann = await sign_up(client, "ann@example.com")
    r = await admin.post(f"/admin/users/{ann.id}/disable", json={"reason": "fraudulent chargebacks"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "disabled" and r.json()["status_reason"] == "fraudulent chargebacks"
    assert (await ann.get("/me")).status_code == 401
    r = await client.post("/auth/refresh", json={"refresh_token": ann.tokens["refresh_token"]})
    assert r.status_code == 401
    r = await client.post("/auth/login", json={"identifier": ann.email, "password": PASSWORD})
    assert r.status_code == 401
    audit = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'user.disabled' AND object_id = $1", str(ann.id))
    assert audit["actor_id"] == admin.id and audit["after"]["reason"] == "fraudulent chargebacks"
    # Again: a clear conflict. Enabling lets its owner sign in again (old sessions stay ended).
    r = await admin.post(f"/admin/users/{ann.id}/disable", json={"reason": "fraudulent chargebacks"})
    assert r.status_code == 409
    r = await admin.post(f"/admin/users/{ann.id}/enable")
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["status_reason"] is None
    assert (await ann.get("/me")).status_code == 401
    r = await client.post("/auth/login", json={"identifier": ann.email, "password": PASSWORD})
    assert r.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'user.enabled'") == 1


async def test_an_admin_cannot_disable_themselves_and_others_cannot_disable_anyone(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    r = await admin.post(f"/admin/users/{admin.id}/disable", json={"reason": "testing myself"})
    assert r.status_code == 422
    assert (await admin.get("/me")).status_code == 200
    ann = await sign_up(client, "ann@example.com")
    r = await ann.post(f"/admin/users/{admin.id}/disable", json={"reason": "a coup attempt"})
    assert r.status_code == 403
    assert (await admin.post("/admin/users/999999/disable", json={"reason": "nobody here"})).status_code == 404
    assert (await admin.post(f"/admin/users/{ann.id}/disable", json={})).status_code == 400
    assert (await admin.post(f"/admin/users/{ann.id}/disable", json={"reason": ""})).status_code == 400


async def test_disabling_an_account_closes_its_open_sockets(
    live: Live, client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    ann = await sign_up(client, "ann@example.com")
    ws = await open_feed(live, ann, [f"user:{ann.id}:orders"])
    await until(ws, "subscribed")
    r = await admin.post(f"/admin/users/{ann.id}/disable", json={"reason": "abusive messages"})
    assert r.status_code == 200, r.text
    assert await closed_with(ws) == CLOSE_POLICY

"""A session ends everywhere at once: logout, a revoked refresh family and a suspension take effect on the
next request and on sockets already open, within moments, in every worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from litestar import Litestar
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token
from litestar.testing import AsyncTestClient

from marketplace.core.auth import CheckedToken
from realtime import CLOSE_POLICY
from tests.conftest import Actor, relogin, sign_up
from tests.test_realtime import Live, live, nothing_more, open_feed, until

__all__ = ["live"]
pytestmark = pytest.mark.timeout(60)


async def test_a_reused_refresh_token_revokes_the_sessions_access_tokens(client: AsyncTestClient[Litestar]) -> None:
    ann = await sign_up(client, "ann@example.com")
    stolen = ann.tokens["refresh_token"]
    r = await client.post("/auth/refresh", json={"refresh_token": stolen})
    assert r.status_code == 200
    fresh = r.json()["access_token"]
    assert (await client.get("/me", headers={"Authorization": f"Bearer {fresh}"})).status_code == 200
    # The rotated token comes back: the family is revoked, and with it every access token of the session.
    assert (await client.post("/auth/refresh", json={"refresh_token": stolen})).status_code == 401
    for token in (fresh, ann.tokens["access_token"]):
        assert (await client.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_logout_ends_only_its_own_session(client: AsyncTestClient[Litestar]) -> None:
    phone = await sign_up(client, "ann@example.com")
    laptop = await relogin(phone)
    r = await phone.post("/auth/logout")
    assert r.status_code == 204, r.text  # no refresh token sent: the session still ends
    assert (await phone.get("/me")).status_code == 401
    r = await client.post("/auth/refresh", json={"refresh_token": phone.tokens["refresh_token"]})
    assert r.status_code == 401
    assert (await laptop.get("/me")).status_code == 200


async def closed_with(ws: Any) -> int | None:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await until(ws, "event", wait=5)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_logout_closes_the_sessions_open_sockets_and_no_other(
    live: Live, client: AsyncTestClient[Litestar]
) -> None:
    phone = await sign_up(client, "ann@example.com")
    laptop = await relogin(phone)
    topics = [f"user:{phone.id}:orders"]
    phone_ws, laptop_ws = await open_feed(live, phone, topics), await open_feed(live, laptop, topics)
    await until(phone_ws, "subscribed")
    await until(laptop_ws, "subscribed")
    assert (await phone.post("/auth/logout", json={"refresh_token": phone.tokens["refresh_token"]})).status_code == 204
    assert await closed_with(phone_ws) == CLOSE_POLICY
    await nothing_more(laptop_ws, wait=1.0)  # the other session's socket stays open
    await laptop_ws.ping()
    await laptop_ws.close()
    # A socket cannot be opened with the ended session's token either.
    with pytest.raises(websockets.ConnectionClosed) as refused:
        ws = await open_feed(live, phone, topics)
        await until(ws, "subscribed")
    assert refused.value.rcvd is not None and refused.value.rcvd.code == CLOSE_POLICY


async def test_a_suspended_vendor_stops_watching_its_shop_at_once(
    shop: dict[str, Any], live: Live, admin: Actor
) -> None:
    alpha = shop["alpha"]
    topics = [f"vendor:{alpha.vendor_id}:orders", f"product:{shop['kettle']['id']}:stock"]
    ws = await open_feed(live, alpha, topics)
    await until(ws, "subscribed")
    first = await shop["checkout"](pay=False)
    last_id = (await until(ws, "event"))["id"]
    assert first[alpha.vendor_id]["id"]

    r = await admin.post(f"/admin/vendors/{alpha.vendor_id}/suspend", json={"reason": "counterfeit goods"})
    assert r.status_code == 200, r.text
    error = await until(ws, "error")
    assert error["error"] == "forbidden" and f"vendor:{alpha.vendor_id}:orders" in error["topics"]
    await shop["checkout"](pay=False)
    with pytest.raises(TimeoutError):
        while True:  # stock events of a listed product may follow; no order event may
            event = await until(ws, "event", wait=1.0)
            assert event["topic"] != f"vendor:{alpha.vendor_id}:orders", event
    await ws.close()
    # Nor may it subscribe again, or replay its history.
    ws = await open_feed(live, alpha, [f"vendor:{alpha.vendor_id}:orders"], last_id=0)
    error = await until(ws, "error")
    assert error["error"] == "forbidden"
    await nothing_more(ws)
    await ws.close()
    assert last_id > 0


async def test_a_remembered_token_passes_only_byte_identical_and_until_it_expires(
    client: AsyncTestClient[Litestar],
) -> None:
    ann = await sign_up(client, "ann@example.com")
    access = ann.tokens["access_token"]
    assert (await client.get("/me", headers={"Authorization": f"Bearer {access}"})).status_code == 200
    head, payload, signature = access.split(".")
    forged = ".".join([head, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")])
    assert (await client.get("/me", headers={"Authorization": f"Bearer {forged}"})).status_code == 401
    # A checked token is honoured from memory only while it is unexpired.
    secret = client.app.state.settings.secret_key
    now = datetime.now(UTC)
    short = Token(sub=str(ann.id), exp=now + timedelta(seconds=1), iat=now).encode(secret, "HS256")
    assert CheckedToken.decode(short, secret, "HS256").sub == str(ann.id)
    assert (short, secret, "HS256") in CheckedToken._checked
    await asyncio.sleep(1.2)
    with pytest.raises(NotAuthorizedException):
        CheckedToken.decode(short, secret, "HS256")

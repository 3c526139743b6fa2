"""Account self-service: a password change ends every other session (refresh tokens, access tokens and open
sockets) and keeps this one; sessions are listed and ended one by one; an email address changes only once the
link mailed to it is used, and the old address is told. Mail is read from a real SMTP server."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import asyncpg
import pytest
import websockets
from litestar import Litestar
from litestar.testing import AsyncTestClient

from realtime import CLOSE_POLICY
from tests.conftest import PASSWORD, Actor, relogin, sign_up
from tests.mail_fixtures import Mailbox, mailbox, settings, text_of
from tests.test_realtime import Live, live, nothing_more, open_feed, until
from tests.test_web_pages import csrf_of, sign_in

__all__ = ["live", "mailbox", "settings"]
pytestmark = pytest.mark.timeout(60)
NEW_PASSWORD = "a whole new passphrase"


async def closed_with(ws: Any) -> int | None:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await until(ws, "event", wait=5)
    return closed.value.rcvd.code if closed.value.rcvd else None


def token_in(text: str) -> str:
    found = re.search(r"Token: (\S+)", text)
    assert found, text
    return found.group(1)


async def can_log_in(client: AsyncTestClient[Litestar], identifier: str, password: str) -> bool:
    r = await client.post("/auth/login", json={"identifier": identifier, "password": password})
    return r.status_code == 200


async def change_password(actor: Actor, current: str, new: str) -> Any:
    return await actor.post("/me/password", json={"current_password": current, "new_password": new})


async def test_a_password_change_ends_the_other_sessions_and_their_sockets(
    live: Live, client: AsyncTestClient[Litestar], db: asyncpg.Connection
) -> None:
    phone = await sign_up(client, "ann@example.com")
    laptop = await relogin(phone)
    tablet = await relogin(phone)
    topics = [f"user:{phone.id}:orders"]
    phone_ws, laptop_ws = await open_feed(live, phone, topics), await open_feed(live, laptop, topics)
    await until(phone_ws, "subscribed")
    await until(laptop_ws, "subscribed")

    r = await change_password(phone, PASSWORD, NEW_PASSWORD)
    assert r.status_code == 204, r.text
    # The other sessions' socket closes at once, their access tokens are refused and their refresh tokens too.
    assert await closed_with(laptop_ws) == CLOSE_POLICY
    for other in (laptop, tablet):
        assert (await other.get("/me")).status_code == 401
        refreshed = await client.post("/auth/refresh", json={"refresh_token": other.tokens["refresh_token"]})
        assert refreshed.status_code == 401
    # This session goes on: its token, its socket, its refresh token.
    assert (await phone.get("/me")).status_code == 200
    await nothing_more(phone_ws, wait=1.0)
    await phone_ws.ping()
    renewed = await client.post("/auth/refresh", json={"refresh_token": phone.tokens["refresh_token"]})
    assert renewed.status_code == 200
    assert not await can_log_in(client, phone.email, PASSWORD) and await can_log_in(client, phone.email, NEW_PASSWORD)
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'user.password_changed'") == 1
    await phone_ws.close()
    # Nor can a socket be opened again with an ended session's token.
    with pytest.raises(websockets.ConnectionClosed) as refused:
        ws = await open_feed(live, laptop, topics)
        await until(ws, "subscribed")
    assert refused.value.rcvd is not None and refused.value.rcvd.code == CLOSE_POLICY


async def test_a_wrong_current_password_is_refused_and_changes_nothing(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection
) -> None:
    phone = await sign_up(client, "ann@example.com")
    laptop = await relogin(phone)
    events_before = await db.fetchval("SELECT count(*) FROM events")
    r = await change_password(phone, "not my password", NEW_PASSWORD)
    assert r.status_code == 403 and r.json()["code"] == "forbidden" and "current password" in r.json()["detail"]
    assert (await change_password(phone, PASSWORD, "short")).status_code == 422  # too weak
    assert (await change_password(phone, PASSWORD, PASSWORD)).status_code == 422  # not a change
    assert (await phone.post("/me/password", json={"new_password": NEW_PASSWORD})).status_code == 400
    assert (await laptop.get("/me")).status_code == 200 and (await phone.get("/me")).status_code == 200
    assert await can_log_in(client, phone.email, PASSWORD) and not await can_log_in(client, phone.email, NEW_PASSWORD)
    assert await db.fetchval("SELECT count(*) FROM events") == events_before
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'user.password_changed'") == 0


async def test_two_password_changes_at_once_leave_exactly_one_new_password(client: AsyncTestClient[Litestar]) -> None:
    phone = await sign_up(client, "ann@example.com")
    first, second = "first new passphrase", "second new passphrase"
    answers = await asyncio.gather(change_password(phone, PASSWORD, first), change_password(phone, PASSWORD, second))
    statuses = [a.status_code for a in answers]
    assert statuses.count(204) == 1 and all(s in (204, 403, 409) for s in statuses), statuses
    winner = first if statuses[0] == 204 else second
    loser = second if winner == first else first
    assert await can_log_in(client, phone.email, winner)
    assert not await can_log_in(client, phone.email, loser) and not await can_log_in(client, phone.email, PASSWORD)


async def test_sessions_are_listed_and_one_is_ended_with_its_tokens_and_socket(
    live: Live, client: AsyncTestClient[Litestar]
) -> None:
    phone = await sign_up(client, "ann@example.com")
    r = await client.post(
        "/auth/login",
        json={"identifier": phone.email, "password": PASSWORD},
        headers={"User-Agent": "Firefox on the laptop"},
    )
    laptop = Actor(client, {"id": phone.id, "email": phone.email}, r.json())
    listed = (await phone.get("/me/sessions")).json()
    assert len(listed) == 2 and [s["current"] for s in listed].count(True) == 1
    mine = next(s for s in listed if s["current"])
    other = next(s for s in listed if not s["current"])
    assert other["user_agent"] == "Firefox on the laptop" and other["ip"]
    assert other["created_at"] <= other["last_used_at"] < other["expires_at"]

    laptop_ws = await open_feed(live, laptop, [f"user:{phone.id}"])
    await until(laptop_ws, "subscribed")
    assert (await phone.delete(f"/me/sessions/{other['id']}")).status_code == 204
    assert await closed_with(laptop_ws) == CLOSE_POLICY
    assert (await laptop.get("/me")).status_code == 401
    assert (await phone.get("/me")).status_code == 200
    assert [s["id"] for s in (await phone.get("/me/sessions")).json()] == [mine["id"]]
    assert (await phone.delete(f"/me/sessions/{other['id']}")).status_code == 404  # ended already

    # Someone else's session is not found, and goes on.
    bob = await sign_up(client, "bob@example.com")
    bobs = (await bob.get("/me/sessions")).json()[0]["id"]
    assert (await phone.delete(f"/me/sessions/{bobs}")).status_code == 404
    assert (await phone.delete(f"/me/sessions/{uuid.uuid4()}")).status_code == 404
    assert (await bob.get("/me")).status_code == 200

    # Signing out everywhere else keeps this session only.
    await relogin(phone)
    await relogin(phone)
    assert (await phone.post("/me/sessions/end-others")).json() == {"ended": 2}
    assert [s["current"] for s in (await phone.get("/me/sessions")).json()] == [True]


async def test_an_email_changes_only_when_the_mailed_link_is_used(
    client: AsyncTestClient[Litestar], mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    ann = await sign_up(client, "ann@example.com")
    await sign_up(client, "taken@example.com")
    wrong = await ann.post("/me/email", json={"new_email": "ann.new@example.com", "password": "not my password"})
    assert wrong.status_code == 403
    taken = await ann.post("/me/email", json={"new_email": "TAKEN@example.com", "password": PASSWORD})
    assert taken.status_code == 409
    assert (await ann.post("/me/email", json={"new_email": "ann@example.com", "password": PASSWORD})).status_code == 422

    r = await ann.post("/me/email", json={"new_email": "ann.new@example.com", "password": PASSWORD})
    assert r.status_code == 202, r.text
    mail = await mailbox.wait_for("ann.new@example.com", "Confirm your new email address")
    token = token_in(text_of(mail))
    assert f"/shop/account/email/confirm?token={token}" in text_of(mail)
    # Nothing has changed yet.
    assert (await ann.get("/me")).json()["email"] == "ann@example.com"
    assert await can_log_in(client, "ann@example.com", PASSWORD)
    assert await db.fetchval("SELECT count(*) FROM account_tokens WHERE token_hash = $1", token.encode()) == 0

    assert (await client.post("/auth/email-change/confirm", json={"token": "x" * 43})).status_code == 422
    r = await client.post("/auth/email-change/confirm", json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "ann.new@example.com" and r.json()["email_verified_at"] is not None
    assert (await ann.get("/me")).json()["email"] == "ann.new@example.com"  # sessions go on
    assert await can_log_in(client, "ann.new@example.com", PASSWORD)
    assert not await can_log_in(client, "ann@example.com", PASSWORD)
    notice = await mailbox.wait_for("ann@example.com", "Your email address was changed")
    assert "a***@example.com" in text_of(notice) and "ann.new@example.com" not in text_of(notice)
    again = await client.post("/auth/email-change/confirm", json={"token": token})
    assert again.status_code == 422  # single use


async def test_a_newer_email_change_link_replaces_the_older(
    client: AsyncTestClient[Litestar], mailbox: Mailbox
) -> None:
    ann = await sign_up(client, "ann@example.com")
    await ann.post("/me/email", json={"new_email": "first@example.com", "password": PASSWORD})
    first = token_in(text_of(await mailbox.wait_for("first@example.com", "Confirm")))
    await ann.post("/me/email", json={"new_email": "second@example.com", "password": PASSWORD})
    second = token_in(text_of(await mailbox.wait_for("second@example.com", "Confirm")))
    assert (await client.post("/auth/email-change/confirm", json={"token": first})).status_code == 422
    assert (await client.post("/auth/email-change/confirm", json={"token": second})).status_code == 200
    assert (await ann.get("/me")).json()["email"] == "second@example.com"


async def test_the_account_page_changes_the_password_and_ends_sessions(
    client: AsyncTestClient[Litestar], mailbox: Mailbox
) -> None:
    ann = await sign_up(client, "ann@example.com")  # an API session: the "other device"
    assert (await sign_in(client, ann.email)).status_code == 303
    page = await client.get("/shop/account")
    assert page.status_code == 200 and "Where you are signed in" in page.text and "this browser" in page.text
    assert page.text.count('action="/shop/account/sessions/') == 2 + 1  # two sessions, and "everywhere else"
    csrf = csrf_of(page.text)
    wrong = await client.post(
        "/shop/account/password",
        data={"current_password": "nope", "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD,
              "csrf_token": csrf},
    )  # fmt: skip
    assert wrong.status_code == 403 and "current password is wrong" in wrong.text
    assert (await ann.get("/me")).status_code == 200
    done = await client.post(
        "/shop/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD,
              "csrf_token": csrf},
    )  # fmt: skip
    assert done.status_code == 200 and "Your password is changed. 1 other session signed out." in done.text
    assert (await ann.get("/me")).status_code == 401  # the API session ended
    assert (await client.get("/shop/account")).status_code == 200  # the page session goes on
    await mailbox.wait_for("ann@example.com", "Your password was changed")
    # Ending this browser's own session from the list signs it out.
    page = await client.get("/shop/account")
    own = re.search(r'action="/shop/account/sessions/([0-9a-f-]{36})/end"', page.text)
    assert own is not None
    r = await client.post(f"/shop/account/sessions/{own[1]}/end", data={"csrf_token": csrf_of(page.text)},
                          follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert (await client.get("/shop/account", follow_redirects=False)).status_code in (302, 303)

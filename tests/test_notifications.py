"""Notifications: what the outbox says is mailed through a real SMTP server (aiosmtpd) and listed in the app;
preferences and the one-click unsubscribe link are honoured; a mail the SMTP server could not take is sent
when it is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.notifications.mailbox import free_port, mailbox_server
from marketplace.settings import Settings
from tests.conftest import SHOP, Actor, approved_vendor, sign_up
from tests.mail_fixtures import Mailbox, mailbox, settings, text_of
from tests.test_aftersales import SHIP, claim, delivered_order

__all__ = ["mailbox", "settings"]
pytestmark = pytest.mark.timeout(90)


async def notices(actor: Actor, **params: Any) -> list[dict[str, Any]]:
    r = await actor.get("/me/notifications", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def until_notified(actor: Actor, kind: str, count: int = 1, wait: float = 10.0) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        found = [n for n in await notices(actor, limit=100) if n["kind"] == kind]
        if len(found) >= count or loop.time() > deadline:
            assert len(found) >= count, f"{len(found)} {kind} notices, wanted {count}"
            return found
        await asyncio.sleep(0.05)


async def test_an_order_is_mailed_when_placed_paid_shipped_and_delivered(
    shop: dict[str, Any], mailbox: Mailbox
) -> None:
    buyer = shop["buyer"]
    order = await delivered_order(shop)
    to = buyer.email
    placed = await mailbox.wait_for(to, f"Your order #{order['id']} was placed")
    assert "60.00 EUR" in text_of(placed) and "List-Unsubscribe" in placed
    await mailbox.wait_for(to, f"Your payment for order #{order['id']} arrived")
    shipped = await mailbox.wait_for(to, f"Your order #{order['id']} is on its way")
    assert SHIP["tracking_number"] in text_of(shipped) and SHIP["tracking_number"] in text_of(shipped, "html")
    assert SHIP["carrier"] in text_of(shipped)
    await mailbox.wait_for(to, f"Your order #{order['id']} was delivered")
    assert mailbox.messages(shop["alpha"].email)[-1]["Subject"] != placed["Subject"]  # the shop is not the buyer

    # The same, in the app: newest first, unread ones, marked read one by one or all at once.
    delivered = (await until_notified(buyer, "order_delivered"))[0]
    assert delivered["data"]["order_id"] == order["id"]
    everything = await notices(buyer, limit=100)
    assert [n["id"] for n in everything] == sorted((n["id"] for n in everything), reverse=True)
    r = await buyer.post(f"/me/notifications/{delivered['id']}/read")
    assert r.status_code == 200 and r.json()["read_at"] is not None
    unread = await notices(buyer, unread=True, limit=100)
    assert delivered["id"] not in {n["id"] for n in unread} and unread
    page = (await buyer.get("/me/notifications", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    r = await buyer.post("/me/notifications/read-all")
    assert r.status_code == 200 and r.json()["marked"] == len(unread)
    assert await notices(buyer, unread=True) == []
    # Another user's notification is not found; a bad id is a clear 4xx.
    assert (await shop["alpha"].post(f"/me/notifications/{delivered['id']}/read")).status_code == 404
    assert (await buyer.get("/me/notifications", params={"limit": 0})).status_code == 400


async def test_refunds_and_messages_on_a_return_are_mailed_to_the_other_side(
    shop: dict[str, Any], mailbox: Mailbox
) -> None:
    buyer, alpha = shop["buyer"], shop["alpha"]
    order = await delivered_order(shop)
    request = (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "refund_only"))).json()
    await alpha.post(f"/vendor/aftersales/{request['id']}/messages", json={"body": "Could you send a photo?"})
    await mailbox.wait_for(buyer.email, f"New message about your return request #{request['id']}")
    await buyer.post(f"/aftersales/{request['id']}/messages", json={"body": "Here it is"})
    await mailbox.wait_for(alpha.email, f"A buyer wrote about return request #{request['id']}")
    await alpha.post(f"/vendor/aftersales/{request['id']}/approve")
    assert (await alpha.post(f"/vendor/aftersales/{request['id']}/refund", json={})).status_code == 200
    refund = await mailbox.wait_for(buyer.email, f"Your refund for order #{order['id']} was issued")
    assert "30.00 EUR" in text_of(refund)
    # Nobody is mailed their own words.
    assert not [m for m in mailbox.messages(buyer.email) if "wrote" in m["Subject"]]


async def test_a_cancelled_paid_order_is_mailed_as_refunded_and_an_unpaid_one_is_not(
    shop: dict[str, Any], mailbox: Mailbox
) -> None:
    buyer, alpha, beta = shop["buyer"], shop["alpha"], shop["beta"]
    paid = await shop["checkout"](pay=True)
    unpaid = await shop["checkout"](pay=False)
    paid_order, unpaid_order = paid[alpha.vendor_id]["id"], unpaid[beta.vendor_id]["id"]
    for order_id in (unpaid_order, paid_order):
        r = await buyer.post(f"/orders/{order_id}/cancel", json={"reason": "changed my mind"})
        assert r.status_code == 200, r.text
    refund = await mailbox.wait_for(buyer.email, f"Your refund for order #{paid_order} was issued")
    assert "was cancelled (changed my mind), and we refunded what you paid" in text_of(refund)
    assert "changed my mind" in text_of(refund, "html")
    await mailbox.wait_for(buyer.email, f"Your order #{unpaid[alpha.vendor_id]['id']} was placed")  # later mail
    assert not [m for m in mailbox.messages(buyer.email) if f"refund for order #{unpaid_order}" in m["Subject"]]


async def test_vendor_application_decisions_are_mailed(
    client: AsyncTestClient[Litestar], admin: Actor, mailbox: Mailbox
) -> None:
    await approved_vendor(client, admin, "alpha@example.com", "Alpha")
    welcome = await mailbox.wait_for("alpha@example.com", "Your shop was approved")
    assert "Alpha" in text_of(welcome)
    bob = await sign_up(client, "bob@example.com")
    application = (await bob.post("/vendor-applications", json={**SHOP, "shop_name": "Bob's"})).json()
    r = await admin.post(f"/admin/vendor-applications/{application['id']}/reject", json={"reason": "licence expired"})
    assert r.status_code == 200, r.text
    declined = await mailbox.wait_for("bob@example.com", "Your shop application was declined")
    assert "licence expired" in text_of(declined) and "licence expired" in text_of(declined, "html")


async def marketer(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> Actor:
    actor = await sign_up(client, "mia@example.com")
    await db.execute("UPDATE users SET roles = '{buyer,marketer}' WHERE id = $1", actor.id)
    return actor


def platform_coupon(name: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"name": name, "kind": "fixed", "audience": "issued", "amount_off": 500,
            "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=30)).isoformat()}  # fmt: skip


async def test_a_campaign_mails_its_offer_once_to_the_treatment_arm_only(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    mia = await marketer(client, db)
    members = [await sign_up(client, f"member{i}@example.com") for i in range(4)]
    await db.execute("UPDATE users SET email_verified_at = now()")
    run = await db.fetchval("INSERT INTO segment_runs (status, trigger) VALUES ('done', 'request') RETURNING id")
    segment = await db.fetchval(
        "INSERT INTO segments (run_id, kind, key, name, description, members, monetary)"
        " VALUES ($1, 'rfm', 'lapsed', 'Lapsed', 'Bought once, long ago', 4, 0) RETURNING id",
        run,
    )
    await db.executemany(
        "INSERT INTO segment_members (segment_id, buyer_id, recency_days, frequency, monetary, r, f, m)"
        " VALUES ($1, $2, 90, 1, 1000, 1, 1, 1)",
        [(segment, m.id) for m in members],
    )
    coupon_id = (await mia.post("/marketing/coupons", json=platform_coupon("Come back: 5 off"))).json()["id"]
    body = {"name": "Win back", "segment_id": segment, "coupon_id": coupon_id, "message": "We miss you",
            "holdout_share": 0.25}  # fmt: skip
    r = await client.post("/marketing/campaigns", json=body, headers=mia.headers | {"Idempotency-Key": "win-back"})
    assert r.status_code == 201, r.text
    treatment = {r["buyer_id"] for r in await db.fetch("SELECT buyer_id FROM campaign_members WHERE arm = 'treatment'")}
    for member in members:
        if member.id in treatment:
            offer = await mailbox.wait_for(member.email, "An offer for you: Come back: 5 off")
            assert "We miss you" in text_of(offer)
    await asyncio.sleep(0.5)  # the coupon's and the offer's events make one mail, not two
    for member in members:
        offers = [m for m in mailbox.messages(member.email) if "offer" in m["Subject"]]
        assert len(offers) == (member.id in treatment), member.email


async def test_preferences_and_the_unsubscribe_link_are_honoured(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, mailbox: Mailbox
) -> None:
    mia = await marketer(client, db)
    ann, bob = await sign_up(client, "ann@example.com"), await sign_up(client, "bob@example.com")
    await db.execute("UPDATE users SET email_verified_at = now() WHERE id <> $1", bob.id)  # bob never confirmed
    prefs = (await ann.get("/me/notifications/preferences")).json()["email"]
    assert prefs["campaign_offer"] is True and "password_reset" not in prefs
    r = await ann.put("/me/notifications/preferences", json={"email": {"order_paid": False}})
    assert r.status_code == 200 and r.json()["email"]["order_paid"] is False
    assert (
        await ann.put("/me/notifications/preferences", json={"email": {"password_reset": False}})
    ).status_code == 400

    first = (await mia.post("/marketing/coupons", json=platform_coupon("Spring 5 off"))).json()["id"]
    await mia.post(f"/marketing/coupons/{first}/issue", json={"buyer_ids": [ann.id, bob.id]})
    offer = await mailbox.wait_for(ann.email, "An offer for you: Spring 5 off")
    await until_notified(bob, "campaign_offer")  # in the app, not by mail: the address is not confirmed
    link = offer["List-Unsubscribe"].strip("<>")
    assert link.startswith(f"{client.app.state.settings.public_url}/notifications/unsubscribe?token=")
    r = await client.get(link.split("8000", 1)[1])  # the link works without signing in
    assert r.status_code == 200 and r.json() == {"kind": "campaign_offer", "email": False}
    assert (await ann.get("/me/notifications/preferences")).json()["email"]["campaign_offer"] is False
    one_click = await client.post(link.split("8000", 1)[1], data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert (await client.get(forged.split("8000", 1)[1])).status_code == 404
    assert (await client.get("/notifications/unsubscribe", params={"token": "x"})).status_code == 400

    second = (await mia.post("/marketing/coupons", json=platform_coupon("Summer 5 off"))).json()["id"]
    await mia.post(f"/marketing/coupons/{second}/issue", json={"buyer_ids": [ann.id]})
    await until_notified(ann, "campaign_offer", count=2)
    await asyncio.sleep(0.3)
    assert not [m for m in mailbox.messages(ann.email) if "Summer" in m["Subject"]]
    assert not [m for m in mailbox.messages(bob.email) if "offer" in m["Subject"]]
    statuses = await db.fetch("SELECT user_id, email_status FROM notifications WHERE kind = 'campaign_offer'")
    assert sorted((r["user_id"], r["email_status"]) for r in statuses) == sorted(
        [(ann.id, "sent"), (bob.id, "skipped"), (ann.id, "skipped")]
    )


async def test_mail_waits_while_the_smtp_server_is_down_and_is_sent_when_it_is_back(
    settings: Settings, mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    port = free_port("127.0.0.1")  # nothing listens here yet
    app = create_app(msgspec.structs.replace(settings, smtp_port=port))
    async with AsyncTestClient(app=app) as client:
        await sign_up(client, "ann@example.com")  # queues the verification mail
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (row := await db.fetchrow("SELECT * FROM notifications WHERE kind = 'verify_email'"))["attempts"] < 2:
            assert loop.time() < deadline, dict(row)
            await asyncio.sleep(0.05)
        assert row["email_status"] == "pending" and row["last_error"] and row["next_attempt_at"] > row["created_at"]
        backlog = Mailbox(mailbox.directory.parent / "later", "127.0.0.1", port)
        with mailbox_server(backlog.directory, port=port):
            mail = await backlog.wait_for("ann@example.com", "Confirm your email address", wait=20)
        assert "Token:" in text_of(mail)
        row = await db.fetchrow("SELECT * FROM notifications WHERE kind = 'verify_email'")
        assert row["email_status"] == "sent" and row["attempts"] >= 3 and row["last_error"] is None


async def test_two_app_processes_mail_each_notice_once(
    settings: Settings, client: AsyncTestClient[Litestar], mailbox: Mailbox, shop: dict[str, Any]
) -> None:
    async with AsyncTestClient(app=create_app(settings)) as other:
        await until_leader(client.app, other.app)
        orders = await shop["checkout"](pay=False)
        order_id = orders[shop["alpha"].vendor_id]["id"]
        await mailbox.wait_for(shop["buyer"].email, f"Your order #{order_id} was placed")
        await asyncio.sleep(0.5)
        placed = [m for m in mailbox.messages(shop["buyer"].email) if f"#{order_id} was placed" in m["Subject"]]
        assert len(placed) == 1
        assert [client.app.state.notifier.leading, other.app.state.notifier.leading].count(True) == 1


async def until_leader(*apps: Litestar) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not any(app.state.notifier.leading for app in apps):
        assert loop.time() < deadline, "no notifier leads"
        await asyncio.sleep(0.05)

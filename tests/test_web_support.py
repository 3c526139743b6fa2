"""The support console's pages (marketplace/web/pages/support.py): for support staff and admins only; the desk's
search, an order's story with its action forms (a reason required, refused without one and nothing changed),
the disputes queue and a dispute's decision, all through the same services and workflows as the JSON API."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Actor
from tests.test_disputes import late_parcel, open_dispute
from tests.test_support import shipped_order, support_actor, trial
from tests.test_web_admin import as_page_user
from tests.test_web_pages import csrf_of


@pytest.fixture
async def support(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> Actor:
    return await support_actor(client, db)


async def test_only_support_staff_see_the_console(
    client: AsyncTestClient[Litestar],
    shop: dict[str, Any],
    support: Actor,
    admin: Actor,
) -> None:
    order = (await shipped_order(shop))[shop["alpha"].vendor_id]
    pages = ["/support", f"/support/desk/orders/{order['id']}", "/support/desk/disputes"]
    client.cookies.clear()
    for path in pages:
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    for outsider in (shop["buyer"], shop["alpha"]):
        await as_page_user(client, outsider.email)
        for path in pages:
            r = await client.get(path)
            assert r.status_code == 403, path
            assert "customer-service staff only" in r.text and "1Z999AA10123456784" not in r.text
        token = csrf_of((await client.get("/shop/rewards")).text)
        r = await client.post(
            f"/support/desk/orders/{order['id']}/lost",
            data={"csrf_token": token, "remedy": "refund", "reason": "x y z"},
        )
        assert r.status_code == 403
    for staff in (support, admin):
        await as_page_user(client, staff.email)
        for path in pages:
            assert (await client.get(path)).status_code == 200, (staff.email, path)


async def test_the_desk_finds_an_order_and_settles_a_lost_parcel_with_a_reason(
    client: AsyncTestClient[Litestar],
    shop: dict[str, Any],
    support: Actor,
    admin: Actor,
    db: asyncpg.Connection,
) -> None:
    order = (await shipped_order(shop, tracking="PARCEL7788"))[shop["alpha"].vendor_id]
    await as_page_user(client, support.email)
    found = await client.get("/support", params={"q": "PARCEL7788"})
    assert found.status_code == 200
    assert f'href="/support/desk/orders/{order["id"]}"' in found.text
    detail = await client.get(f"/support/desk/orders/{order['id']}")
    assert "Lost in transit" in detail.text and "PARCEL7788" in detail.text
    token = csrf_of(detail.text)
    url = f"/support/desk/orders/{order['id']}/lost"
    refused = await client.post(url, data={"csrf_token": token, "remedy": "refund", "reason": "  "})
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "shipped"
    done = await client.post(url, data={"csrf_token": token, "remedy": "refund", "reason": "carrier lost it"})
    assert done.status_code == 200, done.text
    assert "Marked lost in transit: refunded." in done.text
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "cancelled"
    assert await db.fetchval("SELECT refunded_amount FROM payments") == order["total"]
    assert "carrier lost it" in done.text  # the note and the audit entry are on the page
    await trial(admin)
    r = await client.post(f"/support/desk/orders/{order['id']}/notes", data={"csrf_token": token, "body": "called"})
    assert r.status_code == 200 and "Note added." in r.text


async def test_the_queue_lists_a_dispute_and_support_decides_it(
    client: AsyncTestClient[Litestar],
    shop: dict[str, Any],
    support: Actor,
    db: asyncpg.Connection,
) -> None:
    order = await late_parcel(shop)
    dispute = await open_dispute(shop["buyer"], order["id"])
    await db.execute("UPDATE disputes SET status = 'escalated', escalated_at = now()")
    await as_page_user(client, support.email)
    queue = await client.get("/support/desk/disputes")
    assert f'id="dispute-{dispute["id"]}"' in queue.text and "escalated" in queue.text
    page = await client.get(f"/support/desk/disputes/{dispute['id']}")
    assert "never came" in page.text
    token = csrf_of(page.text)
    url = f"/support/desk/disputes/{dispute['id']}/decide"
    refused = await client.post(url, data={"csrf_token": token, "outcome": "refunded", "amount": "10.00"})
    assert refused.status_code == 400
    assert await db.fetchval("SELECT status FROM disputes") == "escalated"
    r = await client.post(
        url, data={"csrf_token": token, "outcome": "refunded", "amount": "10.00", "reason": "partly lost"}
    )
    assert r.status_code == 200, r.text
    assert "Decided: refunded." in r.text
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 1000
    assert await db.fetchval("SELECT outcome FROM disputes") == "refunded"


async def test_the_alerts_page_shows_what_the_rules_raised_and_support_dismisses_one_with_a_reason(
    client: AsyncTestClient[Litestar], shop: dict[str, Any], support: Actor, db: asyncpg.Connection
) -> None:
    vendor_id = shop["alpha"].vendor_id
    alert_id = await db.fetchval(
        "INSERT INTO risk_alerts (rule, subject, vendor_id, score, evidence, user_ids, latest_at)"
        " VALUES ('shared_address', 'address:k1', $1, 88, '{\"accounts\": 20, \"orders\": 200}', '{1,2}', now())"
        " RETURNING id",
        vendor_id,
    )
    await as_page_user(client, shop["buyer"].email)
    assert (await client.get("/support/desk/alerts")).status_code == 403
    await as_page_user(client, support.email)
    listed = await client.get("/support/desk/alerts")
    assert listed.status_code == 200 and f"#{alert_id} Shared address" in listed.text and "score 88" in listed.text
    token = csrf_of(listed.text)
    r = await client.post(f"/support/desk/alerts/{alert_id}/dismiss", data={"csrf_token": token, "reason": " "})
    assert (
        r.status_code == 400 and await db.fetchval("SELECT status FROM risk_alerts WHERE id = $1", alert_id) == "open"
    )
    r = await client.post(
        f"/support/desk/alerts/{alert_id}/dismiss", data={"csrf_token": token, "reason": "one household's flats"}
    )
    assert r.status_code == 200 and "payouts are released" in r.text
    row = await db.fetchrow("SELECT status, decision_reason FROM risk_alerts WHERE id = $1", alert_id)
    assert (row["status"], row["decision_reason"]) == ("dismissed", "one household's flats")
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'risk_alert.dismissed'") == 1

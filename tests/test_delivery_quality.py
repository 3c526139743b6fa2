"""Delivery quality per shop on a toy set of orders whose answers are known: ship-on-time rate, average
transit time and exception rate; late shipments flagged to their shop once (however many workers look) and
listed for the shop and for support."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from analytics.delivery import delivery_quality
from analytics.sales import Period
from marketplace.core import topics
from marketplace.core.db import create_pool
from marketplace.logistics.carriers import TrackingType
from marketplace.logistics.sandbox import SIGNATURE_HEADER, SandboxCarrier
from marketplace.logistics.service import flag_late_shipments, late_shipments
from marketplace.settings import Settings
from tests.conftest import Actor

HOURS = 48  # the ship-by time these tests use (the setting's default)


async def place_times(db: asyncpg.Connection, order_id: int, paid_hours_ago: float, **after_paid: float) -> None:
    """Set an order's history times: paid `paid_hours_ago`, each later move (shipped=10 ...) hours after paid."""
    paid = datetime.now(UTC) - timedelta(hours=paid_hours_ago)
    await db.execute("UPDATE orders SET created_at = $2 WHERE id = $1", order_id, paid - timedelta(minutes=5))
    await db.execute("UPDATE order_history SET at = $2 WHERE order_id = $1", order_id, paid - timedelta(minutes=5))
    await db.execute("UPDATE order_history SET at = $2 WHERE order_id = $1 AND to_status = 'paid'", order_id, paid)
    for status, hours in after_paid.items():
        at = paid + timedelta(hours=hours)
        await db.execute(
            "UPDATE order_history SET at = $3 WHERE order_id = $1 AND to_status = $2", order_id, status, at
        )


@pytest.fixture
async def toy(shop: dict[str, Any], client: AsyncTestClient[Litestar], settings: Settings, db: asyncpg.Connection):
    """Five orders of vendor alpha and five of beta (all paid); alpha's fates:
    1 shipped 10 h after paid through the carrier, an exception, delivered 24 h later;
    2 shipped 20 h after paid through the carrier, delivered 48 h later;
    3 shipped 60 h after paid (late), typed tracking number, still in transit;
    4 paid 100 h ago, accepted, never shipped (late, open);
    5 paid an hour ago, not shipped (not due yet).
    Beta's five were paid just now and are not due."""
    alpha: Actor = shop["alpha"]
    carrier = SandboxCarrier(settings.carrier_webhook_secret)
    orders = [(await shop["checkout"](pay=True))[alpha.vendor_id]["id"] for _ in range(5)]
    for n, order_id in enumerate(orders[:4]):
        assert (await alpha.post(f"/vendor/orders/{order_id}/accept")).status_code == 200
        if n < 2:
            r = await alpha.post(f"/vendor/orders/{order_id}/ship-with-carrier", json={})
            tracking = r.json()["order"]["tracking_number"]
            kinds = [TrackingType.EXCEPTION, TrackingType.DELIVERED] if n == 0 else [TrackingType.DELIVERED]
            for kind in kinds:
                body, signature = carrier.event(tracking, kind)
                r = await client.post(
                    "/logistics/webhooks/sandbox", content=body, headers={SIGNATURE_HEADER: signature}
                )
                assert r.status_code == 200, r.text
        elif n == 2:
            ship = {"carrier": "DHL", "tracking_number": "JD0001"}
            assert (await alpha.post(f"/vendor/orders/{order_id}/ship", json=ship)).status_code == 200
    await place_times(db, orders[0], 200, shipped=10, delivered=34)
    await place_times(db, orders[1], 200, shipped=20, delivered=68)
    await place_times(db, orders[2], 200, shipped=60)
    await place_times(db, orders[3], 100)
    await place_times(db, orders[4], 1)
    return {**shop, "orders": orders}


async def test_each_figure_on_a_toy_set_whose_answer_is_known(toy: dict[str, Any], db: asyncpg.Connection) -> None:
    alpha, beta = toy["alpha"].vendor_id, toy["beta"].vendor_id
    period = Period.of(None, None)
    by_vendor = {q.vendor_id: q for q in await delivery_quality(db, period, HOURS)}
    a = by_vendor[alpha]
    assert (a.paid_orders, a.shipped, a.shipped_on_time, a.shipped_late, a.late_unshipped) == (5, 3, 2, 1, 1)
    assert a.on_time_rate == pytest.approx(2 / 4)  # order 5 is not due yet, so it does not count
    assert (a.delivered, a.avg_transit_hours) == (2, pytest.approx(36.0))  # (24 + 48) / 2
    assert (a.carrier_shipments, a.exceptions, a.exception_rate) == (2, 1, pytest.approx(0.5))
    b = by_vendor[beta]
    assert (b.paid_orders, b.shipped, b.on_time_rate, b.avg_transit_hours, b.exception_rate) == (5, 0, None, None, None)
    # A longer ship-by time makes order 3 on time and order 4 not yet late.
    [relaxed] = await delivery_quality(db, period, 120, alpha)
    assert (relaxed.shipped_on_time, relaxed.late_unshipped, relaxed.on_time_rate) == (3, 0, 1.0)
    # A period before any payment has no figures.
    assert await delivery_quality(db, Period.of(datetime(2020, 1, 1).date(), datetime(2020, 1, 31).date()), HOURS) == []


async def test_the_routes_show_a_shop_its_own_figures_and_staff_every_shops(
    toy: dict[str, Any], admin: Actor, buyer: Actor
) -> None:
    mine = (await toy["alpha"].get("/vendor/analytics/delivery")).json()
    assert [(m["vendor_id"], m["on_time_rate"], m["avg_transit_hours"]) for m in mine] == [
        (toy["alpha"].vendor_id, 0.5, 36.0)
    ]
    everyone = (await admin.get("/analytics/delivery")).json()
    assert {m["vendor_id"] for m in everyone} == {toy["alpha"].vendor_id, toy["beta"].vendor_id}
    assert (await buyer.get("/analytics/delivery")).status_code == 403
    assert (await admin.get("/analytics/delivery?from=2026-02-01&to=2026-01-01")).status_code == 422


async def test_late_shipments_are_flagged_to_the_shop_once_and_listed_for_support(
    toy: dict[str, Any], database_url: str, db: asyncpg.Connection, admin: Actor
) -> None:
    alpha, late_order = toy["alpha"], toy["orders"][3]
    pool = await create_pool(database_url, 2, 4)
    try:
        # Two workers look at once: the order is flagged, and announced, once.
        flagged = await asyncio.gather(flag_late_shipments(pool, HOURS), flag_late_shipments(pool, HOURS))
        assert sorted(flagged) == [0, 1]
        assert await flag_late_shipments(pool, HOURS) == 0
        page = await late_shipments(pool, HOURS)
    finally:
        await pool.close()
    announced = await db.fetch("SELECT topic, payload FROM events WHERE type = 'shipment.late'")
    assert [(e["topic"], e["payload"]["order_id"]) for e in announced] == [
        (topics.vendor_orders(alpha.vendor_id), late_order)
    ]
    [late] = page.items
    assert (late.order_id, late.vendor_id, late.status) == (late_order, alpha.vendor_id, "accepted")
    assert late.hours_late == pytest.approx(100 - HOURS, abs=0.1) and late.flagged_at is not None
    # The shop sees its own; support (or an admin) sees every shop's, or one shop's; another shop sees none.
    assert [x["order_id"] for x in (await alpha.get("/vendor/late-shipments")).json()["items"]] == [late_order]
    assert (await toy["beta"].get("/vendor/late-shipments")).json()["items"] == []
    assert [x["order_id"] for x in (await admin.get("/support/late-shipments")).json()["items"]] == [late_order]
    other = (await admin.get(f"/support/late-shipments?vendor_id={toy['beta'].vendor_id}")).json()
    assert other["items"] == []
    assert (await alpha.get("/support/late-shipments")).status_code == 403
    # Shipped at last, it leaves the list (its flag stays, for the record).
    ship = {"carrier": "DHL", "tracking_number": "JD0002"}
    assert (await alpha.post(f"/vendor/orders/{late_order}/ship", json=ship)).status_code == 200
    assert (await admin.get("/support/late-shipments")).json()["items"] == []

"""Delivery quality per shop, over the orders paid in a period (cash-on-delivery orders count from their
confirmation): when each was paid, shipped and delivered comes from its order history, exceptions from its
carrier's tracking events.

- ship-on-time rate: shipped within `ship_within_hours` of being paid, over the orders that have had to
  ship by now (shipped, or unshipped past their ship-by time; cancelled ones unshipped are left out);
- average transit time: shipped to delivered, in hours, over delivered orders;
- exception rate: carrier-tracked shipments with at least one `exception` event, over carrier-tracked
  shipments (a typed tracking number reports no events, so it cannot count either way).

Late shipments still open are listed for the shop and support by `marketplace.logistics.service.late_shipments`."""

from __future__ import annotations

import asyncpg
import msgspec

from analytics.sales import Period

# Orders are read from a week before the period (paid at most a few days after they were placed, a bank
# transfer's time) so that the period's filter on the time paid can use the index on created_at.
DELIVERY_QUALITY = """
WITH timed AS (
    SELECT o.vendor_id, o.status,
           (SELECT min(h.at) FROM order_history h
            WHERE h.order_id = o.id AND h.to_status IN ('paid', 'confirmed')) AS paid_at,
           (SELECT min(h.at) FROM order_history h WHERE h.order_id = o.id AND h.to_status = 'shipped') AS shipped_at,
           (SELECT max(h.at) FROM order_history h
            WHERE h.order_id = o.id AND h.to_status = 'delivered') AS delivered_at,
           EXISTS (SELECT FROM shipments s WHERE s.order_id = o.id) AS tracked,
           EXISTS (SELECT FROM shipments s JOIN shipment_events e ON e.shipment_id = s.id
                   WHERE s.order_id = o.id AND e.type = 'exception') AS had_exception
    FROM orders o
    WHERE o.created_at >= $2::timestamptz - interval '7 days' AND o.created_at < $3
      AND ($4::bigint IS NULL OR o.vendor_id = $4)
)
SELECT vendor_id,
       count(*) AS paid_orders,
       count(*) FILTER (WHERE shipped_at IS NOT NULL) AS shipped,
       count(*) FILTER (WHERE shipped_at <= paid_at + make_interval(hours => $1)) AS shipped_on_time,
       count(*) FILTER (WHERE shipped_at > paid_at + make_interval(hours => $1)) AS shipped_late,
       count(*) FILTER (WHERE shipped_at IS NULL AND status <> 'cancelled'
                        AND paid_at + make_interval(hours => $1) < now()) AS late_unshipped,
       count(*) FILTER (WHERE delivered_at IS NOT NULL AND shipped_at IS NOT NULL) AS delivered,
       avg(extract(epoch FROM delivered_at - shipped_at) / 3600)
           FILTER (WHERE delivered_at IS NOT NULL AND shipped_at IS NOT NULL)::float8 AS avg_transit_hours,
       count(*) FILTER (WHERE tracked) AS carrier_shipments,
       count(*) FILTER (WHERE had_exception) AS exceptions
FROM timed
WHERE paid_at >= $2 AND paid_at < $3
GROUP BY vendor_id
ORDER BY vendor_id
"""


class DeliveryQuality(msgspec.Struct):
    vendor_id: int
    paid_orders: int
    shipped: int
    shipped_on_time: int
    shipped_late: int
    late_unshipped: int  # paid, past the ship-by time, still not shipped
    on_time_rate: float | None  # shipped_on_time / (shipped + late_unshipped); None when none had to ship yet
    delivered: int
    avg_transit_hours: float | None  # None when none was delivered
    carrier_shipments: int
    exceptions: int
    exception_rate: float | None  # exceptions / carrier_shipments; None without carrier shipments
    ship_within_hours: int


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def delivery_quality(
    db: asyncpg.Pool | asyncpg.Connection, period: Period, ship_within_hours: int, vendor_id: int | None = None
) -> list[DeliveryQuality]:
    """Each shop's delivery figures (one shop's with `vendor_id`) over the orders paid in `period`."""
    start, end = period.bounds
    rows = await db.fetch(DELIVERY_QUALITY, ship_within_hours, start, end, vendor_id)
    return [
        DeliveryQuality(
            **dict(r),
            on_time_rate=_ratio(r["shipped_on_time"], r["shipped"] + r["late_unshipped"]),
            exception_rate=_ratio(r["exceptions"], r["carrier_shipments"]),
            ship_within_hours=ship_within_hours,
        )
        for r in rows
    ]

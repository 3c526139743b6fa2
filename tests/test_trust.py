"""The shop trust score: a shop with bad reviews, refunds and late shipments scores below a good one, in the
public shop API and as the badge on its product page; the scan keeps the stored scores fresh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core.db import create_pool
from marketplace.risk.service import scan
from marketplace.risk.trust import score
from marketplace.settlement.service import plan_refund, post_refund
from tests.conftest import Actor
from tests.test_risk import address, build_market, new_buyers, paid_orders


@pytest.fixture
async def market(client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection) -> dict[str, Any]:
    return await build_market(client, admin, db)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, 1, 2)
    yield pool
    await pool.close()


def test_the_formula_orders_shops_as_a_buyer_would() -> None:
    new = score(0, None, 0, 0, 0, 0)
    good = score(40, 4.9, 200, 4, 6, 0)
    bad = score(40, 1.8, 200, 50, 90, 20)
    assert 0 <= bad < new < good <= 100
    assert score(40, 4.9, 200, 4, 6, 30) < score(40, 4.9, 200, 4, 6, 0)  # disputes count against the shop
    assert score(3, 1.0, 3, 0, 0, 0) > score(30, 1.0, 30, 0, 0, 0)  # a few bad reviews weigh less


async def shop_history(
    db: asyncpg.Connection, sku: dict[str, Any], rating: int, ship_after_hours: int, refunds: int, prefix: str
) -> list[int]:
    """20 delivered orders, shipped `ship_after_hours` after payment, each reviewed `rating`; `refunds` refunded."""
    buyers = await new_buyers(db, prefix, 20)
    orders = await paid_orders(db, [(b, address(n), sku) for n, b in enumerate(buyers)])
    await db.execute(
        "UPDATE order_history SET at = now() - interval '200 hours' WHERE order_id = ANY ($1) AND to_status = 'paid'",
        orders,
    )
    await db.execute(
        "INSERT INTO order_history (order_id, from_status, to_status, at) SELECT id, 'accepted', 'shipped',"
        " now() - interval '200 hours' + make_interval(hours => $2) FROM unnest($1::bigint[]) id",
        orders, ship_after_hours,
    )  # fmt: skip
    await db.execute("UPDATE orders SET status = 'delivered' WHERE id = ANY ($1)", orders)
    await db.execute(
        "INSERT INTO reviews (product_id, vendor_id, buyer_id, rating, body) SELECT $1, $2, b, $3, 'it is what it is'"
        " FROM unnest($4::bigint[]) b",
        sku["product_id"], sku["vendor_id"], rating, buyers,
    )  # fmt: skip
    async with db.transaction():
        for order_id in orders[:refunds]:
            await post_refund(db, await plan_refund(db, order_id))
    return orders


async def test_a_shop_with_bad_reviews_refunds_and_late_shipments_scores_below_a_good_one(
    market: dict[str, Any], db: asyncpg.Connection, pool: asyncpg.Pool, client: AsyncTestClient[Litestar]
) -> None:
    skus = market["skus"]
    await shop_history(db, skus["alpha1"], rating=5, ship_after_hours=10, refunds=0, prefix="happy")
    await shop_history(db, skus["beta1"], rating=1, ship_after_hours=80, refunds=6, prefix="angry")
    good_id, bad_id, fresh_id = (market[name].vendor_id for name in ("alpha", "beta", "ring_shop"))

    shops = {v: (await client.get(f"/vendors/{v}")).json() for v in (good_id, bad_id, fresh_id)}  # no sign-in
    good, bad, fresh = (shops[v]["trust"] for v in (good_id, bad_id, fresh_id))
    assert bad["score"] < fresh["score"] < good["score"]
    assert (good["reviews"], good["rating"], good["orders"]) == (20, 5.0, 20)
    assert (bad["rating"], bad["refund_rate"], bad["late_shipment_rate"]) == (1.0, 0.3, 1.0)
    assert good["refund_rate"] == 0 and good["late_shipment_rate"] == 0
    assert fresh["orders"] == 0 and fresh["reviews"] == 0
    assert (await client.get("/admin/settlement/trial-balance", headers=market["support"].headers)).status_code == 403

    # The product page shows the same score as a badge.
    page = (await client.get(f"/shop/products/{skus['alpha1']['product_id']}")).text
    assert 'id="shop-trust"' in page and f"Trust {good['score']}/100" in page

    # Stored scores follow new history at the next scan.
    await shop_history(db, skus["alpha2"], rating=1, ship_after_hours=100, refunds=10, prefix="later")
    stale = (await client.get(f"/vendors/{good_id}")).json()["trust"]
    assert stale == good
    result = await scan(pool)
    assert result.shops_scored == 3
    fresh_good = (await client.get(f"/vendors/{good_id}")).json()["trust"]
    assert fresh_good["score"] < good["score"] and fresh_good["orders"] == 40

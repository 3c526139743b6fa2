"""The demo seed: realistic, deterministic, and visible through the API like any other data."""

from __future__ import annotations

import asyncpg
import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core.errors import Conflict
from marketplace.seed.generator import SIZES, generate
from marketplace.seed.loader import DEMO_PASSWORD, seed

START = 1_750_000_000.0


def test_same_seed_same_marketplace_and_another_seed_differs() -> None:
    a, b, c = (generate(SIZES["tiny"], s, START) for s in (7, 7, 8))
    assert a.product_title == b.product_title and np.array_equal(a.product, b.product) and np.array_equal(a.at, b.at)
    assert not np.array_equal(a.product, c.product)


def test_simulated_behaviour_has_the_shape_of_real_shopping() -> None:
    demo = generate(SIZES["small"], 1, START)
    views = demo.product[demo.kind == "view"]
    counts = np.sort(np.bincount(views, minlength=demo.size.products))[::-1]
    # Power law: the top 10% of products draw far more than 10% of views.
    assert counts[: len(counts) // 10].sum() > 0.4 * counts.sum()
    # Funnel: views > carts > purchases.
    kinds = {k: int((demo.kind == k).sum()) for k in ("view", "cart", "purchase")}
    assert kinds["view"] > 5 * kinds["cart"] > 5 * kinds["purchase"] / 2 > 0
    # Weekly rhythm: weekends are busier than mid-week.
    weekday = ((demo.at - START) // 86_400 % 7).astype(int)
    per_day = np.bincount(weekday, minlength=7)
    assert per_day[5:].mean() > per_day[1:4].mean()
    # Buyers mostly browse their hidden favourite categories.
    view_buyers = demo.user[demo.kind == "view"]
    in_taste = (demo.buyer_leaves[view_buyers] == demo.product_leaf[views][:, None]).any(axis=1)
    assert in_taste.mean() > 0.7  # chance alone would give about 5%
    # Some buyers churn, some come back often.
    assert (demo.buyer_churn >= 0).any()
    purchases_per_buyer = np.bincount(demo.user[demo.kind == "purchase"], minlength=demo.size.buyers)
    assert (purchases_per_buyer >= 3).sum() > 0


async def test_seeded_marketplace_is_browsable(
    client: AsyncTestClient[Litestar], database_url: str, db: asyncpg.Connection
) -> None:
    counts = await seed(db, "small", 3, quiet=True)
    assert counts["products"] == await db.fetchval("SELECT count(*) FROM products WHERE status = 'listed'")
    assert counts["interactions"] == await db.fetchval("SELECT count(*) FROM interactions")
    assert await db.fetchval("SELECT count(*) FROM demo_buyer_tastes") == counts["buyers"]
    assert await db.fetchval("SELECT sum(on_hand) FROM skus") == await db.fetchval(
        "SELECT sum(delta) FROM stock_movements"
    )
    # Orders follow the purchases and obey the same invariants as live ones.
    assert counts["orders"] > 0 and counts["reviews"] > 0 and counts["returns"] > 0
    assert await db.fetchval("SELECT bool_and(refunded_amount <= amount) FROM payments")
    assert await db.fetchval("SELECT sum(amount) FROM ledger_entries") == 0
    assert await db.fetchval("SELECT min(on_hand) FROM skus") >= 0
    unpaid = await db.fetchval(
        "SELECT count(*) FROM orders o WHERE o.status <> 'cancelled' AND NOT EXISTS"
        " (SELECT 1 FROM payments p WHERE p.checkout_id = o.checkout_id AND p.status IN ('succeeded', 'refunded'))"
    )
    assert unpaid == 0
    unsold = await db.fetchval(
        "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.status <> 'cancelled'"
        " AND NOT EXISTS (SELECT 1 FROM stock_movements m WHERE m.order_id = o.id AND m.sku_id = l.sku_id)"
    )
    assert unsold == 0
    # The demo's promotions: a welcome code, a shop's automatic discount, points for completed orders, and
    # points for buyer1 (the login serve --demo prints) to try at checkout.
    assert await db.fetchval("SELECT count(*) FROM coupons WHERE code = 'WELCOME10' OR audience = 'automatic'") == 2
    assert await db.fetchval("SELECT count(*) FROM loyalty_ledger WHERE kind = 'earned'") == await db.fetchval(
        "SELECT count(*) FROM orders WHERE status = 'completed' AND items_total >= 100"
    )
    welcome = "SELECT u.email, l.delta FROM loyalty_ledger l JOIN users u ON u.id = l.user_id WHERE l.kind = 'adjusted'"
    assert [tuple(r) for r in await db.fetch(welcome)] == [("buyer1@demo.test", 500)]
    early_reviews = await db.fetchval(
        "SELECT count(*) FROM reviews r WHERE NOT EXISTS"
        " (SELECT 1 FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE l.product_id = r.product_id"
        " AND o.buyer_id = r.buyer_id AND o.status IN ('delivered', 'completed'))"
    )
    assert early_reviews == 0
    assert await db.fetchval(
        "SELECT bool_and(p.sold_count = coalesce(t.n, 0)) FROM products p LEFT JOIN (SELECT l.product_id, count(*) n"
        " FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.status <> 'cancelled' GROUP BY 1) t"
        " ON t.product_id = p.id"
    )
    body = (await client.get("/products", params={"facets": "true", "sort": "best_selling"})).json()
    assert body["total"] == counts["products"]
    assert body["items"][0]["sold_count"] >= body["items"][-1]["sold_count"]
    r = await client.post("/auth/login", json={"identifier": "buyer1@demo.test", "password": DEMO_PASSWORD})
    assert r.status_code == 200
    with pytest.raises(Conflict):
        await seed(db, "small", 3, quiet=True)
    again = await seed(db, "small", 3, reset=True, quiet=True)
    assert again == counts

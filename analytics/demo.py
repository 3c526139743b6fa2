"""The demo marketplace's purchases without a database: the seed's generator and checkout plan run in
memory, priced as the seed prices them (each product at its first SKU's price, shipping per vendor order).
Notebooks use it; `marketplace seed` writes the same purchases to PostgreSQL."""

from __future__ import annotations

import time
from collections import defaultdict

import pandas as pd

from marketplace.logistics.fees import flat_fee
from marketplace.seed.generator import SIZES, generate
from marketplace.seed.orders import plan_checkouts, product_prices


def demo_purchases(size: str = "small", seed: int = 42) -> tuple[pd.DataFrame, pd.Timestamp]:
    """One row per paid checkout (buyer_id, created_at, total in cents), and the moment the demo ends."""
    weeks = SIZES[size].weeks
    demo = generate(SIZES[size], seed, time.time() - weeks * 7 * 86_400)
    price = product_prices(demo)
    rows = []
    for checkout in plan_checkouts(demo, seed):
        if checkout.cancelled:
            continue
        by_vendor: dict[int, int] = defaultdict(int)
        for product in checkout.products:
            by_vendor[int(demo.product_vendor[product])] += price[product]
        rows.append((checkout.buyer, checkout.at, sum(t + flat_fee(t) for t in by_vendor.values())))
    frame = pd.DataFrame(rows, columns=["buyer_id", "created_at", "total"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], unit="s", utc=True)
    return frame, pd.Timestamp(demo.start + weeks * 7 * 86_400, unit="s", tz="UTC")

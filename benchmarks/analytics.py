"""RFM and clusters over a million orders: the target is under 10 seconds together on this machine.

    .venv/bin/python -m benchmarks.analytics [--orders 1000000] [--customers 100000]

Orders are synthetic (customers with power-law activity over a year, log-normal order values); the timings
cover the RFM table (quintiles and segments) and the clustering (k-means for k = 2..8 with silhouettes on a
sample of 5,000), then the lifetime-value fit and a whole segment run as the analytics worker computes it."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from analytics.clusters import cluster
from analytics.clv import expected_value
from analytics.rfm import rfm
from analytics.segments import compute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    now = pd.Timestamp("2026-11-22", tz="UTC")
    activity = rng.pareto(1.5, args.customers) + 1
    buyers = rng.choice(args.customers, args.orders, p=activity / activity.sum())
    orders = pd.DataFrame(
        {
            "buyer_id": buyers,
            "created_at": now - pd.to_timedelta(rng.uniform(0, 365, args.orders), unit="D"),
            "total": np.round(rng.lognormal(3.5, 0.8, args.orders) * 100).astype(np.int64),
        }
    )
    started = time.perf_counter()
    table = rfm(orders, now)
    rfm_seconds = time.perf_counter() - started
    started = time.perf_counter()
    found = cluster(table)
    cluster_seconds = time.perf_counter() - started
    total = rfm_seconds + cluster_seconds
    print(f"{args.orders:,} orders, {len(table):,} customers")
    print(f"  RFM scores and segments   {rfm_seconds:6.2f} s   {table['segment'].value_counts().to_dict()}")
    print(f"  clusters (k = {found.k} by silhouette) {cluster_seconds:6.2f} s   "
          f"{ {k: round(v, 3) for k, v in found.silhouettes.items()} }")  # fmt: skip
    for label, words in found.descriptions.items():
        print(f"    cluster {label}: {int((found.labels == label).sum()):>6,} customers, {words}")
    print(f"  together {total:.2f} s ({'under' if total < 10 else 'OVER'} 10 s)")
    started = time.perf_counter()
    value = expected_value(orders, now)
    clv_seconds = time.perf_counter() - started
    fitted = "not fitted" if value is None else f"mean {value.mean() / 100:,.2f} a customer over 52 weeks"
    print(f"  lifetime value (BG/NBD and Gamma-Gamma fit, prediction) {clv_seconds:6.2f} s   {fitted}")
    started = time.perf_counter()
    compute(orders, now)
    print(f"  a whole segment run as the worker computes it (before storing) {time.perf_counter() - started:6.2f} s")


if __name__ == "__main__":
    main()

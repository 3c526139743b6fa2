"""RFM and clusters over a million orders: the target is under 5 seconds together, and a whole segment run
(RFM, clusters and lifetime value, as the analytics worker computes it) under 15 seconds, on this machine.

    .venv/bin/python -m benchmarks.analytics [--orders 1000000] [--customers 100000] [--threads 1] [--unbounded]

Orders are synthetic (customers with power-law activity over a year, log-normal order values); the timings
cover the RFM table (quintiles and segments) and the clustering (k-means for k = 2..8 with silhouettes on a
sample of 5,000), then the lifetime-value fit and a whole segment run as the analytics worker computes it.
`--unbounded` also clusters with the native thread pools unbounded, for the ratio against the bound."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from analytics.clusters import THREADS, cluster
from analytics.clv import expected_value
from analytics.rfm import rfm
from analytics.segments import compute
from benchmarks.report import Figure, print_figures

NAME = "analytics"


def synthetic_orders(orders: int, customers: int, now: pd.Timestamp) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    activity = rng.pareto(1.5, customers) + 1
    buyers = rng.choice(customers, orders, p=activity / activity.sum())
    return pd.DataFrame(
        {
            "buyer_id": buyers,
            "created_at": now - pd.to_timedelta(rng.uniform(0, 365, orders), unit="D"),
            "total": np.round(rng.lognormal(3.5, 0.8, orders) * 100).astype(np.int64),
        }
    )


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=THREADS, help="k-means' threads when timed alone; 0: unbounded")
    parser.add_argument("--unbounded", action="store_true", help="also cluster with unbounded thread pools")
    args = parser.parse_args(argv)
    threads = args.threads or None
    now = pd.Timestamp("2026-11-22", tz="UTC")
    orders = synthetic_orders(args.orders, args.customers, now)

    started = time.perf_counter()
    table = rfm(orders, now)
    rfm_seconds = time.perf_counter() - started
    started = time.perf_counter()
    found = cluster(table, threads=threads)
    cluster_seconds = time.perf_counter() - started
    print(f"{args.orders:,} orders, {len(table):,} customers")
    print(f"  RFM scores and segments   {rfm_seconds:6.2f} s   {table['segment'].value_counts().to_dict()}")
    print(f"  clusters (k = {found.k} by silhouette, threads {threads or 'unbounded'}) {cluster_seconds:6.2f} s   "
          f"{ {k: round(v, 3) for k, v in found.silhouettes.items()} }")  # fmt: skip
    for label, words in found.descriptions.items():
        print(f"    cluster {label}: {int((found.labels == label).sum()):>6,} customers, {words}")
    figures = [
        Figure(NAME, "RFM + clusters", rfm_seconds + cluster_seconds, "s", 5.0),
        Figure(NAME, "RFM", rfm_seconds, "s"),
        Figure(NAME, "clusters", cluster_seconds, "s"),
    ]
    if args.unbounded:
        started = time.perf_counter()
        cluster(table, threads=None)
        unbounded = time.perf_counter() - started
        print(f"  clusters with unbounded thread pools {unbounded:6.2f} s ({unbounded / cluster_seconds:.1f}x)")
        figures.append(Figure(NAME, "clusters unbounded / bounded", unbounded / cluster_seconds, "ratio"))

    started = time.perf_counter()
    value = expected_value(orders, now)
    clv_seconds = time.perf_counter() - started
    fitted = "not fitted" if value is None else f"mean {value.mean() / 100:,.2f} a customer over 52 weeks"
    print(f"  lifetime value (BG/NBD and Gamma-Gamma fit, prediction) {clv_seconds:6.2f} s   {fitted}")
    started = time.perf_counter()
    computed = compute(orders, now)
    run_seconds = time.perf_counter() - started
    print(f"  a whole segment run as the worker computes it (before storing) {run_seconds:6.2f} s   "
          f"{ {k: v for k, v in computed.summary.items() if k.endswith('_seconds')} }")  # fmt: skip
    figures += [
        Figure(NAME, "lifetime value fit", clv_seconds, "s"),
        Figure(NAME, "whole segment run", run_seconds, "s", 15.0),
    ]
    return print_figures(figures)


if __name__ == "__main__":
    main()

"""RFM scores and segments against hand-worked cases, and clusters that find groups known in advance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import silhouette_score

from analytics.clusters import cluster, describe, silhouettes
from analytics.cohorts import churn_rate, retention
from analytics.rfm import SEGMENTS, quintile, rfm, segment


def test_every_r_and_fm_pair_has_exactly_one_of_the_ten_segments() -> None:
    named = {segment(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert named == set(SEGMENTS) and len(SEGMENTS) == 10
    assert (segment(5, 5), segment(1, 5), segment(5, 1), segment(1, 1), segment(3, 2)) == (
        "Champions", "Can't Lose Them", "New", "Lost", "Need Attention",
    )  # fmt: skip


def test_quintiles_split_ten_customers_two_by_two() -> None:
    scores = quintile(pd.Series([5, 1, 9, 3, 7, 2, 8, 4, 10, 6]))
    assert scores.value_counts().to_dict() == {1: 2, 2: 2, 3: 2, 4: 2, 5: 2}
    assert scores.iloc[8] == 5 and scores.iloc[1] == 1
    assert quintile(pd.Series([1.0, 50.0]), higher_is_better=False).tolist() == [5, 3]


def test_rfm_scores_and_names_customers() -> None:
    now = pd.Timestamp("2026-06-01", tz="UTC")
    rows = []
    for buyer, (days_ago, orders, each) in enumerate([(1, 9, 100), (200, 1, 5), (2, 1, 10), (150, 8, 90), (60, 3, 30)]):
        rows += [(buyer, now - pd.Timedelta(days=days_ago + n), each) for n in range(orders)]
    table = rfm(pd.DataFrame(rows, columns=["buyer_id", "created_at", "total"]), now)
    assert table.loc[0, ["R", "F", "M"]].tolist() == [5, 5, 5] and table.loc[0, "segment"] == "Champions"
    assert table.loc[1, ["R", "F", "M"]].tolist() == [1, 1, 1] and table.loc[1, "segment"] == "Lost"
    assert table.loc[2, "segment"] == "Potential Loyalist"  # recent (R 4), one small order (F 2, M 2)
    assert table.loc[3, "segment"] == "At Risk"  # bought much and often, long ago
    assert table.loc[0, "recency_days"] == 1 and table.loc[3, "monetary"] == 8 * 90


def test_clusters_find_the_groups_in_the_data_and_say_what_they_are() -> None:
    rng = np.random.default_rng(0)
    groups = [(5, 12, 80), (60, 3, 40), (300, 1, 15)]  # recency days, orders, value per order
    rows = [(d * rng.uniform(0.8, 1.2), max(1, round(f * rng.uniform(0.8, 1.2))), v * rng.uniform(0.8, 1.2))
            for d, f, v in groups for _ in range(300)]  # fmt: skip
    table = pd.DataFrame(rows, columns=["recency_days", "frequency", "average"])
    table["monetary"] = table["frequency"] * table["average"]
    found = cluster(table, ks=range(2, 7))
    assert found.k == 3
    assert len(set(found.labels[:300])) == 1 and len(set(found.labels)) == 3
    loyal = found.descriptions[found.labels[0]]
    assert "recent" in loyal and "frequent" in loyal and "big spenders" in loyal
    assert describe(pd.Series({"recency_days": 0.1, "frequency": -0.2})) == "average on every count"


def test_silhouettes_of_several_labellings_are_scikit_learns() -> None:
    rng = np.random.default_rng(3)
    points = rng.normal(size=(1_200, 4))
    labellings = {k: rng.integers(0, k, len(points)) for k in (2, 3, 5)}
    labellings[4] = np.where(labellings[3] == 1, 2, labellings[3])  # label 1 unused
    labellings[4][0] = 3  # a cluster of one
    found = silhouettes(points, labellings, chunk=500)
    for k, labels in labellings.items():
        assert found[k] == pytest.approx(silhouette_score(points, labels), abs=1e-12)


def test_cohorts_and_churn_on_hand_worked_orders() -> None:
    at = pd.to_datetime
    orders = pd.DataFrame(
        {
            "buyer_id": [1, 1, 1, 2, 2, 3, 4],
            "created_at": at(
                ["2026-01-05", "2026-02-10", "2026-03-01", "2026-01-20", "2026-03-15", "2026-02-02", "2026-02-25"],
                utc=True,
            ),
        }
    )
    table = retention(orders)
    january, february = pd.Period("2026-01", "M"), pd.Period("2026-02", "M")
    assert table.loc[january].tolist() == [1.0, 0.5, 1.0]  # buyers 1 and 2; month 1: only 1; month 2: both
    assert table.loc[february, 0] == 1.0 and table.loc[february, 1] == 0.0  # buyers 3 and 4 never came back
    assert pd.isna(table.loc[february, 2])  # April is not in the data: not known yet
    # Active at 1 March (an order in the 90 days before): all four; ordered in March: 1 and 2.
    assert churn_rate(orders, at("2026-03-01", utc=True), at("2026-04-01", utc=True)) == 0.5

"""Uplift of a campaign against its random holdout, with confidence intervals.

- Conversion (a share): the difference of two proportions with Newcombe's hybrid score interval (method 10
  in Newcombe 1998), built from the two Wilson intervals. It stays inside [-1, 1] and keeps its coverage
  with small counts and rates near 0, where the plain Wald interval does not.
- Revenue per member (a mean of many zeros and a long tail): the difference of means with Welch's t
  interval (unequal variances, Welch-Satterthwaite degrees of freedom).
- Sample ratio mismatch (SRM): a chi-square test of the arms' sizes against the split asked for. A mismatch
  (p < 0.001) means the assignment was not what it claims, and the uplifts cannot be trusted."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

SRM_ALPHA = 0.001  # the usual SRM threshold: strict, since the split itself is never in doubt when it works


@dataclass(frozen=True)
class Estimate:
    treatment: float
    holdout: float
    difference: float
    low: float
    high: float

    @property
    def relative(self) -> float | None:
        return self.difference / self.holdout if self.holdout else None


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def proportions(treated: int, treated_n: int, held: int, held_n: int, confidence: float = 0.95) -> Estimate:
    """Treatment rate less holdout rate, with Newcombe's interval."""
    p1 = treated / treated_n if treated_n else 0.0
    p2 = held / held_n if held_n else 0.0
    l1, u1 = wilson(treated, treated_n, confidence)
    l2, u2 = wilson(held, held_n, confidence)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Estimate(p1, p2, difference, low, high)


def means(treated: np.ndarray, held: np.ndarray, confidence: float = 0.95) -> Estimate:
    """Treatment mean less holdout mean, with Welch's interval (NaN bounds with fewer than two in an arm)."""
    a, b = np.asarray(treated, dtype=float), np.asarray(held, dtype=float)
    m1 = float(a.mean()) if len(a) else 0.0
    m2 = float(b.mean()) if len(b) else 0.0
    difference = m1 - m2
    if len(a) < 2 or len(b) < 2:
        return Estimate(m1, m2, difference, math.nan, math.nan)
    v1, v2 = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(v1 + v2)
    if se == 0:
        return Estimate(m1, m2, difference, difference, difference)
    df = (v1 + v2) ** 2 / (v1**2 / (len(a) - 1) + v2**2 / (len(b) - 1))
    from scipy import stats  # here, not at import: web workers load this module and rarely need it

    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    return Estimate(m1, m2, difference, difference - half, difference + half)


def split(buyer_ids: list[int], holdout_share: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Randomly hold out `holdout_share` of the members (at least one when there are two or more); the rest
    get the offer. Returns (treatment, holdout)."""
    order = rng.permutation(len(buyer_ids))
    held = round(len(buyer_ids) * holdout_share)
    if len(buyer_ids) >= 2:
        held = min(max(held, 1), len(buyer_ids) - 1)
    chosen = [buyer_ids[i] for i in order]
    return sorted(chosen[held:]), sorted(chosen[:held])


def sample_ratio(treated: int, held: int, holdout_share: float) -> tuple[float, float]:
    """Chi-square statistic and p-value of the arms' sizes against `holdout_share` held out (1 degree of
    freedom); (0, 1) with nobody in either arm."""
    n = treated + held
    if n == 0:
        return 0.0, 1.0
    from scipy import stats  # here, not at import, as in `means`

    result = stats.chisquare([treated, held], [n * (1 - holdout_share), n * holdout_share])
    return float(result.statistic), float(result.pvalue)

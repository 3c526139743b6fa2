"""Customer lifetime value: the BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005, "Counting your
customers the easy way") and the Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and
CLV"; Fader & Hardie 2013), fitted by maximum likelihood with scipy.

Inputs per customer, in one time unit (weeks in the papers): `frequency` x = repeat purchases, `recency`
t_x = time of the last purchase since the first, `T` = time since the first purchase, and for spend the mean
value of the repeat purchases. Checked against the papers' CDNOW estimates, and the BG/NBD's forecast against
CDNOW's holdout weeks (holdout_split, holdout_check; tests/test_clv.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1


def _fit(negative_log_likelihood: Callable[[np.ndarray], float], parameters: int) -> np.ndarray:
    """Minimise over log-parameters (all are positive), L-BFGS-B with numerical gradients. When its line search
    gives up at tight tolerances (it does near the optimum when a parameter heads for a bound, e.g. a ~ 0
    when hardly anyone drops out), Nelder-Mead finishes from where it stopped."""
    objective = lambda logs: negative_log_likelihood(np.exp(logs))  # noqa: E731
    result = minimize(
        objective, np.zeros(parameters), method="L-BFGS-B", options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 10_000}
    )
    if not result.success and np.isfinite(result.fun):
        result = minimize(objective, result.x, method="Nelder-Mead", options={"maxiter": 20_000, "xatol": 1e-8})
    if not result.success:
        raise RuntimeError(f"the fit did not converge: {result.message}")
    return np.exp(result.x)


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float

    @staticmethod
    def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Each customer's log-likelihood."""
        xs, inverse = np.unique(x, return_inverse=True)
        return BGNBD._by_frequency(params, xs)[inverse] + BGNBD._by_history(params, x, t_x, T)

    @staticmethod
    def _by_frequency(params: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """The terms that depend on the frequency alone, for each distinct frequency: the costly special
        functions run over a few hundred values instead of every customer."""
        r, alpha, a, b = params
        return gammaln(r + xs) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xs) - betaln(a, b)

    @staticmethod
    def _by_history(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore"):
            a4 = np.where(
                x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf
            )
        return np.logaddexp(a3, a4)

    @classmethod
    def fit(cls, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> BGNBD:
        x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        xs, counts = np.unique(x, return_counts=True)
        return cls(*_fit(lambda p: -(counts @ cls._by_frequency(p, xs) + cls._by_history(p, x, t_x, T).sum()), 4))

    def expected_purchases(self, t: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Expected repeat purchases in the next `t` time units for customers with this history (eq. 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        z = t / (alpha + T + t)
        head = (
            (a + b + x - 1)
            / (a - 1)
            * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
        )
        alive_odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
        return head / (1 + alive_odds)

    def expected_repeat(self, t: np.ndarray) -> np.ndarray:
        """Expected repeat purchases of a customer in their first `t` time units, knowing nothing else (eq. 9)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t = np.asarray(t, dtype=float)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))

    def probability_alive(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> np.ndarray:
        """The chance each customer has not dropped out yet (eq. 11)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
        return 1 / (1 + odds)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float

    @staticmethod
    def log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Each customer's log-likelihood (customers with at least one repeat purchase)."""
        xs, inverse = np.unique(x, return_inverse=True)
        return GammaGamma._by_frequency(params, xs)[inverse] + GammaGamma._by_spend(params, x, m, np.log(m))

    @staticmethod
    def _by_frequency(params: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """The gamma functions, for each distinct frequency (a few hundred, not every customer)."""
        p, q, gamma = params
        return gammaln(p * xs + q) - gammaln(p * xs) - gammaln(q) + q * np.log(gamma) + p * xs * np.log(xs)

    @staticmethod
    def _by_spend(params: np.ndarray, x: np.ndarray, m: np.ndarray, log_m: np.ndarray) -> np.ndarray:
        p, q, gamma = params
        return (p * x - 1) * log_m - (p * x + q) * np.log(x * m + gamma)

    @classmethod
    def fit(cls, frequency: np.ndarray, monetary_value: np.ndarray) -> GammaGamma:
        """Fitted on customers with at least one repeat purchase (mean spend `monetary_value` over them)."""
        x, m = np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
        keep = x > 0
        x, m = x[keep], m[keep]
        xs, counts = np.unique(x, return_counts=True)
        log_m = np.log(m)
        return cls(*_fit(lambda p: -(counts @ cls._by_frequency(p, xs) + cls._by_spend(p, x, m, log_m).sum()), 3))

    def expected_spend(self, frequency: np.ndarray, monetary_value: np.ndarray) -> np.ndarray:
        """Expected value of a customer's next purchase given their history (the population mean for x = 0)."""
        x, m = np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
        population = self.p * self.gamma / (self.q - 1)
        weight = self.p * x / (self.p * x + self.q - 1)
        return (1 - weight) * population + weight * m


def summary(purchases: pd.DataFrame, now: pd.Timestamp, customer: str = "buyer_id", at: str = "created_at",
            amount: str = "total") -> pd.DataFrame:  # fmt: skip
    """The models' inputs per customer from a purchase log, in weeks: `frequency` (repeat purchases, counted
    as days with a purchase after the first, as in the papers), `recency`, `T` and `monetary_value` (the mean
    spend on the repeat days)."""
    days = purchases.assign(day=purchases[at].dt.floor("D")).groupby([customer, "day"], as_index=False)[amount].sum()
    grouped = days.groupby(customer)
    first, last = grouped["day"].min(), grouped["day"].max()
    first_spend = days.sort_values("day").groupby(customer)[amount].first()
    repeats = grouped.size() - 1
    week = pd.Timedelta(weeks=1)
    return pd.DataFrame(
        {
            "frequency": repeats,
            "recency": (last - first) / week,
            "T": (now.floor("D") - first) / week,
            "monetary_value": ((grouped[amount].sum() - first_spend) / repeats.where(repeats > 0)).fillna(0.0),
        }
    )


def holdout_split(
    purchases: pd.DataFrame,
    calibration_end: pd.Timestamp,
    holdout_end: pd.Timestamp,
    customer: str = "buyer_id",
    at: str = "created_at",
    amount: str = "total",
) -> tuple[pd.DataFrame, float]:
    """For checking a forecast: the models' inputs from the purchases up to the day `calibration_end` (as
    `summary` gives them on that day) and each customer's purchase days after it, to the day `holdout_end`
    (`holdout_frequency`: all repeat purchases, since the first one was before), with the holdout's length
    in weeks. Customers whose first purchase came after `calibration_end` are not in it."""
    day = purchases[at].dt.floor("D")
    end, last = calibration_end.floor("D"), holdout_end.floor("D")
    table = summary(purchases[day <= end], end, customer, at, amount)
    later = pd.DataFrame({"customer": purchases[customer], "day": day})[(day > end) & (day <= last)]
    days = later.drop_duplicates().groupby("customer").size()
    table["holdout_frequency"] = days.reindex(table.index, fill_value=0)
    return table, (last - end) / pd.Timedelta(weeks=1)


def holdout_check(model: BGNBD, table: pd.DataFrame, weeks: float, censor: int = 7) -> pd.DataFrame:
    """Per calibration frequency (`censor` standing for it and above, as in the paper's figure): customers,
    and their repeat purchases in the holdout, actual and expected by the model given each one's history."""
    expected = model.expected_purchases(weeks, table["frequency"], table["recency"], table["T"])
    frame = pd.DataFrame(
        {
            "frequency": table["frequency"].clip(upper=censor).astype(int),
            "actual": table["holdout_frequency"],
            "expected": expected,
        }
    )
    return frame.groupby("frequency").agg(customers=("actual", "size"), actual=("actual", "sum"),
                                          expected=("expected", "sum"))  # fmt: skip


def expected_value(purchases: pd.DataFrame, now: pd.Timestamp, weeks: float = 52, **columns: str) -> pd.Series | None:
    """Each customer's expected spend over the next `weeks` (BG/NBD purchases times Gamma-Gamma spend, not
    discounted), or None when the models cannot be fitted (too few repeat customers, or no convergence)."""
    table = summary(purchases, now, **columns)
    if (table["frequency"] > 0).sum() < 20:
        return None
    try:
        purchases_model = BGNBD.fit(table["frequency"], table["recency"], table["T"])
        spend_model = GammaGamma.fit(table["frequency"], table["monetary_value"])
    except (RuntimeError, FloatingPointError, ValueError):
        return None
    if spend_model.q <= 1:  # the population's mean spend is undefined
        return None
    expected = purchases_model.expected_purchases(weeks, table["frequency"], table["recency"], table["T"])
    spend = spend_model.expected_spend(table["frequency"], table["monetary_value"])
    return pd.Series(np.nan_to_num(expected * spend), index=table.index)

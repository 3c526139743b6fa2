"""The CDNOW sample of Fader, Hardie & Lee (2005) for checking the lifetime-value models: read from the copy
the `lifetimes` package ships inside its wheel on PyPI (the package itself is never installed or imported)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from marketplace.core.wheels import wheel_file

LIFETIMES = "lifetimes==0.11.3"
SUMMARY = "lifetimes/datasets/cdnow_customers_summary_with_transactions.csv"


def cdnow_summary(cache_dir: Path = Path(".data/datasets")) -> pd.DataFrame:
    """2,357 customers, 39 weeks of calibration: frequency (repeat purchases), recency and T in weeks, and
    monetary_value (mean value of the repeat purchases, 0 for customers with none)."""
    frame = pd.read_csv(io.BytesIO(wheel_file(LIFETIMES, SUMMARY, cache_dir)))
    return frame.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})

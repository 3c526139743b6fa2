"""The CDNOW sample of Fader, Hardie & Lee (2005) for checking the lifetime-value models: read from the copy
the `lifetimes` package ships inside its wheel on PyPI (the package itself is never installed or imported)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from marketplace.core.wheels import wheel_file

LIFETIMES = "lifetimes==0.11.3"
SUMMARY = "lifetimes/datasets/cdnow_customers_summary_with_transactions.csv"
LOG = "lifetimes/datasets/CDNOW_sample.txt"
CACHE = Path(".data/datasets")
# The papers' split: weeks 1-39 (1997) to fit, weeks 40-78 (to the end of June 1998) to check the forecast.
END_OF_CALIBRATION = pd.Timestamp("1997-09-30")
END_OF_HOLDOUT = pd.Timestamp("1998-06-30")


def cdnow_summary(cache_dir: Path = CACHE) -> pd.DataFrame:
    """2,357 customers, 39 weeks of calibration: frequency (repeat purchases), recency and T in weeks, and
    monetary_value (mean value of the repeat purchases, 0 for customers with none)."""
    frame = pd.read_csv(io.BytesIO(wheel_file(LIFETIMES, SUMMARY, cache_dir)))
    return frame.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


def cdnow_transactions(cache_dir: Path = CACHE) -> pd.DataFrame:
    """The sample's 6,919 purchase records, January 1997 to June 1998: customer (1 to 2,357), day, cds and
    value (dollars). A customer may have several records on one day."""
    columns = ["master_id", "customer", "day", "cds", "value"]
    text = io.BytesIO(wheel_file(LIFETIMES, LOG, cache_dir))
    frame = pd.read_csv(text, sep=r"\s+", header=None, names=columns, dtype={"day": str})
    return frame.assign(day=pd.to_datetime(frame["day"], format="%Y%m%d")).drop(columns="master_id")

"""The CDNOW sample of Fader, Hardie & Lee (2005) for checking the lifetime-value models: read from the copy
the `lifetimes` package ships inside its wheel on PyPI (downloaded once into the cache dir; the package itself
is never installed or imported)."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd

LIFETIMES = "lifetimes==0.11.3"
SUMMARY = "lifetimes/datasets/cdnow_customers_summary_with_transactions.csv"


def cdnow_summary(cache_dir: Path = Path(".data/datasets")) -> pd.DataFrame:
    """2,357 customers, 39 weeks of calibration: frequency (repeat purchases), recency and T in weeks, and
    monetary_value (mean value of the repeat purchases, 0 for customers with none)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("[Ll]ifetimes-*.whl"))
    if not wheels:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(cache_dir), LIFETIMES]
        subprocess.run(pip, check=True)
        wheels = sorted(cache_dir.glob("[Ll]ifetimes-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        frame = pd.read_csv(io.BytesIO(wheel.read(SUMMARY)))
    return frame.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})

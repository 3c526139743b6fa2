"""The `recommender` command (also `marketplace recommender`): evaluate the models on the marketplace's own
interactions and print a comparison table."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import click
import pandas as pd

from marketplace.servers import servers_for
from marketplace.settings import Settings, load_settings
from recommender.data import from_frame, load_frame
from recommender.datasets import movielens_100k
from recommender.evaluate import evaluate, split_last, split_random
from recommender.models import EASE, ItemKNN, Popularity, PureSVD
from recommender.training import Trained, train
from recommender.worker import Worker


@click.group()
@click.pass_context
def recommender(ctx: click.Context) -> None:
    """Recommendations: offline evaluation of the models on this marketplace's interactions."""
    if not isinstance(ctx.obj, Settings):
        ctx.obj = load_settings()


@recommender.command(name="evaluate")
@click.option("--dataset", type=click.Choice(["marketplace", "ml-100k"]), default="marketplace", show_default=True,
              help="this marketplace's interactions, or MovieLens 100K (ratings of 4 and 5 as positives)")  # fmt: skip
@click.option("--split", type=click.Choice(["random", "last"]), default="random", show_default=True,
              help="random: a share of each buyer's items held out; last: each buyer's latest item")  # fmt: skip
@click.option("--k", default=10, show_default=True, help="list length the metrics look at")
@click.option("--half-life", default=60.0, show_default=True, help="days for an interaction's weight to halve")
@click.option("--l2", default=200.0, show_default=True, help="EASE's regularisation")
@click.option("--neighbours", default=100, show_default=True, help="item-kNN's neighbours per item")
@click.option("--factors", default=64, show_default=True, help="PureSVD's factors")
@click.pass_obj
def evaluate_command(
    settings: Settings, dataset: str, split: str, k: int, half_life: float, l2: float, neighbours: int, factors: int
) -> None:
    """Fit every model on part of the interactions and rank the rest: precision, recall, NDCG, MAP, hit
    rate and coverage at K, and fit time."""
    if dataset == "ml-100k":
        ratings = movielens_100k(Path(settings.data_dir) / "datasets")
        frame = ratings[ratings["rating"] >= 4]
        data = from_frame(frame)
    else:
        with servers_for(settings, need_redis=False, attach=True) as ready:
            frame = asyncio.run(_frame(ready.database_url))
        if frame.empty:
            raise click.ClickException("no interactions yet: seed the demo (marketplace seed) or browse a little")
        data = from_frame(frame, kind="kind", half_life_days=half_life)
    train, test = split_random(data.matrix) if split == "random" else split_last(frame, data)
    models = {"popularity": Popularity(), "itemknn": ItemKNN(neighbours=neighbours), "ease": EASE(l2=l2),
              "puresvd": PureSVD(factors=factors)}  # fmt: skip
    click.echo(f"{data.matrix.shape[0]:,} buyers x {data.matrix.shape[1]:,} products, {data.matrix.nnz:,} pairs; "
               f"{split} split, {test.nnz:,} held out")  # fmt: skip
    with pd.option_context("display.width", 160):
        click.echo(evaluate(models, train, test, k=k).round(4).to_string())


@recommender.command(name="train")
@click.pass_obj
def train_command(settings: Settings) -> None:
    """Choose the best model on a validation split, fit it on all interactions, save it under the data dir
    with its metrics, and store every active buyer's list, similar products and trending ones in Redis."""
    with servers_for(settings, attach=True) as ready:
        trained = asyncio.run(_train(ready))
    click.echo(f"{trained.model} (validation NDCG@10 {trained.ndcg_at_10:.4f}) on {trained.interactions:,} "
               f"interactions in {trained.seconds:.1f}s; lists for {trained.buyers:,} active buyers; "
               f"saved to {trained.path}")  # fmt: skip


async def _train(settings: Settings) -> Trained:
    from marketplace.core.db import create_pool
    from marketplace.core.redis_pool import redis_client

    db = await create_pool(settings.database_url, 1, 2)
    redis = redis_client(settings.redis_url, decode_responses=True)
    try:
        return await train(db, redis, settings.data_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        await redis.aclose()
        await db.close()


@recommender.command(name="worker")
@click.pass_obj
def worker_command(settings: Settings) -> None:
    """Serve recommendations live: retrain on a schedule, re-rank buyers as they browse and push their new
    lists over the feed. `marketplace serve --demo` starts one."""
    with servers_for(settings, attach=True) as ready:
        asyncio.run(_work(ready))


async def _work(settings: Settings) -> None:
    from marketplace.core.db import create_pool
    from marketplace.core.redis_pool import redis_client

    db = await create_pool(settings.database_url, 1, 4)
    redis = redis_client(settings.redis_url, decode_responses=True)
    try:
        await Worker(db, redis, settings.data_dir, settings.recommender_retrain_minutes,
                     settings.recommender_poll_seconds).run()  # fmt: skip
    finally:
        await redis.aclose()
        await db.close()


async def _frame(database_url: str) -> pd.DataFrame:
    conn = await asyncpg.connect(database_url)
    try:
        return await load_frame(conn)
    finally:
        await conn.close()


main = recommender

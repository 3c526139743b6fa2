"""The `recommender` command (also `marketplace recommender`): evaluate the models on the marketplace's own
interactions and print a comparison table."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import asyncpg
import click
import pandas as pd
from scipy import sparse

from marketplace.servers import servers_for
from marketplace.settings import Settings, load_settings
from recommender import protocol
from recommender.data import from_frame, load_frame
from recommender.datasets import movielens_100k
from recommender.evaluate import evaluate, split_last, split_random
from recommender.models import EASE, IALS, ItemKNN, Popularity, PureSVD, Recommender
from recommender.training import Trained, candidates, choose_matrix, train
from recommender.worker import Worker


@click.group()
@click.pass_context
def recommender(ctx: click.Context) -> None:
    """Recommendations: offline evaluation of the models on this marketplace's interactions."""
    if not isinstance(ctx.obj, Settings):
        ctx.obj = load_settings()


@recommender.command(name="evaluate")
@click.option("--dataset", type=click.Choice(["marketplace", "ml-100k"]), default="marketplace", show_default=True,
              help="this marketplace's interactions, or MovieLens 100K")  # fmt: skip
@click.option("--protocol", "protocol_name", type=click.Choice(["published", "legacy"]), default="published",
              show_default=True,
              help="ml-100k only. published: Microsoft Recommenders' benchmark (every rating a positive, 75/25 "
                   "stratified per user and per item, several seeds); legacy: ratings of 4 and 5, --split")  # fmt: skip
@click.option("--seeds", default=10, show_default=True, help="published: split seeds, counting from 42")
@click.option("--grid", is_flag=True, help="published: also score every candidate the model choice tries")
@click.option("--split", type=click.Choice(["random", "last"]), default="random", show_default=True,
              help="random: a share of each buyer's items held out; last: each buyer's latest item")  # fmt: skip
@click.option("--k", default=10, show_default=True, help="list length the metrics look at (published: always 10)")
@click.option("--half-life", default=60.0, show_default=True, help="days for an interaction's weight to halve")
@click.option("--l2", default=200.0, show_default=True, help="EASE's regularisation")
@click.option("--neighbours", default=100, show_default=True, help="item-kNN's neighbours per item")
@click.option("--factors", default=64, show_default=True, help="PureSVD's factors")
@click.pass_obj
def evaluate_command(settings: Settings, dataset: str, protocol_name: str, seeds: int, grid: bool, split: str,
                     k: int, half_life: float, l2: float, neighbours: int, factors: int) -> None:  # fmt: skip
    """Fit every model on part of the interactions and rank the rest: precision, recall, NDCG, MAP, hit
    rate and coverage at K, and fit time. On ml-100k, by default, the published protocol's table instead."""
    models = {"popularity": Popularity(), "itemknn": ItemKNN(neighbours=neighbours), "ease": EASE(l2=l2),
              "puresvd": PureSVD(factors=factors)}  # fmt: skip
    if dataset == "ml-100k" and protocol_name == "published":
        _published(settings, models, seeds, grid)
        return
    rated = None
    if dataset == "ml-100k":  # legacy: ratings of 4 and 5 are the positives, and no rated film is recommended
        ratings = movielens_100k(Path(settings.data_dir) / "datasets")
        frame = ratings[ratings["rating"] >= 4]
        data = from_frame(ratings.assign(liked=(ratings["rating"] >= 4).astype(float)), rating="liked")
        rated = from_frame(ratings).matrix
    else:
        with servers_for(settings, need_redis=False, attach=True) as ready:
            frame = asyncio.run(_frame(ready.database_url))
        if frame.empty:
            raise click.ClickException("no interactions yet: seed the demo (marketplace seed) or browse a little")
        data = from_frame(frame, kind="kind", half_life_days=half_life)
    train, test = split_random(data.matrix) if split == "random" else split_last(frame, data)
    # What a user rated but did not hold out is never recommended: films rated 1-3 included, not only the positives.
    exclude = None if rated is None else rated - rated.multiply(test != 0)
    click.echo(f"{data.matrix.shape[0]:,} buyers x {data.matrix.shape[1]:,} products, {data.matrix.nnz:,} pairs; "
               f"{split} split, {test.nnz:,} held out")  # fmt: skip
    with pd.option_context("display.width", 160):
        click.echo(evaluate(models, train, test, k=k, exclude=exclude).round(4).to_string())


def _published(settings: Settings, models: dict[str, Recommender], seeds: int, grid: bool) -> None:
    """MovieLens 100K under Microsoft Recommenders' protocol (recommender/protocol.py): mean ± sd over the
    seeds of each split, the shipped model choice among them, and their published figures beside."""
    frame = protocol.ratings_as_implicit(movielens_100k(Path(settings.data_dir) / "datasets"))
    names = {"puresvd": f"puresvd f={models['puresvd'].factors}", "ease": f"ease l2={models['ease'].l2:g}",
             "itemknn": f"itemknn k={models['itemknn'].neighbours}"}  # fmt: skip
    scored: dict[str, protocol.Candidate] = {names.get(n, n): m for n, m in models.items()}
    scored["ials reg=20 alpha=2"] = IALS()
    if grid:
        scored |= candidates(frame["item_id"].nunique())
    chosen: list[str] = []

    def shipped(matrix: sparse.csr_matrix) -> Recommender:
        """The shipped model: the whole choice (validation carved from the training part only), then its pick."""
        name, model, _ = choose_matrix(matrix)
        chosen.append(name)
        return model

    scored["shipped: training.choose"] = shipped
    click.echo(f"{frame['user_id'].nunique():,} users x {frame['item_id'].nunique():,} films, {len(frame):,} "
               f"ratings as positives; 75/25 stratified splits, seeds {protocol.seeds(seeds)[0]}.."
               f"{protocol.seeds(seeds)[-1]}; k = 10")  # fmt: skip
    results = protocol.run(frame, scored, protocol.seeds(seeds), progress=True)
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        click.echo(protocol.summary(results).to_string())
        click.echo("\nThe shipped choice picked: " + ", ".join(f"{n} ({c}x)" for n, c in Counter(chosen).most_common()))
        click.echo("\nPublished (Microsoft Recommenders' README, per-item split, seed 42):")
        click.echo(protocol.PUBLISHED_ML_100K.round(4).to_string())


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
                     settings.recommender_poll_seconds, settings.recommender_threads).run()  # fmt: skip
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

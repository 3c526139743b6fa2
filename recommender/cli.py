"""The `recommender` command (also `marketplace recommender`): evaluate the models on the marketplace's own
interactions and print a comparison table."""

from __future__ import annotations

import asyncio

import asyncpg
import click
import pandas as pd

from marketplace.settings import Settings, load_settings
from recommender.data import from_frame, load_frame
from recommender.evaluate import evaluate, split_last, split_random
from recommender.models import EASE, ItemKNN, Popularity, PureSVD


@click.group()
@click.pass_context
def recommender(ctx: click.Context) -> None:
    """Recommendations: offline evaluation of the models on this marketplace's interactions."""
    if not isinstance(ctx.obj, Settings):
        ctx.obj = load_settings()


@recommender.command(name="evaluate")
@click.option("--split", type=click.Choice(["random", "last"]), default="random", show_default=True,
              help="random: a share of each buyer's items held out; last: each buyer's latest item")  # fmt: skip
@click.option("--k", default=10, show_default=True, help="list length the metrics look at")
@click.option("--half-life", default=60.0, show_default=True, help="days for an interaction's weight to halve")
@click.option("--l2", default=200.0, show_default=True, help="EASE's regularisation")
@click.option("--neighbours", default=100, show_default=True, help="item-kNN's neighbours per item")
@click.option("--factors", default=64, show_default=True, help="PureSVD's factors")
@click.pass_obj
def evaluate_command(
    settings: Settings, split: str, k: int, half_life: float, l2: float, neighbours: int, factors: int
) -> None:
    """Fit every model on part of the interactions and rank the rest: precision, recall, NDCG, MAP, hit
    rate and coverage at K, and fit time."""
    from marketplace.cli import _servers

    with _servers(settings, need_redis=False) as ready:
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


async def _frame(database_url: str) -> pd.DataFrame:
    conn = await asyncpg.connect(database_url)
    try:
        return await load_frame(conn)
    finally:
        await conn.close()


main = recommender

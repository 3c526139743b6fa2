"""The `analytics` command (also `marketplace analytics`): compute customer segments now, or run the worker
that computes them on a schedule and when marketers ask."""

from __future__ import annotations

import asyncio

import click

from analytics import queries, segments
from analytics.worker import Worker
from marketplace.core.money import DEFAULT_CURRENCY, amount_text
from marketplace.servers import servers_for
from marketplace.settings import Settings, load_settings


@click.group()
@click.pass_context
def analytics(ctx: click.Context) -> None:
    """Customer analytics: RFM segments, clusters and lifetime value."""
    if not isinstance(ctx.obj, Settings):
        ctx.obj = load_settings()


@analytics.command(name="segments")
@click.pass_obj
def segments_command(settings: Settings) -> None:
    """Compute the segments now (as the worker would) and print their sizes and value."""
    with servers_for(settings, need_redis=False, attach=True) as ready:
        listed, skipped = asyncio.run(_compute(ready.database_url))
    if not listed:
        raise click.ClickException("the run failed; see the log")
    if skipped:
        click.echo(f"no clusters: {skipped}")
    spent, clv_title = f"spent, {DEFAULT_CURRENCY}", f"next 52 weeks, {DEFAULT_CURRENCY}"
    click.echo(f"{'kind':<8} {'segment':<46} {'members':>8} {spent:>14} {clv_title:>22}")
    for s in listed:
        clv = "" if s.clv is None else amount_text(s.clv, DEFAULT_CURRENCY, grouped=True)
        monetary = amount_text(s.monetary, DEFAULT_CURRENCY, grouped=True)
        click.echo(f"{s.kind:<8} {s.name[:46]:<46} {s.members:>8,} {monetary:>14} {clv:>22}")


async def _compute(database_url: str) -> tuple[list[segments.SegmentOut], str | None]:
    """The run's segments (none when it failed), and why it has no clusters when it has none."""
    from marketplace.core.db import create_pool

    db = await create_pool(database_url, 1, 2)
    try:
        run = await segments.request(db, None)
        claimed = await db.fetchval(queries.CLAIM_QUEUED, run.id)
        if claimed is None:
            raise click.ClickException(f"a worker is computing run {run.id}; see GET /marketing/segment-runs")
        await segments.execute(db, run.id)
        done = await segments.run(db, run.id)
        if done.status != "done":
            return [], None
        return await segments.listing(db, None), done.summary.get("clusters_skipped")
    finally:
        await db.close()


@analytics.command(name="worker")
@click.pass_obj
def worker_command(settings: Settings) -> None:
    """Compute segments every SEGMENTS_EVERY_HOURS and whenever a marketer asks. `marketplace serve --demo`
    starts one."""
    with servers_for(settings, need_redis=False, attach=True) as ready:
        asyncio.run(_work(ready))


async def _work(settings: Settings) -> None:
    from marketplace.core.db import create_pool

    db = await create_pool(settings.database_url, 1, 2)
    try:
        await Worker(db, settings.segments_every_hours).run()
    finally:
        await db.close()


main = analytics

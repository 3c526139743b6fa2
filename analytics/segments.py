"""Customer segments as stored objects.

A run reads every purchase (queries.PURCHASES), scores customers by RFM (the ten named segments), clusters
them by behaviour (k-means, k by silhouette, each cluster named from its centre; when they cannot be
clustered, the run's summary says why in `clusters_skipped` and keeps the rest) and values them (expected
spend over the next 52 weeks by BG/NBD and Gamma-Gamma), then stores each segment with its members in one
transaction. Runs happen in the analytics worker, never in a web worker: on a schedule, and when a marketer
asks (`request`), which queues a run the worker claims. A segment is followed across runs by its kind and
key, which gives its trend."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
import pandas as pd

from analytics import queries as q
from analytics.rfm import SEGMENTS, rfm
from analytics.schemas import MemberOut, SegmentOut, SegmentRunOut
from marketplace.core.errors import NotFound
from marketplace.core.paging import Page, fetch_page

# What each RFM segment means, with its score ranges (R = recency, FM = the mean of frequency and monetary).
RFM_MEANING = {
    "Champions": "bought recently, often and the most (R 4-5, FM 4-5)",
    "Loyal": "buy often and spend well, not the most recent (R 3-5, FM 3-5)",
    "Potential Loyalist": "recent customers with average frequency and spend (R 4-5, FM 2)",
    "New": "bought for the first time very recently (R 5, FM 1)",
    "Promising": "recent shoppers who have not spent much yet (R 4, FM 1)",
    "Need Attention": "middling recency, frequency and spend (R 3, FM 2)",
    "About to Sleep": "below average recency and spend (R 3 with FM 1, or R 2 with FM 1-2)",
    "At Risk": "spent well and often, but long ago (R 1-2, FM 3-5)",
    "Can't Lose Them": "among the biggest spenders, but gone quiet the longest (R 1, FM 4-5)",
    "Lost": "lowest recency, frequency and spend (R 1, FM 1-2)",
}
log = logging.getLogger(__name__)

MIN_FOR_CLUSTERS = 50  # fewer customers than this are not clustered
TREND_RUNS = 8  # earlier runs a segment's trend reaches back over


@dataclass
class Computed:
    table: pd.DataFrame  # per customer (index buyer_id): the RFM table, its cluster key and clv
    segments: list[tuple[str, str, str, str]]  # (kind, key, name, description)
    summary: dict[str, Any] = field(default_factory=dict)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def compute(purchases: pd.DataFrame, now: pd.Timestamp) -> Computed:
    """Score, cluster and value every customer with a purchase (pure; CPU-bound, run in a thread)."""
    # scikit-learn and SciPy load here, in the analytics worker, not in every web worker that imports this module.
    from analytics.clusters import Unclusterable, cluster
    from analytics.clv import expected_value

    started = time.perf_counter()
    table = rfm(purchases, now)
    summary: dict[str, Any] = {"rfm_seconds": round(time.perf_counter() - started, 3)}
    segments = [("rfm", slug(name), name, RFM_MEANING[name]) for name in SEGMENTS]
    table["cluster"] = None
    found = None
    if len(table) < MIN_FOR_CLUSTERS:
        summary["clusters_skipped"] = f"{len(table)} customers; clusters need {MIN_FOR_CLUSTERS}"
    else:
        started = time.perf_counter()
        try:
            found = cluster(table)
        except Unclusterable as exc:
            summary["clusters_skipped"] = str(exc)
        except Exception as exc:  # clustering is optional: whatever breaks it, the run keeps RFM and CLV
            log.exception("clustering failed; the run goes on without clusters")
            summary["clusters_skipped"] = f"clustering failed: {type(exc).__name__}: {exc}"[:500]
    if found is not None:
        keys: dict[int, str] = {}
        for label, words in sorted(found.descriptions.items()):
            key = slug(words)
            keys[label] = key if key not in keys.values() else f"{key}-{label}"  # two alike centres
            segments.append(("cluster", keys[label], words[:1].upper() + words[1:], f"cluster of customers: {words}"))
        table["cluster"] = np.array([keys[label] for label in range(found.k)], dtype=object)[found.labels]
        summary |= {"k": found.k, "silhouettes": {str(k): round(v, 4) for k, v in found.silhouettes.items()}}
        summary["cluster_seconds"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    value = expected_value(purchases, now)
    table["clv"] = None if value is None else value.reindex(table.index).round()
    summary["clv"] = value is not None
    summary["clv_seconds"] = round(time.perf_counter() - started, 3)
    return Computed(table, segments, summary)


async def load_purchases(conn: asyncpg.Connection) -> pd.DataFrame:
    rows = await conn.fetch(q.PURCHASES)
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["buyer_id", "created_at", "total"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame.astype({"buyer_id": "int64", "total": "int64"})


async def request(db: asyncpg.Pool, actor_id: int | None, trigger: str = "request") -> SegmentRunOut:
    """Queue a run (or return the one already waiting): the analytics worker takes it up."""
    async with db.acquire() as conn:
        run_id = None
        while run_id is None:  # None: the waiting run was claimed between the two statements; queue another
            run_id = await conn.fetchval(q.REQUEST_RUN, trigger, actor_id) or await conn.fetchval(q.QUEUED_RUN)
        return _run(await conn.fetchrow(q.GET_RUN, run_id))


async def execute(db: asyncpg.Pool, run_id: int, now: datetime | None = None) -> None:
    """Compute a claimed run and store it; a failure is recorded on the run, not raised."""
    try:
        async with db.acquire() as conn:
            purchases = await load_purchases(conn)
        at = pd.Timestamp(now or datetime.now(UTC))
        computed = await asyncio.to_thread(compute, purchases, at)
        await _store(db, run_id, computed)
    except Exception as exc:  # whatever broke, the run says so and the worker goes on
        log.exception("segment run %d failed", run_id)
        await db.execute(q.FAIL_RUN, run_id, f"{type(exc).__name__}: {exc}"[:2000])


async def _store(db: asyncpg.Pool, run_id: int, computed: Computed) -> None:
    table = computed.table
    rows, members = [], {}
    for kind, key, name, description in computed.segments:
        chosen = table[table["segment"] == name] if kind == "rfm" else table[table["cluster"] == key]
        members[kind, key] = chosen
        clv = int(chosen["clv"].sum()) if len(chosen) and chosen["clv"].notna().all() else None
        rows.append((kind, key, name, description, len(chosen), int(chosen["monetary"].sum()), clv))
    async with db.acquire() as conn, conn.transaction():
        inserted = await conn.fetch(q.INSERT_SEGMENTS, run_id, *map(list, zip(*rows, strict=True)))
        ids = {(r["kind"], r["key"]): r["id"] for r in inserted}
        records = [record for segment, chosen in members.items() for record in _member_records(ids[segment], chosen)]
        await conn.copy_records_to_table("segment_members", records=records, columns=q.MEMBER_COLUMNS)
        await conn.execute(q.FINISH_RUN, run_id, len(table), computed.summary)


def _member_records(segment_id: int, chosen: pd.DataFrame) -> zip:
    """The segment's members as COPY records, column by column (whole columns converted at once rather
    than a Python step per customer and field)."""
    clv = pd.to_numeric(chosen["clv"]).to_numpy(dtype=float, na_value=np.nan)
    clvs = clv.astype("int64").tolist() if not np.isnan(clv).any() else [None if np.isnan(v) else int(v) for v in clv]
    return zip(
        [segment_id] * len(chosen),
        chosen.index.astype("int64").tolist(),
        chosen["recency_days"].astype(float).tolist(),
        *(chosen[c].astype("int64").tolist() for c in ("frequency", "monetary", "R", "F", "M")),
        clvs,
        strict=True,
    )


async def listing(db: asyncpg.Pool, kind: str | None) -> list[SegmentOut]:
    return [_segment(r) for r in await db.fetch(q.LATEST_SEGMENTS, kind, TREND_RUNS)]


async def get(db: asyncpg.Pool | asyncpg.Connection, segment_id: int) -> SegmentOut:
    row = await db.fetchrow(q.GET_SEGMENT, segment_id)
    if row is None:
        raise NotFound("no such segment")
    return _segment(row)


async def members(db: asyncpg.Pool, segment_id: int, after: int | None, limit: int) -> Page[MemberOut]:
    """A page of the segment's customers by buyer id (the cursor), after `after`."""
    await get(db, segment_id)
    return await fetch_page(
        db, q.MEMBERS, segment_id, after, limit=limit, convert=lambda r: MemberOut(**dict(r)), key="buyer_id"
    )


async def runs(db: asyncpg.Pool, before: int | None, limit: int) -> Page[SegmentRunOut]:
    return await fetch_page(db, q.RUNS, before, limit=limit, convert=_run)


async def run(db: asyncpg.Pool, run_id: int) -> SegmentRunOut:
    row = await db.fetchrow(q.GET_RUN, run_id)
    if row is None:
        raise NotFound("no such segment run")
    return _run(row)


def _segment(row: asyncpg.Record) -> SegmentOut:
    before = list(row["before"])
    return SegmentOut(
        id=row["id"], run_id=row["run_id"], kind=row["kind"], key=row["key"], name=row["name"],
        description=row["description"], members=row["members"], monetary=row["monetary"],
        average_monetary=row["monetary"] // row["members"] if row["members"] else 0, clv=row["clv"],
        computed_at=row["finished_at"], trend=[*before, row["members"]],
        change=row["members"] - before[-1] if before else None,
    )  # fmt: skip


def _run(row: asyncpg.Record) -> SegmentRunOut:
    return SegmentRunOut(**dict(row))


def sizes_frame(segments: list[SegmentOut]) -> pd.DataFrame:
    """The segments as a table, for CSV and the chart (money in cents: what the members spent, their lifetime
    value)."""
    return pd.DataFrame(
        {
            "kind": [s.kind for s in segments],
            "segment": [s.name for s in segments],
            "members": [s.members for s in segments],
            "value": [s.monetary for s in segments],
            "clv": [s.clv for s in segments],
            "change": [s.change for s in segments],
        }
    )

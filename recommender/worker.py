"""The recommender worker: a process of its own, so numpy work never runs on a web worker's event loop.

- It serves from the newest trained model under `<data dir>/models/`, training one first if there is none,
  and retrains every `retrain_minutes`, swapping the new model in when it is ready (training runs in a
  thread; the old model keeps serving meanwhile).
- Every `poll_seconds` it reads the views and cart additions recorded since its last look. For each buyer who
  browsed, it ranks again from the buyer's history plus this session (each fresh event adds its kind's weight
  to the pair's strength, normalised as training does: `data.with_session`), stores the list serving reads
  (`training.personal_lists`: only bought products left out, so what the buyer just viewed stays in; products
  nobody has interacted with yet blended in by text, and a buyer the model does not know gets text's list),
  and appends `recommendations.updated` to the buyer's
  `user:<id>:recommendations` topic, so a buyer watching the feed sees the list change while browsing. The
  event names the products GET /me/recommendations would return right then (`serving.personal`: nothing
  sold out, taken down or already bought), not the model's raw ranking.

- It also listens on the recorder's live announcements (Redis pub/sub, marketplace/interactions/live.py) and
  re-ranks the buyer as soon as one arrives, without waiting for the recorder's batch and the next poll: the
  page view's whole way to the socket was mostly that wait (half a second of batching plus a quarter of
  polling, against tens of milliseconds of work). The poll stays the durable path: what was announced is
  remembered by its key (buyer, product, kind, time) and not pushed again when the poll reads its row, and
  whatever no announcement brought (Redis away, the subscription reconnecting) the poll pushes as before.

Interactions are read by id. Ids are handed out before commit, so a view committed out of order may be
missed here; it still counts at the next training. Its numerical work runs on `threads` BLAS threads (setting
RECOMMENDER_THREADS, 1 by default): the box is shared with the web workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import asyncpg
import joblib
import msgspec
import numpy as np
from redis.asyncio import Redis
from redis.exceptions import RedisError
from scipy import sparse
from threadpoolctl import threadpool_limits

from marketplace.core import topics
from marketplace.core.events import append_events
from marketplace.core.outage import Outage
from marketplace.interactions import live
from recommender import queries as q
from recommender.data import KIND_WEIGHTS, normalise, with_session
from recommender.serving import DEFAULT_LIMIT, personal, user_key
from recommender.training import LIST_SECONDS, personal_lists, train

log = logging.getLogger(__name__)

PUSHED = DEFAULT_LIMIT  # products named in the live event, as the route lists them by default
# How long an interaction's key is remembered after one path brought it: far longer than the recorder's
# half-second batch takes to reach the table (a batch that fails is dropped, so it never arrives at all).
HANDLED_SECONDS = 120.0


def latest_artefact(data_dir: Path) -> Path | None:
    versions = sorted((Path(data_dir) / "models").glob("*/model.joblib"))
    return versions[-1] if versions else None


def _announced(message: dict[str, Any]) -> list[live.Key]:
    try:
        return live.decode(message["data"])
    except msgspec.DecodeError:  # not the recorder's: ignored, never the end of listening
        log.warning("recommender worker: ignored a malformed announcement on %s", live.CHANNEL)
        return []


class Worker:
    def __init__(self, db: asyncpg.Pool, redis: Redis, data_dir: Path, retrain_minutes: float = 60,
                 poll_seconds: float = 0.25, threads: int | None = None) -> None:  # fmt: skip
        self.db, self.redis, self.data_dir = db, redis, Path(data_dir)
        self.retrain_minutes, self.poll_seconds, self.threads = retrain_minutes, poll_seconds, threads
        self.artefact: dict[str, Any] | None = None
        self.version = ""
        self.last_id = 0
        self.handled: dict[live.Key, float] = {}  # key → when it was pushed (insertion order is time order)
        self._pushing = asyncio.Lock()  # the live path and the poll check and push one at a time
        self.listening = asyncio.Event()  # set while subscribed to the announcements
        self.pushes = {"live": 0, "poll": 0}  # buyers re-ranked by each path

    async def run(self) -> None:
        if self.threads:
            threadpool_limits(limits=self.threads)  # for the whole process: it is the recommender's own
        await self.load_or_train()
        await self.catch_up()
        await asyncio.gather(self._retrain_forever(), self.live())

    async def catch_up(self) -> None:
        """Follow interactions from now on (what came before is the trained model's)."""
        self.last_id = await self.db.fetchval(q.LAST_INTERACTION)

    async def live(self) -> None:
        """Re-rank browsing buyers until cancelled: from announcements at once, from the table's poll for
        whatever they did not bring."""
        tasks = [asyncio.create_task(self._follow_forever()), asyncio.create_task(self._listen_forever())]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def load_or_train(self) -> None:
        path = latest_artefact(self.data_dir)
        if path is None:
            await train(self.db, self.redis, self.data_dir, progress=False)
            path = latest_artefact(self.data_dir)
        self.artefact = await asyncio.to_thread(joblib.load, path)
        self.version = path.parent.name
        self.items = {int(p): i for i, p in enumerate(self.artefact["item_ids"])}
        self.users = {int(u): i for i, u in enumerate(self.artefact["user_ids"])}
        log.info("recommender worker: serving model %s", self.version)

    async def _retrain_forever(self) -> None:
        while True:
            await asyncio.sleep(self.retrain_minutes * 60)
            try:
                await train(self.db, self.redis, self.data_dir, progress=False)
                await self.load_or_train()
            except (asyncpg.PostgresError, OSError, ValueError) as exc:
                log.warning("recommender worker: retraining failed, keeping %s: %s", self.version, exc)

    async def _follow_forever(self) -> None:
        while True:
            try:
                await self.follow()
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("recommender worker: following interactions failed: %s", exc)
            await asyncio.sleep(self.poll_seconds)

    async def _listen_forever(self) -> None:
        outage = Outage("recommender worker: live interactions")
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(live.CHANNEL)
                outage.recovered()
                self.listening.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None:
                        continue
                    keys = _announced(message)
                    # Whatever else arrived while this buyer was being ranked goes in the same round.
                    while (more := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0)) is not None:
                        keys += _announced(more)
                    try:
                        await self.react(keys)
                    except (asyncpg.PostgresError, OSError) as exc:  # not marked handled: the poll pushes them
                        log.warning("recommender worker: re-ranking announced interactions failed: %s", exc)
            except (RedisError, OSError) as error:  # the poll carries on meanwhile
                self.listening.clear()
                await outage.pause(error)
            finally:
                self.listening.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def react(self, keys: list[live.Key]) -> int:
        """Re-rank the buyers of announced interactions not yet pushed; returns how many were updated."""
        async with self._pushing:
            fresh = [k for k in dict.fromkeys(keys) if k not in self.handled]
            session: dict[int, dict[int, float]] = {}
            for user_id, product_id, kind, _ in fresh:
                self._weigh(session, user_id, product_id, kind)
            updated = await self._push(session)
            self._handled(fresh)
            self.pushes["live"] += updated
            return updated

    async def follow(self) -> int:
        """Re-rank for every buyer who browsed since the last look, except for what an announcement already
        brought; returns how many buyers were updated."""
        async with self._pushing:
            rows = await self.db.fetch(q.NEW_INTERACTIONS, self.last_id, 5000)
            if not rows:
                return 0
            self.last_id = rows[-1]["id"]
            session: dict[int, dict[int, float]] = {}
            fresh = []
            for row in rows:
                key = live.key(row["user_id"], row["product_id"], row["kind"], row["occurred_at"])
                if self.handled.pop(key, None) is None:  # read once here: its key is needed no longer
                    fresh.append(key)
                    self._weigh(session, row["user_id"], row["product_id"], row["kind"])
            updated = await self._push(session)
            self._handled(fresh)
            self.pushes["poll"] += updated
            return updated

    @staticmethod
    def _weigh(session: dict[int, dict[int, float]], user_id: int, product_id: int, kind: str) -> None:
        """A fresh event's raw strength, per buyer and product (any product: text knows those the model does not)."""
        weights = session.setdefault(user_id, {})
        weights[product_id] = weights.get(product_id, 0.0) + KIND_WEIGHTS[kind]

    def _handled(self, keys: list[live.Key]) -> None:
        now = time.monotonic()
        self.handled.update(dict.fromkeys(keys, now))
        while self.handled and (oldest := next(iter(self.handled.items())))[1] < now - HANDLED_SECONDS:
            del self.handled[oldest[0]]

    async def _push(self, session: dict[int, dict[int, float]]) -> int:
        """Rank each buyer from history plus `session`, store the lists and append their events."""
        if not session:
            return 0
        buyers = list(session)
        ranked = await asyncio.to_thread(self._rank, buyers, [session[b] for b in buyers])
        lists = dict(zip(buyers, ranked, strict=True))
        async with self.redis.pipeline(transaction=False) as pipe:
            for buyer, products in lists.items():
                pipe.set(user_key(buyer), json.dumps(products), ex=LIST_SECONDS)
            await pipe.execute()
        served = await asyncio.gather(*(personal(self.db, ids, buyer, PUSHED) for buyer, ids in lists.items()))
        events = [
            (
                topics.user_recommendations(buyer),
                "recommendations.updated",
                {"product_ids": [card.id for card in cards], "model": self.version},
            )
            for buyer, cards in zip(lists, served, strict=True)
        ]
        async with self.db.acquire() as conn, conn.transaction():
            await append_events(conn, events)
        return len(lists)

    def _rank(self, buyers: list[int], sessions: list[dict[int, float]]) -> list[list[int]]:
        """Each buyer's trained history plus this session's raw strengths, normalised as training does, ranked
        as training ranks stored lists (numpy, in a thread)."""
        model, item_ids = self.artefact["model"], self.artefact["item_ids"]
        cold, bought = self.artefact.get("cold"), self.artefact.get("bought")
        fresh: list[tuple[int, int, float]] = []  # (buyer row, model column, strength)
        unknown: list[tuple[int, int, float]] = []  # (buyer row, content row, strength): products text alone knows
        for n, weights in enumerate(sessions):
            for product, weight in weights.items():
                if (item := self.items.get(product)) is not None:
                    fresh.append((n, item, weight))
                elif cold is not None and (row := cold.row_of.get(product)) is not None:
                    unknown.append((n, row, weight))
        shape = (len(buyers), len(item_ids))
        session = _matrix(fresh, shape)
        index = np.array([self.users.get(b, -1) for b in buyers], dtype=np.int64)
        known = sparse.diags((index >= 0).astype(np.float32))  # strangers' rows left empty
        histories = with_session(known @ model.seen_[np.maximum(index, 0)], session)
        exclude = None if bought is None else known @ bought[np.maximum(index, 0)]
        texts = None
        if cold is not None:
            strangers = _matrix(unknown, (len(buyers), len(cold.product_ids)))
            strangers.data = normalise(strangers.data)
            texts = cold.rows(histories) + strangers
        return personal_lists(model, histories, exclude, item_ids, cold, texts)


def _matrix(entries: list[tuple[int, int, float]], shape: tuple[int, int]) -> sparse.csr_matrix:
    rows, cols, values = zip(*entries, strict=True) if entries else ((), (), ())
    return sparse.csr_matrix((np.asarray(values, np.float32), (rows, cols)), shape=shape, dtype=np.float32)

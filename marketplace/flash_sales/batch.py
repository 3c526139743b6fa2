"""Admitted flash purchases written to PostgreSQL in batches: a crowd's buyers all need the sale's row and
the SKU's row, so written one transaction each they queue on those two locks and on one commit after
another. Here every purchase the gate admitted while the previous batch was being written goes into the
next one: one transaction, its reads and its writes pipelined (orders/place_checkout.py), one commit for
all; each buyer is answered when its batch commits. Nothing waits for a batch to fill: a lone buyer's batch
is written at once.

The invariants stay those of one purchase at a time: the sale's conditional update and the shelf's CHECK
refuse a unit too many whatever the gate admitted; if they refuse anything in a batch, it has written
nothing and its purchases are placed again one by one, each in its own savepoint, so that only the refused
ones are refused. A key a purchase carries (Idempotency-Key) is claimed before it joins a batch and
completed in the batch's transaction, or released if its purchase was not written. A worker killed mid-batch
commits nothing: its buyers' admissions go back to the gate when the keeper finds gate and database
disagreeing (gate.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg
import msgspec

from marketplace.core import idempotency
from marketplace.core.idempotency import Outcome
from marketplace.orders.place_checkout import SaleRefused, place_flash_checkout, place_flash_checkouts

log = logging.getLogger(__name__)

MAX_BATCH = 128  # purchases per transaction: bounds how long one batch holds the hot rows


@dataclass
class Purchase:
    buyer_id: int
    address_id: int
    quantity: int
    key: tuple[int, str, str] | None  # (user, route, key) claimed for this purchase
    answer: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class PurchaseBatches:
    """One writer per sale in this process; purchases wait in the sale's queue while a batch is written."""

    def __init__(self, db: asyncpg.Pool, hold_seconds: int) -> None:
        self.db, self.hold_seconds = db, hold_seconds
        self._queues: dict[int, list[Purchase]] = defaultdict(list)
        self._writers: dict[int, asyncio.Task[None]] = {}
        self.batches = 0  # batches written (for tests and metrics)

    async def purchase(
        self, sale_id: int, buyer_id: int, address_id: int, quantity: int, route: str, key: str | None, body: bytes
    ) -> Outcome:
        """Place an admitted purchase: its checkout's outcome (201 and its JSON), the stored one if `key`
        was used before, or the purchase's refusal (SaleRefused, NotFound, Conflict) raised."""
        claimed = None
        if key is not None:
            if (stored := await idempotency.claim(self.db, buyer_id, route, key, body)) is not None:
                return stored
            claimed = (buyer_id, route, key)
        purchase = Purchase(buyer_id, address_id, quantity, claimed)
        self._queues[sale_id].append(purchase)
        if sale_id not in self._writers:
            self._writers[sale_id] = asyncio.create_task(self._write(sale_id))
        # The batch answers even if this request goes away meanwhile: its purchase may already be written.
        return await asyncio.shield(purchase.answer)

    async def _write(self, sale_id: int) -> None:
        queue = self._queues[sale_id]
        try:
            while queue:
                batch = queue[:MAX_BATCH]
                del queue[:MAX_BATCH]
                try:
                    await self._commit(sale_id, batch)
                except Exception as exc:  # the database is unreachable: every purchase in the batch fails
                    log.warning("flash sale %d: a batch of %d purchases failed: %s", sale_id, len(batch), exc)
                    await self._release_keys(batch)
                    for purchase in batch:
                        _answer(purchase, exc)
                self.batches += 1
        finally:
            del self._writers[sale_id]
            if not queue:
                del self._queues[sale_id]

    async def _commit(self, sale_id: int, batch: list[Purchase]) -> None:
        async with self.db.acquire() as conn:
            try:
                async with conn.transaction():
                    placed = await place_flash_checkouts(
                        conn, sale_id, [(p.buyer_id, p.address_id, p.quantity) for p in batch], self.hold_seconds
                    )
                    results = [_outcome(r) for r in placed]
                    await _complete_keys(conn, batch, results)
            except SaleRefused:  # the sale or the shelf refused one of them: one by one, to learn which
                results = await self._one_by_one(conn, sale_id, batch)
            failed = [p.key for p, r in zip(batch, results, strict=True) if p.key and isinstance(r, Exception)]
            if failed:
                await idempotency.release(conn, failed)
        for purchase, result in zip(batch, results, strict=True):
            _answer(purchase, result)

    async def _one_by_one(self, conn: asyncpg.Connection, sale_id: int, batch: list[Purchase]) -> list:
        results: list[Outcome | Exception] = []
        async with conn.transaction():
            for p in batch:
                try:
                    async with conn.transaction():  # a savepoint: a refusal undoes only its own purchase
                        checkout = await place_flash_checkout(
                            conn, p.buyer_id, p.address_id, sale_id, p.quantity, self.hold_seconds
                        )
                        results.append(_outcome(checkout))
                except Exception as exc:  # SaleRefused, NotFound, Conflict: this purchase's own refusal
                    results.append(exc)
            await _complete_keys(conn, batch, results)
        return results

    async def _release_keys(self, batch: list[Purchase]) -> None:
        claimed = [p.key for p in batch if p.key]
        if claimed:
            try:
                async with self.db.acquire() as conn:
                    await idempotency.release(conn, claimed)
            except Exception as exc:  # a claim whose session is gone is taken over by the next retry
                log.warning("flash sale keys not released: %s", exc)


def _outcome(result: object) -> Outcome | Exception:
    return result if isinstance(result, Exception) else Outcome(201, msgspec.json.encode(result))


async def _complete_keys(conn: asyncpg.Connection, batch: list[Purchase], results: list) -> None:
    done = [(*p.key, r) for p, r in zip(batch, results, strict=True) if p.key and isinstance(r, Outcome)]
    if done:
        await idempotency.complete(conn, done)


def _answer(purchase: Purchase, result: Outcome | Exception) -> None:
    if purchase.answer.done():
        return
    if isinstance(result, Exception):
        purchase.answer.set_exception(result)
    else:
        purchase.answer.set_result(result)

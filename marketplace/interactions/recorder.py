"""Records interactions without slowing the page that saw them.

`record()` appends a tuple to an in-memory buffer and returns; a background task writes the buffer with
one COPY every `interval` seconds (or sooner when it fills). What is lost if a worker is killed is at most
one interval of browsing signals, which is acceptable for recommendations and analytics; orders and
payments never go through here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncpg

from marketplace.core.outage import Outage
from marketplace.interactions import Kind

log = logging.getLogger(__name__)

COLUMNS = ("kind", "user_id", "session_id", "product_id", "quantity", "query", "result_count", "occurred_at")
Row = tuple[str, int | None, str | None, int | None, int | None, str | None, int | None, datetime]


class InteractionRecorder:
    def __init__(
        self, pool: asyncpg.Pool, interval: float = 0.5, max_buffer: int = 5_000, enabled: bool = True
    ) -> None:
        self.pool = pool
        self.enabled = enabled
        self.interval = interval
        self.max_buffer = max_buffer
        self._buffer: list[Row] = []
        self._outage = Outage("interaction recorder")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def record(
        self,
        kind: Kind,
        *,
        user_id: int | None = None,
        session_id: str | None = None,
        product_id: int | None = None,
        quantity: int | None = None,
        query: str | None = None,
        result_count: int | None = None,
    ) -> None:
        if not self.enabled or (user_id is None and session_id is None):
            return  # switched off, or nobody to attribute it to
        self._buffer.append((kind, user_id, session_id, product_id, quantity, query, result_count, datetime.now(UTC)))
        if len(self._buffer) >= self.max_buffer:
            self._wake.set()

    async def flush(self) -> int:
        rows, self._buffer = self._buffer, []
        if not rows:
            return 0
        async with self.pool.acquire() as conn:
            await conn.copy_records_to_table("interactions", records=rows, columns=COLUMNS)
        self.written += len(rows)
        return len(rows)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.flush()
                self._outage.recovered()
            except Exception as error:  # browsing signals are best effort: drop the batch, keep recording
                self._outage.failed(error)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="interaction-recorder")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

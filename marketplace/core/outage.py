"""Long-lived tasks outlive the servers they depend on.

When PostgreSQL or Redis goes away, a background task (feed relay and hub, sweeper, gate keeper, workers)
keeps retrying with exponential back-off and jitter, and says so twice: once when the outage starts and once
when it ends, never once per attempt. Nothing needs a restart when the server comes back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("marketplace.outage")


def describe(error: BaseException) -> str:
    """`error` in one line; a task group's ExceptionGroup is described by the first error inside it."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}".rstrip(": ")


class Outage:
    """The state of one task's dependency: up, or down since when, and how long to wait before retrying."""

    def __init__(self, name: str, *, first_delay: float = 0.1, max_delay: float = 5.0) -> None:
        self.name = name
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.down_since: float | None = None  # time.monotonic() of the first failure of this outage
        self.last_error = ""
        self.outages = 0  # how many outages this task has seen (and recovered from or not)
        self._delay = first_delay

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> float:
        """Record a failed attempt; returns the seconds to wait before the next one."""
        self.last_error = describe(error)
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.outages += 1
            self._delay = self.first_delay
            log.warning("%s: %s; retrying with back-off until it recovers", self.name, self.last_error)
        else:
            self._delay = min(self.max_delay, self._delay * 2)
        return self._delay * random.uniform(0.5, 1.0)  # jitter: processes retrying together spread out

    async def pause(self, error: BaseException) -> None:
        await asyncio.sleep(self.failed(error))

    def recovered(self) -> None:
        if self.down_since is not None:
            log.warning("%s: recovered after %.1f s", self.name, time.monotonic() - self.down_since)
            self.down_since = None
            self._delay = self.first_delay

    def state(self) -> str:
        return f"down for {time.monotonic() - self.down_since:.0f} s: {self.last_error}" if self.down else "ok"


async def run_forever(name: str, step: Callable[[], Awaitable[object]], interval: float) -> None:
    """Await `step()` every `interval` seconds until cancelled. A failing step is retried with back-off
    (whatever it raised: a task that dies quietly is worse than one that logs and retries)."""
    outage = Outage(name, max_delay=max(5.0, interval))
    while True:
        try:
            await step()
        except Exception as error:
            await outage.pause(error)
            continue
        outage.recovered()
        await asyncio.sleep(interval)

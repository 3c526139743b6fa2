"""One leader among every process's copy of a background task (the feed relay, the notifier): each copy
holds a PostgreSQL connection of its own and tries a session advisory lock; the one that gets it leads, the
others stand by and try again every `standby_seconds`. When the leader's process or connection dies,
PostgreSQL drops its lock and a standby takes over. Any failure closes the connection and starts over,
with the back-off and logging of `Outage`."""

from __future__ import annotations

import asyncio
import contextlib
import os

import asyncpg

from marketplace.core.outage import Outage


class Leader:
    def __init__(self, database_url: str, role: str, try_lead: str, outage: str, standby_seconds: float) -> None:
        self.database_url = database_url
        self.role = role  # the connection's application name says which process leads: "marketplace <role> <pid>"
        self.try_lead = try_lead  # a statement returning whether this session took the lock
        self.standby_seconds = standby_seconds
        self.leading = False
        self.outage = Outage(outage, max_delay=max(5.0, standby_seconds))

    async def lead(self, conn: asyncpg.Connection) -> None:
        """The leader's work, on the connection holding the lock; returns or raises only to start over."""
        raise NotImplementedError

    async def run(self) -> None:
        """Stand by, lead when the lock comes free, and start over after any connection failure."""
        while True:
            try:
                conn = await asyncpg.connect(
                    self.database_url, server_settings={"application_name": f"marketplace {self.role} {os.getpid()}"}
                )
                try:
                    while not await conn.fetchval(self.try_lead):
                        self.outage.recovered()  # a standby needs only PostgreSQL
                        await asyncio.sleep(self.standby_seconds)
                    await self.lead(conn)
                finally:
                    self.leading = False
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            except Exception as error:  # PostgreSQL (or what the leader uses) went away: retry until it is back
                await self.outage.pause(error)

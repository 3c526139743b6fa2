"""The notifier: follows the outbox and mails what users are told.

Every app process runs one; a session advisory lock lets exactly one lead across workers and machines (a
standby takes over within `standby_seconds` of the leader's connection dying). The leader, every
`poll_seconds`:

1. reads the events after its cursor, in the relay's feed numbering (`events.seq`, gap-free in commit order),
   turns them into notification rows (kinds.py) and moves the cursor, in one transaction: a crash reads the
   batch again, and the unique key on each notice keeps it from being written twice;
2. sends the mails that are due, one at a time. A failure (SMTP down, refused) is recorded on the mail
   (attempts, last_error) and it is tried again after a delay that doubles each time, until `max_attempts`.

Nothing is sent while no SMTP host is configured; the notices wait, and the in-app list works regardless."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import asyncpg

from marketplace.core.db import init_connection
from marketplace.core.leader import Leader
from marketplace.core.outage import Outage, describe
from marketplace.notifications import mail
from marketplace.notifications import queries as q
from marketplace.notifications.kinds import Notice, notices_of
from marketplace.settings import Settings

log = logging.getLogger(__name__)

LONGEST_RETRY_SECONDS = 3600.0


def retry_delay(settings: Settings, attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed try (1, 2, ...): retry_seconds, doubling, at most an hour."""
    return min(LONGEST_RETRY_SECONDS, settings.mail_retry_seconds * 2 ** max(0, attempts - 1))


class Notifier(Leader):
    def __init__(self, settings: Settings, *, standby_seconds: float = 1.0, batch: int = 500) -> None:
        super().__init__(settings.database_url, "notifier", q.TRY_LEAD, "notifier", standby_seconds)
        self.settings = settings
        self.poll_seconds = settings.notifier_poll_seconds
        self.batch = batch
        self.smtp = Outage("SMTP server", max_delay=LONGEST_RETRY_SECONDS)  # logs its outage and recovery once
        self._no_host_logged = False

    async def lead(self, conn: asyncpg.Connection) -> None:
        await init_connection(conn)
        self.leading = True
        self.outage.recovered()
        while True:
            read = await self.read_events(conn)
            await self.send_due(conn)
            if read < self.batch:
                await asyncio.sleep(self.poll_seconds)
            if conn.is_closed():
                raise asyncpg.InterfaceError("the notifier's connection closed")

    async def read_events(self, conn: asyncpg.Connection) -> int:
        """Turn the next batch of events into notices; returns how many events were read."""
        async with conn.transaction():
            cursor = await conn.fetchval(q.CURSOR)
            rows = await conn.fetch(q.EVENTS_AFTER, cursor, self.batch)
            if not rows:
                return 0
            notices = [n for r in rows for n in notices_of(r["seq"], r["topic"], r["type"], r["payload"])]
            if notices:
                await self._write(conn, notices)
            await conn.execute(q.SET_CURSOR, rows[-1]["seq"])
        return len(rows)

    async def _write(self, conn: asyncpg.Connection, notices: list[Notice]) -> None:
        shops = {n.vendor_id for n in notices if n.vendor_id is not None}
        owners = {r["id"]: r["user_id"] for r in await conn.fetch(q.VENDOR_OWNERS, list(shops))} if shops else {}
        addressed = [(owners.get(n.vendor_id) if n.user_id is None else n.user_id, n) for n in notices]
        addressed = [(user_id, n) for user_id, n in addressed if user_id is not None]
        if not addressed:
            return
        users, kinds = [u for u, _ in addressed], [str(n.kind) for _, n in addressed]
        recipients = await conn.fetch(q.RECIPIENTS, users, kinds)
        # A user deleted meanwhile has no row, and is dropped.
        wanted = {(r["id"], r["kind"]): r["email"] if r["wants"] else None for r in recipients}
        known = {r["id"] for r in recipients}
        # One row per key: a statement may not update a row it inserted (a campaign's coupon and offer).
        merged: dict[tuple[int, str, str], tuple[int, Notice]] = {}
        for u, n in addressed:
            if u in known:
                key = (u, str(n.kind), n.dedupe_key)
                if key in merged:
                    n = replace(n, data=merged[key][1].data | n.data)
                merged[key] = (u, n)
        rows = list(merged.values())
        if not rows:
            return
        await conn.execute(
            q.INSERT_NOTICES,
            [u for u, _ in rows],
            [str(n.kind) for _, n in rows],
            [n.dedupe_key for _, n in rows],
            [n.title for _, n in rows],
            [n.data for _, n in rows],
            [wanted.get((u, str(n.kind))) for u, n in rows],
        )

    async def send_due(self, conn: asyncpg.Connection) -> int:
        """Send the mails that are due; returns how many were sent. Stops at the first SMTP failure, so an
        outage costs one attempt per round, not one per waiting mail."""
        if not self.settings.smtp_host:
            if not self._no_host_logged:
                log.warning("notifier: no SMTP_HOST set, so mail waits unsent (in-app notifications still work)")
                self._no_host_logged = True
            return 0
        sent = 0
        for row in await conn.fetch(q.DUE, self.batch):
            if not await conn.fetchval(q.STILL_WANTED, row["id"]):
                await conn.execute(q.SKIP, row["id"])
                continue
            try:
                message = mail.build_message(
                    self.settings, row["user_id"], row["kind"], row["title"], row["data"], row["email_to"]
                )
            except Exception as error:  # a template that cannot render this notice: retrying will not help
                log.exception("notifier: cannot build mail %s (%s)", row["id"], row["kind"])
                await conn.execute(q.MARK_FAILED, row["id"], describe(error)[:500], 1, 0)
                continue
            try:
                await mail.send(self.settings, message)
            except Exception as error:
                attempts = row["attempts"] + 1
                delay = retry_delay(self.settings, attempts)
                max_attempts = self.settings.mail_max_attempts
                await conn.execute(q.MARK_FAILED, row["id"], describe(error)[:500], max_attempts, delay)
                self.smtp.failed(error)
                return sent
            await conn.execute(q.MARK_SENT, row["id"])
            self.smtp.recovered()
            sent += 1
        return sent

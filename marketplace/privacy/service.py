"""A buyer's own data. The export: every section of queries.py as JSON, the orders and the browsing history
also as CSV (what a spreadsheet opens), and a note saying what is where; built in one read-only transaction,
so the sections agree with each other, and audit-logged. Erasure: see `erase`."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from marketplace.accounts.passwords import hasher_of, verify_password
from marketplace.core import fields
from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, Forbidden, NotFound
from marketplace.core.events import access_changed
from marketplace.privacy import queries as q
from marketplace.settings import Settings

CSV_SECTIONS = {
    "orders": ["id", "created_at", "shop", "status", "currency", "items_total", "shipping_total", "total"],
    "interactions": ["occurred_at", "kind", "product_id", "quantity", "query"],
}
NOTE = """Your data at the marketplace, exported {at}.

Each file ending in .json holds one kind of record, oldest first: {sections}.
orders.csv and interactions.csv hold the same orders and browsing history as a table.
Amounts are in minor units of their currency (cents). Your password and two-factor secret are stored only
in a form nobody can read back, so they are not in this archive.
"""


def _open_sealed(sections: dict[str, list[dict[str, Any]]]) -> None:
    """The archive holds the buyer's data as they gave it: the fields sealed at rest are opened."""
    for profile in sections["profile"]:
        profile["phone"] = fields.unseal(profile["phone"], fields.USER_PHONE)
    sections["addresses"] = [fields.open_address(a) for a in sections["addresses"]]
    for order in sections["orders"]:
        order["shipping_address"] = fields.open_address(order["shipping_address"])


async def export(db: asyncpg.Pool, user_id: int) -> tuple[str, bytes]:
    """The archive's file name and bytes."""
    async with db.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        sections: dict[str, list[dict[str, Any]]] = {
            name: await conn.fetchval(sql, user_id) for name, sql in q.SECTIONS.items()
        }
        _open_sealed(sections)
        at = datetime.now(UTC)
        await record_audit(conn, user_id, "data.exported", "user", user_id, after={"sections": list(sections)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", NOTE.format(at=f"{at:%Y-%m-%d %H:%M} UTC", sections=", ".join(sections)))
        for name, rows in sections.items():
            archive.writestr(f"{name}.json", msgspec.json.format(msgspec.json.encode(rows), indent=2))
        for name, columns in CSV_SECTIONS.items():
            text = io.StringIO()
            writer = csv.DictWriter(text, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(sections[name])
            archive.writestr(f"{name}.csv", text.getvalue())
    return f"marketplace-data-{user_id}-{at:%Y%m%d}.zip", buffer.getvalue()


async def erase(db: asyncpg.Pool, settings: Settings, user_id: int, password: str) -> None:
    """Erase the caller's account (its password confirms it's them): personal data deleted or replaced,
    sessions and sockets ended, the orders, payments and ledger left whole, in one transaction, audit-logged.
    Refused (409, nothing changed) while the account has a shop, open orders or after-sales under way."""
    async with db.acquire() as conn, conn.transaction():
        account = await conn.fetchrow(q.ACCOUNT_FOR_ERASURE, user_id)
        if account is None or account["erased_at"] is not None:
            raise NotFound("no such account")
        if not await verify_password(hasher_of(settings), account["password_hash"], password):
            raise Forbidden("the password is not right; nothing was erased")
        blockers = await conn.fetchrow(q.ERASE_BLOCKERS, user_id)
        reasons = {
            "shops": "it runs a shop (close the shop first)",
            "open_orders": "orders are still open (wait until they complete or cancel them)",
            "open_aftersales": "after-sales requests are still under way",
        }
        held = [text for name, text in reasons.items() if blockers[name]]
        if held:
            raise Conflict("the account cannot be erased yet: " + "; ".join(held), **dict(blockers))
        for statement in q.ERASE:
            await conn.execute(statement, user_id)
        await record_audit(conn, user_id, "user.erased", "user", user_id)
        await access_changed(conn, user_id, "account erased")

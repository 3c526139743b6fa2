"""A buyer's data export: every section of queries.py as JSON, the orders and the browsing history also as
CSV (what a spreadsheet opens), and a note saying what is where; built in one read-only transaction, so the
sections agree with each other, and audit-logged."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from marketplace.core.audit import record_audit
from marketplace.privacy import queries as q

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


async def export(db: asyncpg.Pool, user_id: int) -> tuple[str, bytes]:
    """The archive's file name and bytes."""
    async with db.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        sections: dict[str, list[dict[str, Any]]] = {
            name: msgspec.json.decode(await conn.fetchval(f"SELECT ({sql})::text", user_id))
            for name, sql in q.SECTIONS.items()
        }
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

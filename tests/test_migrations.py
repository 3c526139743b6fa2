"""Migrations are recorded with their checksum: a file edited after it was applied is refused at start,
since the database would silently lack what the edit added."""

from __future__ import annotations

import asyncpg
import pytest

from marketplace.core.db import MigrationChanged, migrate, migration_files


async def test_an_applied_migration_that_changed_is_refused(database_url: str, db: asyncpg.Connection) -> None:
    assert await migrate(database_url) == []  # the template is migrated already
    recorded = await db.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in recorded] == [v for v, _ in migration_files()]
    assert all(len(r["checksum"] or "") == 64 for r in recorded)
    # As if 0011 had been edited since this database applied it.
    await db.execute("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version LIKE '0011_%'")
    with pytest.raises(MigrationChanged, match="0011_"):
        await migrate(database_url)


async def test_migrations_applied_before_checksums_get_theirs(database_url: str, db: asyncpg.Connection) -> None:
    await db.execute("UPDATE schema_migrations SET checksum = NULL")
    assert await migrate(database_url) == []
    assert await db.fetchval("SELECT count(*) FROM schema_migrations WHERE checksum IS NULL") == 0

"""asyncpg pool creation and the migration runner."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process that migrates this database.
MIGRATION_LOCK_KEY = 7_301_202_611


async def init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in binary form is a version byte (1) and the JSON text; binary also lets COPY carry jsonb.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + msgspec.json.encode(value),
        decoder=lambda data: msgspec.json.decode(data[1:]),
        schema="pg_catalog",
        format="binary",
    )


class PooledConnection(asyncpg.Connection):
    """Pool connections skip asyncpg's `RESET ALL; UNLISTEN *; ...` round trip on every release: this code
    keeps no session state on pooled connections (no SET, LISTEN or session advisory locks; those use
    connections of their own), and asyncpg still rolls back any open transaction on release."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(url: str, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        max_queries=1_000_000,
        timeout=5,  # connecting: with PostgreSQL unreachable, a request fails fast with 503 instead of hanging
        connection_class=PooledConnection,
        # Search treats a title word within this trigram similarity as a match (typos like "kettel").
        server_settings={"pg_trgm.word_similarity_threshold": "0.45"},
    )
    assert pool is not None
    return pool


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (keeps host, socket and credentials)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


async def ensure_database(url: str) -> None:
    """Create the URL's database if it does not exist yet (first start of an embedded server)."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Identifiers cannot be bind parameters; the name comes from configuration, quoted here.
            quoted = await conn.fetchval("SELECT quote_ident($1)", name)
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f"CREATE DATABASE {quoted}")
    finally:
        await conn.close()


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every migration, in order."""
    folder = resources.files("marketplace") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(f.name.removesuffix(".sql"), f.read_text()) for f in files]


class MigrationChanged(RuntimeError):
    """A migration file differs from the one applied to this database: its schema may not be what the code
    expects, so the app refuses to start rather than run on it."""


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


async def migrate(url: str) -> list[str]:
    """Apply pending migrations, each in its own transaction, under an advisory lock so that several
    workers starting at once apply each file exactly once. Returns the versions applied now.

    Each applied file is recorded with its checksum; a recorded file that changed since is refused
    (MigrationChanged): a migration is changed by adding a new one, never by editing an applied one. Files
    applied before checksums were recorded get theirs on the first run that knows them."""
    conn = await asyncpg.connect(url)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
        done = {
            r["version"]: r["checksum"] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        files = migration_files()
        changed = [v for v, sql in files if done.get(v) is not None and done[v] != _checksum(sql)]
        if changed:
            raise MigrationChanged(
                f"migration files changed after they were applied to this database: {', '.join(changed)}; "
                "restore the applied version of each and put the change in a new migration"
            )
        for version, sql in files:
            if version in done:
                if done[version] is None:
                    await conn.execute(
                        "UPDATE schema_migrations SET checksum = $2 WHERE version = $1", version, _checksum(sql)
                    )
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", version, _checksum(sql)
                )
            log.info("applied migration %s", version)
            applied_now.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await conn.close()
    return applied_now


def contains_pattern(text: str) -> str:
    """A LIKE/ILIKE pattern matching `text` anywhere, with its own %, _ and backslashes taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

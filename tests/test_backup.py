"""Backup and restore: a restored database is the backed-up one, row for row and sequence for sequence; a
damaged dump is refused and a failed restore changes nothing; an older backup comes up to date; the live
feed's ids keep growing across a restore."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from click.testing import CliRunner
from redis.asyncio import Redis

from marketplace import backup as backups
from marketplace.cli import restore as restore_command
from marketplace.core.db import migration_files, with_database
from marketplace.seed.loader import seed
from marketplace.settings import load_settings
from realtime import queries as feed_queries
from realtime.relay import Relay

pytestmark = pytest.mark.timeout(60)


async def fingerprint(database_url: str) -> dict[str, str | int | None]:
    """An md5 of every public table's rows and the last value of every sequence (a fresh connection, so
    nothing cached from before a restore is used)."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch("SELECT format('%I', tablename) AS name FROM pg_tables WHERE schemaname = 'public'")
        prints: dict[str, str | int | None] = {}
        for table in tables:
            prints[table["name"]] = await conn.fetchval(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM public.{table['name']} t"
            )
        for row in await conn.fetch("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"):
            prints[f"sequence {row['sequencename']}"] = row["last_value"]
        return prints
    finally:
        await conn.close()


async def change_everything(db: asyncpg.Connection) -> None:
    """What happens between a backup and a restore: rows deleted and changed, sequences advanced, and a
    table the backup never had."""
    await db.execute("DELETE FROM reviews")
    await db.execute("UPDATE products SET title = title || ' (changed)'")
    await db.execute("INSERT INTO users (email, password_hash, display_name) VALUES ('late@example.com', 'x', 'Late')")
    await db.execute("CREATE TABLE stray (id int)")


@pytest.fixture
async def seeded(db: asyncpg.Connection, database_url: str) -> str:
    await seed(db, "tiny", 3, quiet=True)
    return database_url


async def test_restore_brings_back_every_row_and_sequence_as_backed_up(
    seeded: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    original = await fingerprint(seeded)
    done = await backups.backup(seeded, tmp_path, progress=False)
    assert done.path.parent == tmp_path and done.path.name.startswith("marketplace-")
    assert done.tables == len([k for k in original if not k.startswith("sequence ")])
    # The checksum file is in sha256sum's format, so `sha256sum -c` checks it too.
    digest = hashlib.sha256(done.path.read_bytes()).hexdigest()
    assert done.checksum_path.read_text() == f"{digest}  {done.path.name}\n"

    await change_everything(db)
    assert await fingerprint(seeded) != original

    restored = await backups.restore(seeded, done.path, yes=True, progress=False)
    assert restored.migrations == []  # a backup of the current schema needs none
    assert await fingerprint(seeded) == original  # `stray` is gone too: it is not in the fingerprint
    conn = await asyncpg.connect(seeded)
    try:
        assert await conn.fetchval("SELECT to_regclass('public.stray')") is None
        # Sequences continue where the backup left them: the next user gets the next id, not a used one.
        next_id = await conn.fetchval(
            "INSERT INTO users (email, password_hash, display_name) VALUES ('new@example.com', 'x', 'New') RETURNING id"
        )
        assert next_id > await conn.fetchval("SELECT max(id) FROM users WHERE email <> 'new@example.com'")
    finally:
        await conn.close()


async def test_a_dump_with_a_flipped_byte_is_refused_and_the_database_is_left_alone(
    seeded: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    done = await backups.backup(seeded, tmp_path / "a.dump", progress=False)
    await change_everything(db)
    before = await fingerprint(seeded)
    data = bytearray(done.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    done.path.write_bytes(bytes(data))

    settings = load_settings(database_url=seeded, data_dir=str(tmp_path))
    result = await asyncio.to_thread(CliRunner().invoke, restore_command, [str(done.path), "--yes"], obj=settings)
    assert result.exit_code == 1
    assert "checksum mismatch" in result.output and "Nothing was changed" in result.output
    assert await fingerprint(seeded) == before

    done.checksum_path.unlink()
    with pytest.raises(backups.BackupError, match="sha256 is missing"):
        await backups.restore(seeded, done.path, yes=True, progress=False)
    assert await fingerprint(seeded) == before


async def test_a_dump_that_breaks_half_way_through_leaves_the_database_as_it_was(
    seeded: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    done = await backups.backup(seeded, tmp_path / "a.dump", progress=False)
    await change_everything(db)
    before = await fingerprint(seeded)
    # Cut the dump inside its table data and record a checksum that matches the cut file: the checksum
    # passes, the schema has already been dropped and recreated in the restore's transaction when
    # pg_restore runs out of data.
    data = done.path.read_bytes()
    done.path.write_bytes(data[: len(data) * 9 // 10])
    done.checksum_path.write_text(f"{hashlib.sha256(data[: len(data) * 9 // 10]).hexdigest()}  a.dump\n")

    with pytest.raises(backups.BackupError, match="the database was left as it was"):
        await backups.restore(seeded, done.path, yes=True, progress=False)
    assert await fingerprint(seeded) == before


async def test_a_restore_failing_at_its_last_steps_changes_nothing(
    seeded: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    done = await backups.backup(seeded, tmp_path / "a.dump", progress=False)
    await change_everything(db)
    before = await fingerprint(seeded)
    # The target refuses triggers, which the restore creates after every table's data (in a schema of its
    # own, so dropping public does not take the trap with it).
    await db.execute("""
        CREATE SCHEMA trap;
        CREATE FUNCTION trap.refuse() RETURNS event_trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'no triggers here'; END $$;
        CREATE EVENT TRIGGER refuse_triggers ON ddl_command_start WHEN TAG IN ('CREATE TRIGGER')
            EXECUTE FUNCTION trap.refuse();
    """)

    with pytest.raises(backups.BackupError, match=r"left as it was: .*no triggers here"):
        await backups.restore(seeded, done.path, yes=True, progress=False)
    assert await fingerprint(seeded) == before


async def test_restore_refuses_a_database_holding_data_without_yes_but_fills_an_empty_one(
    seeded: str, db: asyncpg.Connection, tmp_path: Path, server_urls: tuple[str, str], template_url: str
) -> None:
    original = await fingerprint(seeded)
    done = await backups.backup(seeded, tmp_path / "a.dump", progress=False)
    await change_everything(db)
    changed = await fingerprint(seeded)

    settings = load_settings(database_url=seeded, data_dir=str(tmp_path))
    result = await asyncio.to_thread(CliRunner().invoke, restore_command, [str(done.path)], obj=settings)
    assert result.exit_code == 1
    assert "is not empty (users, vendors, products, orders" in result.output and "--yes" in result.output
    assert await fingerprint(seeded) == changed

    # A freshly migrated database holds only the migrations' own rows: it is empty, no --yes needed.
    async with database_copy(server_urls[0], template_url) as empty:
        result = await asyncio.to_thread(
            CliRunner().invoke,
            restore_command,
            [str(done.path)],
            obj=load_settings(database_url=empty, data_dir=str(tmp_path)),
        )
        assert result.exit_code == 0, result.output
        assert f"restored {done.tables} tables" in result.output
        assert await fingerprint(empty) == original


async def test_restore_recovers_a_database_too_broken_to_migrate(
    seeded: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    original = await fingerprint(seeded)
    done = await backups.backup(seeded, tmp_path / "a.dump", progress=False)
    # Every migration would now run again, and fail; the live feed's table is gone.
    await db.execute("DELETE FROM schema_migrations; DROP TABLE feed_relay")

    settings = load_settings(database_url=seeded, data_dir=str(tmp_path))
    result = await asyncio.to_thread(CliRunner().invoke, restore_command, [str(done.path), "--yes"], obj=settings)
    assert result.exit_code == 0, result.output
    assert await fingerprint(seeded) == original


@contextlib.asynccontextmanager
async def database_copy(server_url: str, template_url: str | None) -> AsyncIterator[str]:
    """A database of its own on the test server: a copy of the migrated template, or empty (None)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        template = f" TEMPLATE {urlsplit(template_url).path.lstrip('/')}" if template_url else ""
        await admin.execute(f"CREATE DATABASE {name}{template}")
        yield with_database(server_url, name)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def test_a_backup_from_an_older_schema_is_restored_and_migrated_up_to_date(
    seeded: str, tmp_path: Path, server_urls: tuple[str, str], template_url: str
) -> None:
    current = await columns(template_url)
    async with database_copy(server_urls[0], None) as old:
        # The runner as it was before the live feed (0010) existed, with a user and some events in it.
        older = [(v, sql) for v, sql in migration_files() if v < "0010"]
        conn = await asyncpg.connect(old)
        try:
            await conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz)")
            for version, sql in older:
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations VALUES ($1, now())", version)
            await conn.execute(
                "INSERT INTO users (email, password_hash, display_name) VALUES ('old@example.com', 'x', 'Old')"
            )
            await conn.execute(
                "INSERT INTO events (topic, type, payload) SELECT 'user:1', 'note', '{}' FROM generate_series(1, 3)"
            )
        finally:
            await conn.close()
        assert await columns(old) != current
        done = await backups.backup(old, tmp_path / "old.dump", progress=False)

    restored = await backups.restore(seeded, done.path, yes=True, progress=False)
    assert restored.migrations == [v for v, _ in migration_files() if v >= "0010"]
    assert await columns(seeded) == current
    conn = await asyncpg.connect(seeded)
    try:
        assert await conn.fetchval("SELECT email FROM users") == "old@example.com"
        # 0010 numbered the old events and set the feed's mark past them.
        assert await conn.fetchval("SELECT published_seq FROM feed_relay") == 3
    finally:
        await conn.close()


async def columns(database_url: str) -> set[tuple[str, str, str]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'"
        )
        return {(r["table_name"], r["column_name"], r["data_type"]) for r in rows}
    finally:
        await conn.close()


async def publish(database_url: str, redis_url: str, topic: str, count: int) -> list[int]:
    """Write `count` events on a topic and let the real relay number and publish them; their ids."""
    conn = await asyncpg.connect(database_url)
    redis = Redis.from_url(redis_url)
    relay = asyncio.create_task(Relay(database_url, redis, poll_seconds=0.02).run())
    try:
        ids = await conn.fetch(
            "INSERT INTO events (topic, type, payload)"
            " SELECT $1, 'note', '{}' FROM generate_series(1, $2) RETURNING id",
            topic,
            count,
        )
        wanted = [r["id"] for r in ids]
        for _ in range(500):
            seqs = await conn.fetch("SELECT seq FROM events WHERE id = ANY($1::bigint[]) ORDER BY seq", wanted)
            if all(r["seq"] is not None for r in seqs) and await conn.fetchval(
                "SELECT published_seq >= $1 FROM feed_relay", seqs[-1]["seq"]
            ):
                return [r["seq"] for r in seqs]
            await asyncio.sleep(0.02)
        raise AssertionError("the relay did not publish the events")
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await redis.aclose()
        await conn.close()


async def test_after_restoring_an_older_backup_new_event_ids_follow_every_id_clients_saw(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    first = await publish(database_url, redis_url, "user:1", 3)
    done = await backups.backup(database_url, tmp_path / "a.dump", progress=False)
    seen = await publish(database_url, redis_url, "user:1", 5)  # clients saw these, then the restore undid them
    assert seen[0] > first[-1]

    await backups.restore(database_url, done.path, yes=True, progress=False)
    after = await publish(database_url, redis_url, "user:1", 2)
    # Never an id a client may already hold: a socket resuming from the last id it saw gets the new events.
    assert after[0] == seen[-1] + 1
    conn = await asyncpg.connect(database_url)
    try:
        replayed = await conn.fetch(feed_queries.REPLAY, ["user:1"], seen[-1], 100)
        assert [r["id"] for r in replayed] == after
        assert [r["seq"] for r in await conn.fetch("SELECT seq FROM events ORDER BY seq")] == first + after
    finally:
        await conn.close()


async def test_backup_and_restore_through_the_marketplace_command(
    seeded: str, db: asyncpg.Connection, redis_url: str, tmp_path: Path
) -> None:
    assert Path(sys.modules["marketplace"].__file__ or "").with_name("__main__.py").exists()
    env = {**os.environ, "DATABASE_URL": seeded, "REDIS_URL": redis_url, "DATA_DIR": str(tmp_path)}

    def marketplace(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "marketplace", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    original = await fingerprint(seeded)
    made = await asyncio.to_thread(marketplace, "backup")
    assert made.returncode == 0, made.stderr
    [dump] = (tmp_path / "backups").glob("marketplace-*.dump")
    assert "backup: 100%" in made.stderr and f"to {dump}" in made.stdout
    checked = await asyncio.create_subprocess_exec(
        "sha256sum", "--check", "--quiet", dump.name + ".sha256", cwd=dump.parent
    )
    assert await checked.wait() == 0

    await change_everything(db)
    back = await asyncio.to_thread(marketplace, "restore", str(dump), "--yes")
    assert back.returncode == 0, back.stderr
    assert "restore: 100%" in back.stderr and "restart the servers" in back.stdout
    assert await fingerprint(seeded) == original

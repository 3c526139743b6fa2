"""Migrations, the events outbox, the audit helper, and the embedded servers surviving a killed run."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from marketplace.core.audit import record_audit
from marketplace.core.db import migrate, migration_files, with_database
from marketplace.core.events import append_event
from tests.conftest import DATA_DIR


async def test_concurrent_migrations_apply_each_file_once(server_urls: tuple[str, str]) -> None:
    admin = await asyncpg.connect(with_database(server_urls[0], "postgres"))
    await admin.execute("DROP DATABASE IF EXISTS migrate_race WITH (FORCE)")
    await admin.execute("CREATE DATABASE migrate_race")
    url = with_database(server_urls[0], "migrate_race")
    try:
        results = await asyncio.gather(*(migrate(url) for _ in range(4)))
        applied = [version for result in results for version in result]
        assert sorted(applied) == sorted(v for v, _ in migration_files())
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(migration_files())
        await conn.close()
        assert await migrate(url) == []
    finally:
        await admin.execute("DROP DATABASE IF EXISTS migrate_race WITH (FORCE)")
        await admin.close()


async def test_events_are_appended_only_inside_a_transaction(db: asyncpg.Connection) -> None:
    with pytest.raises(RuntimeError):
        await append_event(db, "user:1", "test.happened", {"n": 1})
    async with db.transaction():
        first = await append_event(db, "user:1", "test.happened", {"n": 1})
        second = await append_event(db, "vendor:2:orders", "order.placed", {"order_id": 9})
    assert second > first
    rows = await db.fetch("SELECT topic, type, payload, created_at FROM events ORDER BY id")
    assert [(r["topic"], r["type"], r["payload"]) for r in rows] == [
        ("user:1", "test.happened", {"n": 1}),
        ("vendor:2:orders", "order.placed", {"order_id": 9}),
    ]


async def test_rolled_back_change_leaves_no_event_or_audit(db: asyncpg.Connection) -> None:
    with pytest.raises(ZeroDivisionError):
        async with db.transaction():
            await append_event(db, "user:1", "test.happened", {})
            await record_audit(db, None, "test.action", "thing", 1, {"a": 1}, {"a": 2})
            raise ZeroDivisionError
    assert await db.fetchval("SELECT count(*) FROM events") == 0
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marketplace",
            "--data-dir",
            str(data_dir),
            "serve",
            "--port",
            str(port),
            "--demo",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become healthy")


def _workers_of(data_dir: Path) -> list[int]:
    """Ids of the worker processes (recommender, analytics) serving this data dir."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(data_dir).encode() in argv and b"worker" in argv:
            found.append(int(proc.name))
    return found


def _postmaster_pid(data_dir: Path) -> int | None:
    pidfile = data_dir / "pg" / "postmaster.pid"
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="exercises the embedded servers")
def test_serve_survives_sigkill_and_stops_cleanly_on_sigterm() -> None:
    data_dir = DATA_DIR / "cli"
    port = _free_port()
    first = _serve(data_dir, port)
    try:
        _wait_healthy(port, first)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    # Its workers died with it, and its keeper stopped the embedded servers (tests/test_serve_faults.py
    # checks every process of such a run); the next start serves.
    # Stopping PostgreSQL writes a checkpoint of the freshly seeded demo: on a box busy with other tests that
    # once took more than the 30 s this test used to wait.
    deadline = time.monotonic() + 60
    while (_workers_of(data_dir) or _postmaster_pid(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _workers_of(data_dir) == []
    assert _postmaster_pid(data_dir) is None

    second = _serve(data_dir, port)
    try:
        health = _wait_healthy(port, second)
        assert (health["status"], health["postgres"], health["redis"], health["feed_hub"]) == ("ok",) * 4
        output_so_far = b""
        second.send_signal(signal.SIGTERM)
        output_so_far, _ = second.communicate(timeout=60)
        assert b"admin@marketplace.test" in output_so_far and b"buyer1@demo.test" in output_so_far
    finally:
        if second.poll() is None:
            second.kill()
    # SIGTERM stopped both embedded servers.
    assert _postmaster_pid(data_dir) is None
    valkeys = [p for p in psutil.process_iter(["name", "cmdline"]) if "valkey" in (p.info["name"] or "")]
    assert not [p for p in valkeys if str(data_dir) in " ".join(p.info["cmdline"] or [])]
    assert not (data_dir / "valkey" / "valkey.pid").exists()

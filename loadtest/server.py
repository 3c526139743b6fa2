"""The app served by uvicorn in its own process, as `marketplace serve` runs it: what the load tests and the
benchmarks aim at."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn serving `target` with `workers` workers in its own process; entering waits until it answers."""

    def __init__(
        self, target: str, env: dict[str, str], factory: bool, workers: int = 1, port: int = 0, keep_alive: int = 5
    ) -> None:
        self.port = port or free_port()
        args = [sys.executable, "-m", "uvicorn", target, "--port", str(self.port), "--log-level", "warning"]
        args += ["--timeout-keep-alive", str(keep_alive)]
        args += ["--workers", str(workers)]
        args += ["--no-access-log", "--no-server-header", "--loop", "uvloop", "--http", "httptools"]
        args += ["--factory"] if factory else []
        self.proc = subprocess.Popen(args, env={**os.environ, **env})

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} before answering")
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def __exit__(self, *_: object) -> None:
        self.proc.terminate()
        self.proc.wait(30)

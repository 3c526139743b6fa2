"""`marketplace serve` as an operator runs it, on embedded servers of its own: a killed Valkey or PostgreSQL
comes back by itself, and killing serve with SIGKILL leaves no process of the run behind, so the next start
serves."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.test_realtime import free_port

pytestmark = pytest.mark.timeout(240)


def start_serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    args = [sys.executable, "-m", "marketplace", "--data-dir", str(data_dir), "serve", "--port", str(port)]
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir.parent / f"serve-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115 - the child writes it
    return subprocess.Popen([*args, "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT)


async def healthy(url: str, within: float) -> dict[str, str]:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=3) as http:
        while time.monotonic() < deadline:
            try:
                r = await http.get(url)
                if r.status_code == 200:
                    return r.json()
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not healthy within {within} s")


def server_pids(data_dir: Path) -> dict[str, int]:
    pg = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    valkey = int((data_dir / "valkey" / "valkey.pid").read_text().strip())
    return {"postgres": pg, "valkey": valkey}


def run_of(serve: subprocess.Popen[bytes], data_dir: Path) -> set[int]:
    """Every process of the run: serve, its workers and keeper, and the embedded servers with their children."""
    pids = {serve.pid} | {p.pid for p in psutil.Process(serve.pid).children(recursive=True)}
    for pid in server_pids(data_dir).values():
        pids |= {pid} | {p.pid for p in psutil.Process(pid).children(recursive=True)}
    return pids


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}


async def test_serve_restarts_dead_servers_and_leaves_nothing_behind_when_killed(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    health = f"http://127.0.0.1:{port}/health"
    serve = start_serve(data_dir, port)
    try:
        await healthy(health, 120)
        for name in ("valkey", "postgres"):
            os.kill(server_pids(data_dir)[name], signal.SIGKILL)
            started = time.monotonic()
            await asyncio.sleep(0.5)
            state = await healthy(health, 30)  # both servers answer again, without a restart of serve
            assert state["postgres"] == "ok" and state["redis"] == "ok", state
            print(f"{name} killed: healthy again after {time.monotonic() - started:.1f} s")

        run = run_of(serve, data_dir)
        assert len(run) >= 6  # serve, two workers, the keeper, PostgreSQL (and its children), Valkey
        serve.send_signal(signal.SIGKILL)
        for _ in range(150):  # the keeper stops the servers, then leaves itself
            if not alive(run):
                break
            await asyncio.sleep(0.2)
        assert not alive(run), [psutil.Process(p).cmdline() for p in alive(run)]
    finally:
        if serve.poll() is None:
            serve.kill()

    again = start_serve(data_dir, port)  # the next start serves, on the same port and data
    try:
        await healthy(health, 120)
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(60) is not None
    assert not (data_dir / "pg" / "postmaster.pid").exists()  # a clean exit stops the servers too

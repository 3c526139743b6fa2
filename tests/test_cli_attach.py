"""Commands beside a running `marketplace serve` on the same data dir: migrate, create-admin, watch and the
recommender's and analytics' commands use its embedded PostgreSQL and Valkey instead of refusing to start;
seed (and a second serve) still refuse; once it stops, the next command starts the servers itself."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from loadtest.server import free_port
from marketplace.cli import main
from marketplace.embedded import SERVERS_FILE, running_servers
from tests.conftest import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args])


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A tiny demo in a data dir of its own, served by `marketplace serve` on its embedded servers."""
    for name in ("DATABASE_URL", "REDIS_URL", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    data_dir = DATA_DIR / "attach"
    result = run(data_dir, "seed", "--size", "tiny", "--seed", "3")
    assert result.exit_code == 0, result.output
    port = free_port()
    log = (data_dir / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "marketplace", "--data-dir", str(data_dir), "serve", "--port", str(port)],
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DATA_DIR")},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{url}/products", timeout=5)
                break
            except httpx.TransportError:
                assert serve.poll() is None and time.monotonic() < deadline, (data_dir / "serve.log").read_text()
                time.sleep(0.3)
        yield data_dir, url
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
        log.close()
        assert not (data_dir / SERVERS_FILE).exists()  # gone with the servers
        result = run(data_dir, "migrate")  # nobody holds the data dir now: this starts (and stops) the servers
        shutil.rmtree(data_dir, ignore_errors=True)
        assert result.exit_code == 0, result.output


def test_commands_beside_serve_use_its_servers(served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir, url = served
    running = running_servers(data_dir)
    assert running is not None and running.http_url == url and running.redis_url

    result = run(data_dir, "migrate")
    assert result.exit_code == 0 and "database is up to date" in result.output, result.output

    password = "a long passphrase for ops"
    result = run(data_dir, "create-admin", "--email", "ops@example.com", "--password", password)
    assert result.exit_code == 0, result.output
    login = httpx.post(f"{url}/auth/login", json={"identifier": "ops@example.com", "password": password})
    assert login.status_code == 200, login.text  # the served marketplace knows the new admin

    result = run(data_dir, "recommender", "train")  # PostgreSQL and Valkey: what it stores, the server serves
    assert result.exit_code == 0, result.output
    assert httpx.get(f"{url}/recommendations/trending").json()["source"] == "trending"
    result = run(data_dir, "analytics", "segments")
    assert result.exit_code == 0 and "members" in result.output, result.output

    seen: dict[str, Any] = {}
    monkeypatch.setattr("realtime.watch.watch", lambda *args: seen.update(args=args))
    result = run(data_dir, "watch", "--email", "ops@example.com", "--password", password)
    assert result.exit_code == 0 and seen["args"][0] == url, result.output  # follows the server of the data dir

    result = run(data_dir, "seed", "--size", "tiny", "--reset")  # would empty the database under the server
    assert result.exit_code != 0 and "another marketplace process is running" in result.output

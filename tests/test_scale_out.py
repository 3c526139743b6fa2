"""Scale-out, proven: two app processes against one PostgreSQL and one Redis, behind HAProxy with the
repository's own config (deploy/haproxy.cfg). A socket on one process gets orders placed through the
other; killing the process whose relay leads hands the lead to the other with no event lost or repeated."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from marketplace.settings import Settings
from tests.test_realtime import free_port, open_feed, until

pytestmark = pytest.mark.timeout(120)
CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg"


def haproxy_binary() -> str:
    """Debian's HAProxy; the test set-up installs it when missing (as root, from the Debian packages)."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "haproxy"]):
            subprocess.run(command, check=False, capture_output=True, timeout=600)
        found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        pytest.skip("HAProxy is not installed and cannot be installed here")
    return found


async def wait_until_serving(url: str) -> None:
    last: object = None
    async with httpx.AsyncClient() as http:
        for _ in range(1200):  # a minute: importing the app's stack is slow on a busy two-core machine
            try:
                last: object = await http.get(url)
                if last.status_code == 200:  # type: ignore[attr-defined]
                    return
            except httpx.TransportError as error:
                last = error
            await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing serves {url} (last answer: {last})")


class Cluster:
    def __init__(self, balancer: str, processes: dict[int, asyncio.subprocess.Process]) -> None:
        self.balancer = balancer  # http://127.0.0.1:<port>
        self.processes = processes  # port → process


@pytest.fixture
async def cluster(settings: Settings, shop: dict[str, Any]) -> AsyncIterator[Cluster]:
    binary = haproxy_binary()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "DATA_DIR": str(settings.data_dir),
        "SANDBOX_GATEWAY": "true",
    }
    processes: dict[int, asyncio.subprocess.Process] = {}
    for _ in range(2):
        port = free_port()
        args = [sys.executable, "-m", "uvicorn", "marketplace.app:create_app", "--factory", "--port", str(port)]
        processes[port] = await asyncio.create_subprocess_exec(*args, "--log-level", "warning", env=env)
    listen = free_port()
    ports = list(processes)
    balancer = await asyncio.create_subprocess_exec(
        binary, "-db", "-f", str(CONFIG),
        env={**env, "LISTEN": f"127.0.0.1:{listen}", "APP1": f"127.0.0.1:{ports[0]}", "APP2": f"127.0.0.1:{ports[1]}"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for port in ports:
            await wait_until_serving(f"http://127.0.0.1:{port}/health")
        await wait_until_serving(f"http://127.0.0.1:{listen}/health")
        await asyncio.sleep(2.5)  # HAProxy's health checks see both servers up
        yield Cluster(f"http://127.0.0.1:{listen}", processes)
    finally:
        for process in [*processes.values(), balancer]:
            if process.returncode is None:
                process.terminate()
        for process in [*processes.values(), balancer]:
            await asyncio.wait_for(process.wait(), 15)


async def relay_leader(db: asyncpg.Connection) -> int:
    """The pid of the app process whose relay holds the lead (relays name their sessions after their pid)."""
    for _ in range(100):
        name = await db.fetchval(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'marketplace relay %'"
        )
        if name:
            return int(name.rsplit(" ", 1)[1])
        await asyncio.sleep(0.05)
    raise TimeoutError("no relay leads")


async def test_two_processes_behind_haproxy_share_the_feed_and_survive_the_leaders_death(
    cluster: Cluster, shop: dict[str, Any], db: asyncpg.Connection
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    feed_url = cluster.balancer.replace("http://", "ws://") + "/feed"
    topics = [f"vendor:{alpha.vendor_id}:orders"]
    address = (await buyer.get("/me/addresses")).json()
    address_id = (address["items"] if isinstance(address, dict) else address)[0]["id"]
    kettle_sku = shop["kettle"]["skus"][0]["id"]

    served_by: set[str] = set()

    async def place_through_balancer(http: httpx.AsyncClient) -> int:
        """One order for alpha, every request through HAProxy (round robin over both processes)."""
        for _ in range(20):  # a request that met the killed process before HAProxy noticed is retried
            try:
                r = await http.put(f"/cart/items/{kettle_sku}", json={"quantity": 1}, headers=buyer.headers)
                await http.get("/health")  # so that checkouts alternate between the processes too
                if r.status_code == 200:
                    r = await http.post("/checkouts", json={"address_id": address_id}, headers=buyer.headers)
                    if r.status_code == 201:
                        served_by.add(r.headers["x-served-by"])
                        return next(o["id"] for o in r.json()["orders"] if o["vendor_id"] == alpha.vendor_id)
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
        raise AssertionError("no checkout went through the balancer")

    received: list[dict[str, Any]] = []

    async def collect(ws: ClientConnection, count: int) -> None:
        while len(received) < count:
            received.append(await until(ws, "event", wait=15))

    async with httpx.AsyncClient(base_url=cluster.balancer, timeout=10) as http:
        ws = await open_feed(feed_url, alpha, topics)
        await until(ws, "subscribed")
        placed = [await place_through_balancer(http) for _ in range(4)]  # two through each process
        await collect(ws, 4)
        assert served_by == {"app1", "app2"}  # so some were placed through the process not holding the socket

        # The test's own in-process app runs a relay too; until a cluster process leads, end the leading
        # session (as a crash would) and let the relays contend again.
        cluster_pids = {p.pid for p in cluster.processes.values()}
        while (leader := await relay_leader(db)) not in cluster_pids:
            await db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                f"marketplace relay {leader}",
            )
            await asyncio.sleep(0.3)
        os.kill(leader, signal.SIGKILL)
        placed += [await place_through_balancer(http) for _ in range(4)]
        try:
            await collect(ws, 8)
        except websockets.ConnectionClosed:  # the socket lived on the killed process: resume through HAProxy
            for _ in range(40):
                try:
                    ws = await open_feed(feed_url, alpha, topics, last_id=received[-1]["id"])
                    break
                except (OSError, websockets.InvalidStatus):
                    await asyncio.sleep(0.25)
            await collect(ws, 8)
        assert await relay_leader(db) != leader  # the other process took the lead
        await ws.close()

    ids = [e["id"] for e in received]
    assert ids == sorted(ids) and len(set(ids)) == 8  # in order, none repeated
    assert [e["data"]["order_id"] for e in received] == placed  # none lost
    assert msgspec.json.encode(received)  # plain JSON all the way through the balancer

"""Real PostgreSQL and Redis for every test (embedded under .data/test unless TEST_DATABASE_URL /
TEST_REDIS_URL are set). Each test gets a fresh database cloned from a migrated template and an
empty Redis database, so tests never see each other's data."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from marketplace.accounts.passwords import password_hasher
from marketplace.app import create_app
from marketplace.core import fields
from marketplace.core.db import init_connection, migrate, with_database
from marketplace.embedded import embedded_servers, remove_dead_runs
from marketplace.seed import loader as seed_loader
from marketplace.settings import Settings, load_settings

pytest_plugins = ["tests.shop_fixtures", "tests.log_scan"]

TEMPLATE = "marketplace_template"
TEST_RUNS = Path(__file__).resolve().parent.parent / ".data" / "test-runs"
# Each test run has its own servers, so two runs at once (or a run beside `make run`) never collide.
DATA_DIR = TEST_RUNS / str(os.getpid())


@pytest.fixture(autouse=True)
def cheap_demo_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests seed the demo with the cheap password cost their settings use (the commands pass their settings'
    hasher to the seed); at the default cost every seed and every demo login would take a quarter second."""
    monkeypatch.setattr(seed_loader, "hasher_of", lambda _settings: password_hasher(1024, 1))


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    remove_dead_runs(TEST_RUNS)
    try:
        with embedded_servers(
            DATA_DIR, os.environ.get("TEST_DATABASE_URL", ""), os.environ.get("TEST_REDIS_URL", "")
        ) as urls:
            yield urls
    finally:
        shutil.rmtree(DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_url(server_urls: tuple[str, str]) -> str:
    """A database migrated once per session; every test database is a copy of it."""
    admin = await asyncpg.connect(with_database(server_urls[0], "postgres"))
    try:
        if not os.environ.get("TEST_DATABASE_URL"):
            # A throwaway test server need not survive a power cut; skipping fsync makes cloning cheap.
            for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
                await admin.execute(f"ALTER SYSTEM SET {setting}")
            await admin.execute("SELECT pg_reload_conf()")
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await admin.close()
    url = with_database(server_urls[0], TEMPLATE)
    await migrate(url)
    return url


@pytest.fixture
async def database_url(server_urls: tuple[str, str], template_url: str) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin_url = with_database(server_urls[0], "postgres")
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await admin.close()
    yield with_database(server_urls[0], name)
    admin = await asyncpg.connect(admin_url)  # a new connection: the test may have restarted the server
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def redis_url(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    redis = Redis.from_url(server_urls[1])
    await redis.flushdb()
    await redis.aclose()
    yield server_urls[1]


SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"


@pytest.fixture(autouse=True)
def field_keys() -> None:
    """Personal fields are sealed with the test run's keys, for the tests that seed without an app too."""
    fields.configure(Settings(data_dir=DATA_DIR, secret_key=SECRET_KEY))


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    settings = load_settings(
        database_url=database_url,
        redis_url=redis_url,
        data_dir=str(DATA_DIR),
        secret_key=SECRET_KEY,
        auth_rate_limit=1000,
        sandbox_gateway=True,  # the tests pay by card through it
        password_hash_memory_kib=1024,
        password_hash_time_cost=1,
    )
    return settings


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for arranging and checking state behind the API's back."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    yield conn
    await conn.close()


PASSWORD = "correct horse battery"


class Actor:
    """A signed-in user as the tests drive it: its id, headers and the client."""

    def __init__(self, client: AsyncTestClient[Litestar], user: dict[str, Any], tokens: dict[str, Any]):
        self.client = client
        self.id: int = user["id"]
        self.email: str = user["email"]
        self.tokens = tokens
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.client.get(path, headers=self.headers, **kw)

    async def post(self, path: str, **kw: Any) -> Any:
        return await self.client.post(path, headers=self.headers, **kw)

    async def patch(self, path: str, **kw: Any) -> Any:
        return await self.client.patch(path, headers=self.headers, **kw)

    async def put(self, path: str, **kw: Any) -> Any:
        return await self.client.put(path, headers=self.headers, **kw)

    async def delete(self, path: str, **kw: Any) -> Any:
        return await self.client.delete(path, headers=self.headers, **kw)


async def sign_up(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD) -> Actor:
    r = await client.post("/auth/register", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    user = r.json()
    r = await client.post("/auth/login", json={"identifier": email, "password": password})
    assert r.status_code == 200, r.text
    return Actor(client, user, r.json())


async def relogin(actor: Actor, password: str = PASSWORD) -> Actor:
    r = await actor.client.post("/auth/login", json={"identifier": actor.email, "password": password})
    assert r.status_code == 200, r.text
    return Actor(actor.client, {"id": actor.id, "email": actor.email}, r.json())


@pytest.fixture
async def buyer(client: AsyncTestClient[Litestar]) -> Actor:
    return await sign_up(client, "buyer@example.com")


@pytest.fixture
async def admin(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> Actor:
    actor = await sign_up(client, "admin@example.com")
    await db.execute("UPDATE users SET roles = '{buyer,admin}' WHERE id = $1", actor.id)
    return actor


ADDRESS = {
    "recipient": "Ann Buyer",
    "phone": "+4915112345678",
    "line1": "1 Market Street",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
SHOP = {"shop_name": "Blue Kettle", "contact_email": "shop@example.com", "licence_number": "LIC-12345"}


async def approved_vendor(client: AsyncTestClient[Litestar], admin: Actor, email: str, shop_name: str) -> Actor:
    actor = await sign_up(client, email)
    r = await actor.post("/vendor-applications", json={**SHOP, "shop_name": shop_name})
    assert r.status_code == 201, r.text
    r = await admin.post(f"/admin/vendor-applications/{r.json()['id']}/approve")
    assert r.status_code == 200, r.text
    actor.vendor_id = r.json()["id"]  # type: ignore[attr-defined]
    return actor

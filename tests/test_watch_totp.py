"""`marketplace watch` signs in an account that uses two-factor authentication: with `--totp-code`, or by
asking for a code when the server wants one, and renews its token later without needing another code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pyotp
import pytest
import uvicorn
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.cli import main
from marketplace.settings import Settings
from realtime.watch import Watcher
from tests.conftest import PASSWORD, sign_up

pytestmark = pytest.mark.timeout(60)
EMAIL = "twofactor@example.com"


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    """The app served by uvicorn on a free port, as `marketplace watch` reaches it."""
    from marketplace.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    await task


@pytest.fixture
async def totp(client: AsyncTestClient[Litestar]) -> pyotp.TOTP:
    """An account with two-factor on; its codes (each works once, the ones a step either side are accepted)."""
    user = await sign_up(client, EMAIL)
    enrolment = (await user.post("/auth/totp/enrol")).json()
    totp = pyotp.TOTP(enrolment["secret"])
    assert (await user.post("/auth/totp/confirm", json={"code": totp.now()})).status_code == 200
    return totp


def code(totp: pyotp.TOTP, step: int) -> str:
    return totp.at(time.time() + step * totp.interval)


async def watching(watcher: Watcher, lines: list[str]) -> None:
    task = asyncio.create_task(watcher.run())
    try:
        for _ in range(200):
            if any(line.startswith("-- watching") for line in lines):
                return
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        raise AssertionError(f"never watching: {lines}")
    finally:
        task.cancel()


async def test_watch_signs_in_with_a_totp_code_and_renews_without_another(server: str, totp: pyotp.TOTP) -> None:
    lines: list[str] = []

    def no_one_to_ask() -> str:
        raise AssertionError("asked for a code it did not need")

    watcher = Watcher(server, EMAIL, PASSWORD, [], lines.append, totp_code=code(totp, 1), ask_code=no_one_to_ask)
    await watching(watcher, lines)
    # The access token expired or was revoked: the client renews it, though its code cannot be used again.
    first = watcher.token
    watcher.token = None
    await watcher._login()
    assert watcher.token not in (None, first)


async def test_watch_asks_for_a_code_when_the_server_wants_one(server: str, totp: pyotp.TOTP) -> None:
    lines: list[str] = []
    answers = iter(["000000", f" {code(totp, 1)} "])  # a wrong code first, then a right one
    watcher = Watcher(server, EMAIL, PASSWORD, [], lines.append, ask_code=lambda: next(answers))
    await watching(watcher, lines)
    assert "-- wrong two-factor code" in lines


async def test_watch_without_a_code_and_no_one_to_ask_says_what_to_pass(server: str, totp: pyotp.TOTP) -> None:
    with pytest.raises(SystemExit, match="--totp-code"):
        await Watcher(server, EMAIL, PASSWORD, [], print)._login()


def test_the_watch_command_takes_a_totp_code(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("realtime.watch.watch", lambda *args: seen.update(args=args))
    result = CliRunner().invoke(main, ["watch", "--email", EMAIL, "--password", PASSWORD, "--totp-code", "123456"])
    assert result.exit_code == 0, result.output
    # No terminal here (stdin is not one): nobody to ask for another code.
    assert seen["args"][1:] == (EMAIL, PASSWORD, [], "123456", None)

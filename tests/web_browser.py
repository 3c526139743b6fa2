"""What the browser tests share: Debian's Chromium (installed by the set-up when missing, as tests/test_scale_out.py
installs HAProxy), one headless browser for the whole session driven by Playwright, the app served by uvicorn
on a free port against the test's databases, and screenshots at desktop and phone widths under
.data/screenshots/ (looked at by people, not compared)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from loadtest.server import free_port
from marketplace.app import create_app
from marketplace.settings import Settings

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / ".data" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
WIDTHS = {"desktop": (1280, 900), "phone": (375, 760)}


def chromium() -> str:
    """Debian's Chromium (and a CJK font for the demo's Chinese titles), installed from the Debian packages when
    missing and we are root: never Playwright's own browser download."""
    if not Path(CHROMIUM).exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-qq", "chromium", "fonts-wqy-zenhei"]
        for command in (["apt-get", "update", "-qq"], install):
            subprocess.run(command, check=False, capture_output=True, timeout=900)
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed and cannot be (not root, or no apt-get)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        yield launched
        await launched.close()


class Site(str):
    """The served app's base URL, with that app."""

    app: Any


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    """The app on a free port, its public address that port (the sandbox gateway calls the webhook there)."""
    port = free_port()
    app = create_app(msgspec.structs.replace(settings, public_url=f"http://127.0.0.1:{port}"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    url = Site(f"http://127.0.0.1:{port}")
    url.app = app
    yield url
    server.should_exit = True
    await task


class Tab:
    """A page in its own browser context (its own cookies), recording what its console reports as errors."""

    def __init__(self, context: BrowserContext, page: Page, base: str) -> None:
        self.context, self.page, self.base = context, page, base
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    async def go(self, path: str) -> Page:
        await self.page.goto(self.base + path)
        return self.page

    async def shoot(self, name: str) -> None:
        """Full-page screenshots at desktop and phone width."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width, size in WIDTHS.items():
            await self.page.set_viewport_size({"width": size[0], "height": size[1]})
            await self.page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
        await self.page.set_viewport_size({"width": 1280, "height": 900})

    def assert_clean(self) -> None:
        """No script errors and no content-security-policy refusals on the pages it opened."""
        assert not self.errors, self.errors


async def open_tab(browser: Browser, base: str) -> Tab:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    return Tab(context, await context.new_page(), base)


async def sign_in(tab: Tab, email: str, password: str) -> None:
    page = await tab.go("/login")
    await page.get_by_label("Email or phone number").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Sign out").wait_for()

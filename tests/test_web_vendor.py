"""The vendor console's first pages: the live order board and the stock page. Over HTTP: only an active vendor
sees them, the board's forms move orders through the same transition as the API (and not without the CSRF
token), the stock form sets on hand. In a real browser: a paid order appears on the open board without a
reload, the vendor ships it from there, and the buyer's open order page shows it shipped, live."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, expect

from tests import web_browser
from tests.conftest import ADDRESS, PASSWORD
from tests.test_web_pages import csrf_of, sign_in
from tests.web_browser import Site, open_tab
from tests.web_browser import sign_in as browser_sign_in

browser, site = web_browser.browser, web_browser.site  # the fixtures

pytestmark = pytest.mark.timeout(90)
QUIET = ".htmx-request, .htmx-swapping, .htmx-settling"  # a board refresh under way (a locator: the CSP forbids eval)


async def test_a_buyer_is_refused_the_console_and_a_visitor_is_sent_to_sign_in(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    orders = await shop["checkout"](pay=True)
    order_id = orders[shop["alpha"].vendor_id]["id"]
    for path in ("/vendor", "/vendor/console/board", "/vendor/console/stock", "/vendor/console/stock/list"):
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert (await sign_in(client, shop["buyer"].email)).status_code == 303
    home = await client.get("/")
    assert "Vendor console" not in home.text
    for path in ("/vendor", "/vendor/console/board", "/vendor/console/stock"):
        r = await client.get(path)
        assert r.status_code == 403, path
        assert f"Order #{order_id}" not in r.text and "Kettle" not in r.text and "K-" not in r.text
    r = await client.post(f"/vendor/console/orders/{order_id}/accept", data={"csrf_token": csrf_of(home.text)})
    assert r.status_code == 403
    assert (await shop["alpha"].get(f"/vendor/orders/{order_id}")).json()["order"]["status"] == "paid"


async def test_the_vendor_accepts_and_ships_from_the_board_and_a_form_without_csrf_changes_nothing(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    alpha = shop["alpha"]
    orders = await shop["checkout"](pay=True)
    order_id = orders[alpha.vendor_id]["id"]
    other_shops = orders[shop["beta"].vendor_id]["id"]
    assert (await sign_in(client, alpha.email)).status_code == 303
    assert "Vendor console" in (await client.get("/")).text
    board = await client.get("/vendor")
    assert board.status_code == 200
    assert f"Order #{order_id}" in board.text and f"Order #{other_shops}" not in board.text
    total = orders[alpha.vendor_id]["total"]
    assert "2 \u00d7 Kettle" in board.text and f"{total // 100}.{total % 100:02d} EUR" in board.text
    assert 'data-feed-topics="vendor:' in board.text and ":orders" in board.text
    status = lambda: alpha.get(f"/vendor/orders/{order_id}")  # noqa: E731

    accept = f"/vendor/console/orders/{order_id}/accept"
    for data in ({}, {"csrf_token": "forged"}):
        assert (await client.post(accept, data=data, follow_redirects=False)).status_code == 403
    assert (await status()).json()["order"]["status"] == "paid"
    r = await client.post(accept, data={"csrf_token": csrf_of(board.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/vendor"
    assert (await status()).json()["order"]["status"] == "accepted"

    board = await client.get("/vendor")
    assert ADDRESS["line1"] in board.text and ADDRESS["phone"] in board.text  # where to send it, opened
    ship = f"/vendor/console/orders/{order_id}/ship"
    bad = {"csrf_token": csrf_of(board.text), "carrier": "DHL", "tracking_number": "no spaces!"}
    assert (await client.post(ship, data=bad)).status_code == 400
    assert (await status()).json()["order"]["status"] == "accepted"
    form = {"csrf_token": csrf_of(board.text), "carrier": "DHL", "tracking_number": "JJD0001234"}
    r = await client.post(ship, data=form, headers={"HX-Request": "true"})  # htmx: the fresh board comes back
    assert r.status_code == 200 and 'id="board"' in r.text and "JJD0001234" in r.text
    order = (await status()).json()["order"]
    assert order["status"] == "shipped" and order["tracking_number"] == "JJD0001234"
    # another shop's order is not found from this board
    r = await client.post(f"/vendor/console/orders/{other_shops}/accept", data={"csrf_token": csrf_of(board.text)})
    assert r.status_code == 404


async def test_the_stock_page_lists_skus_and_sets_on_hand(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    alpha, sku = shop["alpha"], shop["kettle"]["skus"][0]
    assert (await sign_in(client, alpha.email)).status_code == 303
    stock = await client.get("/vendor/console/stock")
    assert stock.status_code == 200 and sku["code"] in stock.text and "Hose" not in stock.text
    assert f"vendor:{alpha.vendor_id}:stock" in stock.text
    form = {"csrf_token": csrf_of(stock.text), "on_hand": "3"}
    r = await client.post(f"/vendor/console/stock/{sku['id']}", data=form, follow_redirects=False)
    assert r.status_code == 303
    levels = (await alpha.get("/vendor/inventory")).json()["items"]
    assert [(s["on_hand"], s["low"]) for s in levels if s["sku_id"] == sku["id"]] == [(3, True)]
    assert "Low (≤" in (await client.get("/vendor/console/stock")).text
    hose = shop["hose"]["skus"][0]["id"]  # another shop's SKU
    r = await client.post(f"/vendor/console/stock/{hose}", data=form)
    assert r.status_code == 404


async def test_a_paid_order_appears_on_the_open_board_live_and_ships_from_it_to_the_buyers_page(
    browser: Browser, site: Site, shop: dict[str, Any]
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    vendor_tab = await open_tab(browser, site)
    await browser_sign_in(vendor_tab, alpha.email, PASSWORD)
    board = await vendor_tab.go("/vendor")
    await expect(board.get_by_role("heading", name="Order board")).to_be_visible()
    await board.wait_for_function("document.body.dataset.feed === 'open'")
    await vendor_tab.shoot("vendor-board-empty")

    started = time.monotonic()
    orders = await shop["checkout"](pay=True)
    order_id = orders[alpha.vendor_id]["id"]
    card = board.locator(f'[data-order-id="{order_id}"]')
    await expect(card).to_be_visible(timeout=2_000)  # live, no reload
    print(f"card on the board {time.monotonic() - started:.2f} s after the checkout began")
    await expect(card).to_have_class(re.compile(r"\bnew\b"))  # highlighted
    await expect(card.get_by_text("2 \u00d7 Kettle")).to_be_visible()
    await expect(board.locator(QUIET)).to_have_count(0)
    await vendor_tab.shoot("vendor-board-new")

    buyer_tab = await open_tab(browser, site)
    await browser_sign_in(buyer_tab, buyer.email, PASSWORD)
    mine = await buyer_tab.go(f"/shop/orders/{order_id}")
    await mine.wait_for_function("document.body.dataset.feed === 'open'")
    status = mine.locator("#order-status")

    await card.get_by_role("button", name="Accept").click()
    card = board.locator(f'[data-order-id="{order_id}"]')
    await card.get_by_label("Carrier").fill("DHL")
    await card.get_by_label("Tracking number").fill("JJD0001234")
    await vendor_tab.shoot("vendor-board-accepted")
    await card.get_by_role("button", name=f"Ship order #{order_id}").click()
    shipped = board.get_by_role("list", name="Shipped")
    await expect(shipped.get_by_text("JJD0001234")).to_be_visible()
    await expect(status.get_by_text("JJD0001234")).to_be_visible()  # the buyer's page, live
    await expect(mine.locator(f'[data-order-status="{order_id}"]')).to_have_text("Shipped")
    await buyer_tab.shoot("vendor-buyer-order-shipped")
    await expect(board.locator(QUIET)).to_have_count(0)
    await vendor_tab.shoot("vendor-board-shipped")

    await vendor_tab.go("/vendor/console/stock")
    await expect(board.get_by_role("heading", name="Stock")).to_be_visible()
    await vendor_tab.shoot("vendor-stock")
    vendor_tab.assert_clean()
    buyer_tab.assert_clean()
    await vendor_tab.context.close()
    await buyer_tab.context.close()

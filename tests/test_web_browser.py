"""The shop in a real browser (headless Chromium from Debian, driven by Playwright): what a shopper does, from
searching with a typo to watching an order change live. Screenshots of each page land in .data/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, expect

from tests import web_browser
from tests.catalog_helpers import category_tree, product
from tests.conftest import PASSWORD, Actor, approved_vendor, sign_up
from tests.web_browser import Site, open_tab, sign_in

browser, site = web_browser.browser, web_browser.site  # the fixtures

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def kettles(client: AsyncTestClient[Litestar], admin: Actor) -> dict[str, Any]:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "kettles@example.com", "Kettle Corner")
    skus = [{"code": "S-RED", "price": 3450, "stock": 7, "attributes": {"colour": "red"}},
            {"code": "S-BLK", "price": 3650, "stock": 0, "attributes": {"colour": "black"}}]  # fmt: skip
    steel = await product(vendor, cats["Kettles"], "Steel Kettle", brand="Brewmaster", skus=skus,
                          description="A 1.7 litre kettle that boils in three minutes.")  # fmt: skip
    glass = await product(vendor, cats["Kettles"], "Glass Kettle", 2990, brand="Clearbrew")
    await product(vendor, cats["Garden"], "Garden Hose", 1999)
    return {"cats": cats, "vendor": vendor, "steel": steel, "glass": glass}


async def test_a_visitor_searching_kettel_finds_kettles_and_opens_one(
    browser: Browser, site: Site, kettles: dict[str, Any], client: AsyncTestClient[Litestar]
) -> None:
    tab = await open_tab(browser, site)
    page = await tab.go("/")
    await expect(page.get_by_role("heading", name="Trending now")).to_be_visible()
    await tab.shoot("home")
    await page.get_by_role("searchbox", name="Search products").fill("kettel")
    await page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_role("list", name="Products")
    await expect(results.get_by_role("link", name="Steel Kettle")).to_be_visible()
    await expect(results.get_by_role("link", name="Glass Kettle")).to_be_visible()
    await expect(page.get_by_text("Garden Hose")).to_have_count(0)
    await expect(page.get_by_text("34.50 EUR").first).to_be_visible()
    await tab.shoot("search")
    await results.get_by_role("link", name="Steel Kettle").click()
    await expect(page.get_by_role("heading", name="Steel Kettle", level=1)).to_be_visible()
    await expect(page.get_by_text("7 in stock")).to_be_visible()
    await expect(page.get_by_role("radio", name="black")).to_be_disabled()  # sold out
    await tab.shoot("product")
    await (await tab.go("/login")).get_by_label("Email or phone number").wait_for()
    await tab.shoot("login")
    tab.assert_clean()
    await tab.context.close()


async def test_stock_on_a_product_page_changes_live_when_someone_buys(
    browser: Browser, site: Site, kettles: dict[str, Any], client: AsyncTestClient[Litestar]
) -> None:
    tab = await open_tab(browser, site)
    page = await tab.go(f"/shop/products/{kettles['steel']['id']}")
    await expect(page.get_by_text("7 in stock")).to_be_visible()
    await page.wait_for_function("document.body.dataset.feed === 'open'")
    other = await sign_up(client, "other@example.com")
    sku = kettles["steel"]["skus"][0]["id"]
    address = (await other.post("/me/addresses", json=ADDRESS)).json()
    assert (await other.put(f"/cart/items/{sku}", json={"quantity": 3})).status_code == 200
    assert (await other.post("/checkouts", json={"address_id": address["id"]})).status_code == 201
    await expect(page.get_by_text("4 in stock")).to_be_visible()  # no reload
    tab.assert_clean()
    await tab.context.close()


ADDRESS = {"recipient": "Ann Buyer", "phone": "+4915112345678", "line1": "1 Market Street", "city": "Berlin",
           "postal_code": "10115", "country": "DE"}  # fmt: skip


async def test_a_buyer_signs_in_and_out_through_the_pages(
    browser: Browser, site: Site, client: AsyncTestClient[Litestar]
) -> None:
    buyer = await sign_up(client, "pages@example.com")
    tab = await open_tab(browser, site)
    await sign_in(tab, buyer.email, PASSWORD)
    page = tab.page
    await expect(page.get_by_role("link", name="Account")).to_be_visible()
    cookies = {c["name"]: c for c in await tab.context.cookies()}
    assert cookies["mp_access"]["httpOnly"] and cookies["mp_access"]["sameSite"] == "Lax"
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    tab.assert_clean()
    await tab.context.close()

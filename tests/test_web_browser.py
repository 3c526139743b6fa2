"""The shop in a real browser (headless Chromium from Debian, driven by Playwright): what a shopper does, from
searching with a typo to watching an order change live. Screenshots of each page land in .data/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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


async def test_a_buyer_checks_out_two_shops_with_a_coupon_and_the_gateway_and_watches_the_order_ship_live(
    browser: Browser, site: Site, shop: dict[str, Any], admin: Actor
) -> None:
    window = {"starts_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
              "ends_at": (datetime.now(UTC) + timedelta(days=7)).isoformat()}  # fmt: skip
    coupon = {"name": "Five off", "kind": "fixed", "audience": "code", "amount_off": 500, "code": "FIVEOFF"}
    assert (await admin.post("/marketing/coupons", json=coupon | window)).status_code == 201
    buyer, alpha = shop["buyer"], shop["alpha"]
    tab = await open_tab(browser, site)
    await sign_in(tab, buyer.email, PASSWORD)
    page = tab.page
    for item in (shop["kettle"], shop["hose"]):
        await tab.go(f"/shop/products/{item['id']}")
        await page.get_by_role("button", name="Add to cart").click()
        await expect(page.get_by_text("Added to your cart")).to_be_visible()
    await expect(page.locator("#cart-count")).to_have_text("2")
    await page.get_by_role("link", name="View cart").click()
    await expect(page.get_by_role("heading", name="From Alpha")).to_be_visible()
    await expect(page.get_by_role("heading", name="From Beta")).to_be_visible()
    await tab.shoot("cart")
    await page.get_by_role("link", name="Go to checkout").click()
    await page.get_by_label("Coupon code").fill("FIVEOFF")
    await tab.shoot("checkout")
    await page.get_by_role("button", name="Place order").click()
    await expect(page.get_by_text("Discounts")).to_be_visible()
    await expect(page.get_by_text("89.99 EUR").first).to_be_visible()  # 30 + 4.99 shipping (under 50) + 60 - 5
    await tab.shoot("pay")
    await page.get_by_role("button", name="Pay").click()
    await expect(page.get_by_role("heading", name="Approve a card payment")).to_be_visible()
    await tab.shoot("gateway")
    await page.get_by_role("button", name="Approve payment").click()
    await expect(page.get_by_text("Paid — thank you")).to_be_visible()
    await page.get_by_role("link", name=re.compile(r"Order #\d+")).first.click()
    order_id = int(page.url.rsplit("/", 1)[1])
    status = page.locator("#order-status")
    await expect(status.get_by_text("Paid", exact=True).first).to_be_visible()
    await page.wait_for_function("document.body.dataset.feed === 'open'")
    alphas = [o["id"] for o in (await alpha.get("/vendor/orders")).json()["items"]]
    vendor = alpha if order_id in alphas else shop["beta"]
    assert (await vendor.post(f"/vendor/orders/{order_id}/accept")).status_code == 200
    await expect(status.get_by_text("Accepted", exact=True).first).to_be_visible()
    ship = {"carrier": "DHL", "tracking_number": "JJD0001234"}
    assert (await vendor.post(f"/vendor/orders/{order_id}/ship", json=ship)).status_code == 200
    await expect(status.get_by_text("JJD0001234")).to_be_visible()  # live, no reload
    await expect(page.locator(f'[data-order-status="{order_id}"]')).to_have_text("Shipped")
    await tab.shoot("order")
    await page.get_by_role("link", name="Orders", exact=True).click()
    await expect(page.get_by_text(f"Order #{order_id}")).to_be_visible()
    await tab.shoot("orders")
    tab.assert_clean()
    await tab.context.close()

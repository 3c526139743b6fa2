"""The shop in a real browser (headless Chromium from Debian, driven by Playwright): what a shopper does, from
searching with a typo to watching an order change live. Screenshots of each page land in .data/screenshots/."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, expect
from redis.asyncio import Redis

from marketplace.core.db import create_pool
from marketplace.seed.loader import DEMO_PASSWORD, seed
from marketplace.settings import Settings
from recommender import serving
from recommender.worker import Worker
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


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_a_flash_sales_units_left_drop_live_when_another_buyer_buys(
    browser: Browser, site: Site, shop: dict[str, Any], client: AsyncTestClient[Litestar]
) -> None:
    sku = shop["kettle"]["skus"][0]["id"]
    body = {"sku_id": sku, "sale_price": 1999, "units": 5, "starts_at": at(-1), "ends_at": at(3600),
            "per_buyer_limit": 2}  # fmt: skip
    sale = (await shop["alpha"].post("/vendor/flash-sales", json=body)).json()
    shopper = await sign_up(client, "flash@example.com")
    await shopper.post("/me/addresses", json=ADDRESS)
    tab = await open_tab(browser, site)
    await sign_in(tab, shopper.email, PASSWORD)
    page = await tab.go(f"/shop/products/{shop['kettle']['id']}")
    remaining = page.locator(f'[data-flash-remaining="{sale["id"]}"]').first
    await expect(remaining).to_have_text("5")
    await expect(page.get_by_text("19.99 EUR").first).to_be_visible()
    await page.wait_for_function("document.body.dataset.feed === 'open'")
    buyer = shop["buyer"]
    address = (await buyer.get("/me/addresses")).json()[0]["id"]
    r = await buyer.post(f"/flash-sales/{sale['id']}/purchase", json={"address_id": address, "quantity": 2})
    assert r.status_code == 201, r.text
    await expect(remaining).to_have_text("3")  # live, no reload
    await tab.shoot("flash-sale")
    await page.get_by_role("button", name="Buy now at the sale price").click()  # through the same gate
    await expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
    await expect(page.get_by_text("19.99 EUR").first).to_be_visible()
    tab.assert_clean()
    await tab.context.close()


async def test_a_buyer_asks_to_return_a_delivered_item_and_talks_with_the_shop(
    browser: Browser, site: Site, shop: dict[str, Any]
) -> None:
    orders = await shop["checkout"](pay=True)
    alpha = shop["alpha"]
    order_id = orders[alpha.vendor_id]["id"]
    for step, body in (("accept", None), ("ship", {"carrier": "DHL", "tracking_number": "JJD0009"}), ("deliver", None)):
        assert (await alpha.post(f"/vendor/orders/{order_id}/{step}", json=body)).status_code == 200
    tab = await open_tab(browser, site)
    await sign_in(tab, shop["buyer"].email, PASSWORD)
    page = await tab.go(f"/shop/orders/{order_id}")
    await page.get_by_role("link", name="Return, exchange or refund").click()
    await page.get_by_label("Return it for a refund").check()
    await page.get_by_label("Reason").fill("The lid does not close")
    await page.get_by_label("Message to the shop").fill("Can you send a label?")
    await tab.shoot("return-form")
    await page.get_by_role("button", name="Send request").click()
    thread = page.get_by_role("list").filter(has_text="Can you send a label?")
    await expect(thread).to_be_visible()
    await expect(page.locator("[data-claim-status]")).to_have_text("Requested")
    await page.wait_for_function("document.body.dataset.feed === 'open'")
    request_id = int(page.url.rsplit("/", 1)[1])
    r = await alpha.post(f"/vendor/aftersales/{request_id}/messages", json={"body": "Label attached, sorry!"})
    assert r.status_code in (200, 201), r.text
    await expect(page.get_by_text("Label attached, sorry!")).to_be_visible()  # live
    assert (await alpha.post(f"/vendor/aftersales/{request_id}/approve")).status_code == 200
    await expect(page.locator("[data-claim-status]")).to_have_text("Approved")
    await page.get_by_label("Write to Alpha").fill("Thanks, posting it today.")
    await page.get_by_role("button", name="Send message").click()
    await expect(page.get_by_text("Thanks, posting it today.")).to_be_visible()
    await tab.shoot("return")
    tab.assert_clean()
    await tab.context.close()


async def test_the_recommended_strip_changes_live_while_the_buyer_browses(
    browser: Browser, site: Site, db: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    await seed(db, "tiny", 2, quiet=True)
    pool = await create_pool(settings.database_url, 1, 2)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        worker = Worker(pool, redis, tmp_path)  # the recommender worker, stepped by hand
        await worker.load_or_train()
        worker.last_id = await db.fetchval("SELECT coalesce(max(id), 0) FROM interactions")
        buyer_id = int((await redis.keys("recs:user:*"))[0].rsplit(":", 1)[1])
        email = await db.fetchval("SELECT email FROM users WHERE id = $1", buyer_id)
        tab = await open_tab(browser, site)
        await sign_in(tab, email, DEMO_PASSWORD)
        page = tab.page
        strip = page.locator("#recommended")
        await expect(strip.get_by_role("heading", name="Recommended for you")).to_be_visible()
        first = await strip.locator(".card-link").first.get_attribute("href")
        assert first is not None
        await page.wait_for_function("document.body.dataset.feed === 'open'")
        await tab.shoot("home-signed-in")
        browsing = await tab.context.new_page()  # the buyer looks at the first suggestion in another tab
        await browsing.goto(site + first)
        async with page.expect_response(lambda r: r.url.endswith("/shop/recommended"), timeout=10_000) as fetched:
            for _ in range(40):  # the recorder writes views every half second
                if await worker.follow():
                    break
                await asyncio.sleep(0.25)
            else:
                raise AssertionError("the view never reached the recommender")
        assert (await fetched.value).ok  # re-ranked live: the feed said so and the strip fetched its new list
        await expect(strip.locator(".card")).not_to_have_count(0)
        # A viewed product stays recommendable (only bought ones leave the list); the strip shows the new list.
        ranked = await serving.for_buyer(pool, redis, buyer_id, 10)
        shown = await strip.locator(".card-link").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert shown == [f"/shop/products/{card.id}" for card in ranked.items][: len(shown)]
        tab.assert_clean()
        await tab.context.close()
    finally:
        await redis.aclose()
        await pool.close()

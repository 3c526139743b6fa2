"""The vendor console's catalog pages (marketplace/web/pages/vendor_catalog.py): products, flash sales and coupons.
Over HTTP: a buyer gets 403 and none of the shop's data; a vendor creates, edits, pictures and lists a product
that then shows in the shop, schedules and cancels a flash sale, creates and disables a coupon, all through
the services the JSON API calls; another shop's ids are not found. In a real browser: a product with a
picture, created and listed from the console, screenshotted at desktop and phone width."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from playwright.async_api import Browser, expect

from tests import web_browser
from tests.conftest import PASSWORD
from tests.test_web_pages import csrf_of, sign_in
from tests.web_browser import Site, open_tab
from tests.web_browser import sign_in as browser_sign_in

browser, site = web_browser.browser, web_browser.site  # the fixtures

pytestmark = pytest.mark.timeout(90)
PAGES = ["/vendor/console/products", "/vendor/console/flash-sales", "/vendor/console/coupons"]


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def local(at: datetime) -> str:
    """As a `datetime-local` field sends it (the console's times are UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


async def test_a_buyer_gets_403_and_no_data_on_every_catalog_page(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    kettle = shop["kettle"]
    for path in [*PAGES, f"/vendor/console/products/{kettle['id']}"]:
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert (await sign_in(client, shop["buyer"].email)).status_code == 303
    for path in [*PAGES, f"/vendor/console/products/{kettle['id']}"]:
        r = await client.get(path)
        assert r.status_code == 403, path
        assert "Kettle" not in r.text and "STD" not in r.text and "New product" not in r.text, path
    token = csrf_of((await client.get("/shop/rewards")).text)
    r = await client.post(f"/vendor/console/products/{kettle['id']}/unlist", data={"csrf_token": token})
    assert r.status_code == 403
    assert (await shop["alpha"].get(f"/vendor/products/{kettle['id']}")).json()["status"] == "listed"


async def test_a_vendor_creates_edits_pictures_and_lists_a_product_that_shows_in_the_shop(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    alpha, category = shop["alpha"], shop["kettle"]["category_id"]
    assert (await sign_in(client, alpha.email)).status_code == 303
    products = await client.get("/vendor/console/products")
    assert products.status_code == 200 and "Kettle" in products.text and "Hose" not in products.text
    token = csrf_of(products.text)
    new = {"csrf_token": token, "title": "Teapot", "category_id": str(category), "description": "Cast iron.",
           "sku_code": "TP-1", "price": "24.90", "currency": "EUR", "options": "colour: black",
           "stock": "7"}  # fmt: skip
    bad = await client.post("/vendor/console/products", data={**new, "price": "cheap"})
    assert bad.status_code == 400 and "Check price" in bad.text and 'value="Teapot"' in bad.text  # shown, kept
    r = await client.post("/vendor/console/products", data=new, follow_redirects=False)
    assert r.status_code == 303, r.text
    product_id = int(r.headers["location"].rsplit("/", 1)[1])
    made = (await alpha.get(f"/vendor/products/{product_id}")).json()
    assert made["status"] == "draft" and made["currency"] == "EUR"
    assert [(s["code"], s["price"], s["attributes"], s["on_hand"]) for s in made["skus"]] == [
        ("TP-1", 2490, {"colour": "black"}, 7)
    ]
    assert (await client.get(f"/shop/products/{product_id}")).status_code == 404  # a draft: not in the shop

    page = await client.get(f"/vendor/console/products/{product_id}")
    assert page.status_code == 200 and "List it" in page.text and "24.90" in page.text
    base = f"/vendor/console/products/{product_id}"
    edit = {"csrf_token": token, "title": "Iron teapot", "category_id": str(category), "brand": "Nanbu",
            "model": "", "description": "Cast iron, 0.8 l."}  # fmt: skip
    assert (await client.post(base, data=edit, follow_redirects=False)).status_code == 303
    sku_id = made["skus"][0]["id"]
    sku = {"csrf_token": token, "price": "22.50", "options": "colour: black, size: 0.8 l", "low_stock_threshold": "2"}
    assert (await client.post(f"{base}/skus/{sku_id}", data=sku, follow_redirects=False)).status_code == 303
    more = {"csrf_token": token, "code": "TP-2", "price": "29", "options": "colour: red", "stock": "3"}
    assert (await client.post(f"{base}/skus", data=more, follow_redirects=False)).status_code == 303
    twice = await client.post(f"{base}/skus", data=more)
    assert twice.status_code == 409 and "used twice" in twice.text
    not_a_picture = await client.post(
        f"{base}/images", data={"csrf_token": token}, files={"file": ("x.png", b"not an image", "image/png")}
    )
    assert not_a_picture.status_code == 422 and 'role="alert"' in not_a_picture.text
    r = await client.post(
        f"{base}/images", data={"csrf_token": token}, files={"file": ("pot.png", png_bytes(), "image/png")},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    made = (await alpha.get(f"/vendor/products/{product_id}")).json()
    assert made["title"] == "Iron teapot" and made["brand"] == "Nanbu" and made["description"] == "Cast iron, 0.8 l."
    assert {s["code"]: (s["price"], s["attributes"]) for s in made["skus"]} == {
        "TP-1": (2250, {"colour": "black", "size": "0.8 l"}),
        "TP-2": (2900, {"colour": "red"}),
    }
    assert [(i["width"], i["height"]) for i in made["images"]] == [(64, 48)]

    r = await client.post(f"{base}/list", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    page = await client.get(base)
    assert "Unlist" in page.text and made["images"][0]["url"] in page.text
    shown = await client.get(f"/shop/products/{product_id}")
    assert shown.status_code == 200 and "Iron teapot" in shown.text and made["images"][0]["url"] in shown.text
    listed = await client.get("/vendor/console/products?status=listed")
    draft = await client.get("/vendor/console/products?status=draft")
    assert "Iron teapot" in listed.text and "Iron teapot" not in draft.text


async def test_a_taken_down_product_says_why_and_offers_no_list_button(
    client: AsyncTestClient[Litestar], shop: dict[str, Any], admin: Any
) -> None:
    alpha, kettle = shop["alpha"], shop["kettle"]
    r = await admin.post(f"/admin/products/{kettle['id']}/take-down", json={"reason": "Counterfeit listing"})
    assert r.status_code == 200, r.text
    assert (await sign_in(client, alpha.email)).status_code == 303
    page = await client.get(f"/vendor/console/products/{kettle['id']}")
    assert page.status_code == 200 and "Counterfeit listing" in page.text
    assert "List it" not in page.text and "/list" not in page.text
    r = await client.post(f"/vendor/console/products/{kettle['id']}/list", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 409 and "taken down by the marketplace" in r.text
    assert (await alpha.get(f"/vendor/products/{kettle['id']}")).json()["status"] == "taken_down"


async def test_another_shops_product_sale_and_coupon_are_not_found_and_show_nothing(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    beta, hose = shop["beta"], shop["hose"]
    now = datetime.now(UTC)
    sale = await beta.post("/vendor/flash-sales", json={
        "sku_id": hose["skus"][0]["id"], "sale_price": 4000, "units": 2,
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat()})  # fmt: skip
    assert sale.status_code == 201, sale.text
    coupon = await beta.post("/vendor/coupons", json={
        "name": "Beta secret", "kind": "fixed", "audience": "automatic", "scope": "vendor",
        "scope_ids": [beta.vendor_id], "amount_off": 100, "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat()})  # fmt: skip
    assert coupon.status_code == 201, coupon.text
    assert (await sign_in(client, shop["alpha"].email)).status_code == 303
    r = await client.get(f"/vendor/console/products/{hose['id']}")
    assert r.status_code == 404 and "Hose" not in r.text
    token = csrf_of((await client.get("/vendor/console/products")).text)
    for path, data in [
        (f"/vendor/console/products/{hose['id']}", {"title": "Mine now", "category_id": str(hose["category_id"])}),
        (f"/vendor/console/products/{hose['id']}/unlist", {}),
        (f"/vendor/console/products/{hose['id']}/skus/{hose['skus'][0]['id']}", {"price": "1"}),
    ]:
        r = await client.post(path, data={"csrf_token": token, **data})
        assert r.status_code == 404 and "Hose" not in r.text, path
    r = await client.post(f"/vendor/console/flash-sales/{sale.json()['id']}/cancel", data={"csrf_token": token})
    assert r.status_code == 404 and "Hose" not in r.text
    r = await client.post(f"/vendor/console/coupons/{coupon.json()['id']}/disable", data={"csrf_token": token})
    assert r.status_code == 404 and "Beta secret" not in r.text
    for path in PAGES:
        r = await client.get(path)
        assert r.status_code == 200 and "Hose" not in r.text and "Beta secret" not in r.text, path
    assert (await beta.get(f"/vendor/products/{hose['id']}")).json()["status"] == "listed"
    assert (await beta.get(f"/vendor/coupons/{coupon.json()['id']}")).json()["disabled_at"] is None


async def test_a_vendor_schedules_and_cancels_a_flash_sale_with_its_counter_on_the_stock_topic(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    alpha, kettle = shop["alpha"], shop["kettle"]
    sku_id = kettle["skus"][0]["id"]
    assert (await sign_in(client, alpha.email)).status_code == 303
    sales = await client.get("/vendor/console/flash-sales")
    assert sales.status_code == 200 and "No flash sale yet" in sales.text and f'value="{sku_id}"' in sales.text
    token, now = csrf_of(sales.text), datetime.now(UTC)
    form = {"csrf_token": token, "sku_id": str(sku_id), "sale_price": "19.90", "units": "4",
            "starts_at": local(now - timedelta(minutes=1)), "ends_at": local(now + timedelta(hours=2)),
            "per_buyer_limit": "2"}  # fmt: skip
    too_dear = await client.post("/vendor/console/flash-sales", data={**form, "sale_price": "30"})
    assert too_dear.status_code == 422 and "below the list price" in too_dear.text and 'value="4"' in too_dear.text
    r = await client.post("/vendor/console/flash-sales", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    [sale] = (await alpha.get("/vendor/flash-sales")).json()["items"]
    assert (sale["sale_price"], sale["units"], sale["per_buyer_limit"], sale["status"]) == (1990, 4, 2, "live")
    sales = await client.get("/vendor/console/flash-sales")
    assert f"product:{kettle['id']}:stock" in re.findall(r'data-feed-topics="([^"]*)"', sales.text)[0].split()
    assert f'data-flash-sold="{sale["id"]}">0<' in sales.text and "19.90 EUR" in sales.text
    r = await client.post(
        f"/vendor/console/flash-sales/{sale['id']}/cancel", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (await alpha.get("/vendor/flash-sales")).json()["items"][0]["status"] == "cancelled"
    again = await client.post(f"/vendor/console/flash-sales/{sale['id']}/cancel", data={"csrf_token": token})
    assert again.status_code == 409 and "cannot be cancelled" in again.text
    assert f"product:{kettle['id']}:stock" not in again.text  # nothing running: no counter to follow


async def test_a_vendor_creates_and_disables_a_coupon(client: AsyncTestClient[Litestar], shop: dict[str, Any]) -> None:
    alpha, kettle = shop["alpha"], shop["kettle"]
    assert (await sign_in(client, alpha.email)).status_code == 303
    coupons = await client.get("/vendor/console/coupons")
    assert coupons.status_code == 200 and "No coupon yet" in coupons.text
    token, now = csrf_of(coupons.text), datetime.now(UTC)
    form = {"csrf_token": token, "name": "Kettle week", "kind": "percent", "percent": "15", "max_discount": "5",
            "audience": "code", "code": "KETTLE15", "scope": "product", "product_ids": str(kettle["id"]),
            "min_tier": "member", "starts_at": local(now), "ends_at": local(now + timedelta(days=7)),
            "total_limit": "100", "per_buyer_limit": "1"}  # fmt: skip
    no_code = await client.post("/vendor/console/coupons", data={**form, "code": ""})
    assert no_code.status_code == 422 and "code is given exactly" in no_code.text
    assert 'value="Kettle week"' in no_code.text
    r = await client.post("/vendor/console/coupons", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    [coupon] = (await alpha.get("/vendor/coupons")).json()["items"]
    assert (coupon["code"], coupon["percent_bp"], coupon["max_discount"], coupon["scope_ids"]) == (
        "KETTLE15",
        1500,
        500,
        [kettle["id"]],
    )
    page = await client.get("/vendor/console/coupons")
    assert "KETTLE15" in page.text and "15.0% off" in page.text and "Disable Kettle week" in page.text
    r = await client.post(
        f"/vendor/console/coupons/{coupon['id']}/disable", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (await alpha.get(f"/vendor/coupons/{coupon['id']}")).json()["disabled_at"] is not None
    page = await client.get("/vendor/console/coupons")
    assert "Disabled" in page.text and "Disable Kettle week" not in page.text


async def test_a_product_with_a_picture_is_created_and_listed_in_the_browser(
    browser: Browser, site: Site, shop: dict[str, Any], tmp_path: Path
) -> None:
    alpha = shop["alpha"]
    picture = tmp_path / "teapot.png"
    picture.write_bytes(png_bytes((400, 300)))
    tab = await open_tab(browser, site)
    await browser_sign_in(tab, alpha.email, PASSWORD)
    page = await tab.go("/vendor/console/products")
    await expect(page.get_by_role("heading", name="Products", exact=True)).to_be_visible()
    await page.get_by_label("Title").fill("Iron teapot")
    await page.get_by_label("Category").select_option(label="\u2003\u2003Kettles")
    await page.get_by_label("Description").fill("Cast iron, 0.8 litres, with a strainer.")
    await page.get_by_label("SKU code").fill("TP-1")
    await page.get_by_label("Price", exact=True).fill("24.90")
    await page.get_by_label("Options").fill("colour: black")
    await page.get_by_label("Opening stock").fill("5")
    await tab.shoot("vendor-products")
    await page.get_by_role("button", name="Create product").click()
    await expect(page.get_by_role("heading", name="Iron teapot")).to_be_visible()
    await expect(page.locator("#product-status")).to_have_text("Draft")
    await page.get_by_label("Add a picture").set_input_files(picture)
    await page.get_by_role("button", name="Upload").click()
    await expect(page.get_by_role("img", name="Picture 1 of Iron teapot")).to_be_visible()
    await page.get_by_role("button", name="List it").click()
    await expect(page.locator("#product-status")).to_have_text("Listed")
    await tab.shoot("vendor-product-listed")
    await page.get_by_role("link", name="its page in the shop").click()
    await expect(page.get_by_role("heading", name="Iron teapot")).to_be_visible()
    await tab.shoot("vendor-product-in-shop")
    await tab.go("/vendor/console/products")
    await expect(page.get_by_role("link", name="Iron teapot")).to_be_visible()
    await tab.shoot("vendor-products-list")
    tab.assert_clean()
    await tab.context.close()

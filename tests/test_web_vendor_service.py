"""The vendor console's after-sales, reviews and money pages. Over HTTP: a buyer gets 403 and no data, another
shop's request shows nothing, a return goes approved → shipped back (the buyer, through the API) → received
→ refunded from the pages' forms and the refund shows on the money page's statement, a reply to a review shows
on the storefront, the sales chart is a PNG under the page session. In a real browser: the buyer's message on a
return appears on the vendor's open request page without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, expect

from tests import web_browser
from tests.conftest import PASSWORD
from tests.test_web_pages import csrf_of, sign_in
from tests.web_browser import Site, open_tab
from tests.web_browser import sign_in as browser_sign_in

browser, site = web_browser.browser, web_browser.site  # the fixtures

pytestmark = pytest.mark.timeout(90)
SHIP = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
BACK = {"carrier": "DHL", "tracking_number": "RET0000123"}
PAGES = ("/vendor/console/aftersales", "/vendor/console/reviews", "/vendor/console/money")


async def delivered(shop: dict[str, Any]) -> dict[str, Any]:
    """Alpha's part of a paid checkout (2 kettles at 30.00), accepted, shipped and delivered."""
    orders = await shop["checkout"](pay=True)
    alpha = shop["alpha"]
    order = orders[alpha.vendor_id]
    for step, body in [("accept", None), ("ship", SHIP), ("deliver", None)]:
        assert (await alpha.post(f"/vendor/orders/{order['id']}/{step}", json=body)).status_code == 200
    return order


async def open_return(shop: dict[str, Any], order: dict[str, Any], message: str = "Photos attached") -> int:
    body = {"kind": "return", "reason": "arrived dented", "message": message,
            "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]}  # fmt: skip
    r = await shop["buyer"].post(f"/orders/{order['id']}/aftersales", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_a_buyer_gets_403_and_no_data_and_another_shops_request_shows_nothing(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    order = await delivered(shop)
    request_id = await open_return(shop, order, "Secret photos")
    await shop["buyer"].post(f"/products/{shop['kettle']['id']}/reviews", json={"rating": 2, "body": "Too loud"})
    for path in (*PAGES, f"/vendor/console/aftersales/{request_id}"):
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert (await sign_in(client, shop["buyer"].email)).status_code == 303
    home = await client.get("/")
    for path in (*PAGES, f"/vendor/console/aftersales/{request_id}", "/vendor/console/money/sales.png"):
        r = await client.get(path)
        assert r.status_code == 403, path
        assert "Secret photos" not in r.text and "Too loud" not in r.text and "Request #" not in r.text, path
    act = f"/vendor/console/aftersales/{request_id}/approve"
    assert (await client.post(act, data={"csrf_token": csrf_of(home.text)})).status_code == 403
    assert (await shop["buyer"].get(f"/aftersales/{request_id}")).json()["status"] == "requested"

    await client.post("/logout", data={"csrf_token": csrf_of(home.text)})
    assert (await sign_in(client, shop["beta"].email)).status_code == 303  # the other shop
    listing = await client.get("/vendor/console/aftersales")
    assert listing.status_code == 200 and f"Request #{request_id}" not in listing.text
    r = await client.get(f"/vendor/console/aftersales/{request_id}")
    assert r.status_code == 404 and "Secret photos" not in r.text
    assert (await client.get(f"/vendor/console/aftersales/{request_id}/live")).status_code == 404
    r = await client.post(act, data={"csrf_token": csrf_of(listing.text)})
    assert r.status_code == 404
    assert "Too loud" not in (await client.get("/vendor/console/reviews")).text
    assert (await shop["buyer"].get(f"/aftersales/{request_id}")).json()["status"] == "requested"


async def test_a_return_is_approved_received_and_refunded_from_the_pages_and_the_statement_shows_it(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    order = await delivered(shop)
    request_id = await open_return(shop, order)
    assert (await sign_in(client, alpha.email)).status_code == 303
    url = f"/vendor/console/aftersales/{request_id}"

    listing = await client.get("/vendor/console/aftersales")
    assert listing.status_code == 200 and f"Request #{request_id}" in listing.text
    assert f"Request #{request_id}" in (await client.get("/vendor/console/aftersales?status=requested")).text
    assert f"Request #{request_id}" not in (await client.get("/vendor/console/aftersales?status=refunded")).text

    detail = await client.get(url)
    assert detail.status_code == 200 and "Photos attached" in detail.text
    assert f"vendor:{alpha.vendor_id}:aftersales" in detail.text
    assert ">Approve</button>" in detail.text and ">Reject</button>" in detail.text
    assert ">Refund</button>" not in detail.text  # not a move from "requested"
    token = csrf_of(detail.text)
    assert (await client.post(f"{url}/approve", data={}, follow_redirects=False)).status_code == 403  # no CSRF
    assert (await buyer.get(f"/aftersales/{request_id}")).json()["status"] == "requested"
    r = await client.post(f"{url}/messages", data={"csrf_token": token, "body": "Please send it back"})
    assert r.status_code == 200 and "Please send it back" in r.text
    r = await client.post(f"{url}/approve", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == url
    detail = await client.get(url)
    assert "Waiting for the buyer to send it back" in detail.text
    assert ">Refund</button>" in detail.text and ">Approve</button>" not in detail.text  # what TRANSITIONS allows
    r = await client.post(f"{url}/received", data={"csrf_token": token, "restock": "1"})
    assert r.status_code == 409 and "cannot" in r.text  # not sent back yet: the service's answer, in the page

    assert (await buyer.post(f"/aftersales/{request_id}/return-shipped", json=BACK)).status_code == 200
    detail = await client.get(url)
    assert "RET0000123" in detail.text and "Mark the return received" in detail.text
    assert (await client.post(f"{url}/received", data={"csrf_token": token, "restock": "1"})).status_code == 200
    detail = await client.get(url)
    assert ">Refund</button>" in detail.text
    r = await client.post(f"{url}/refund", data={"csrf_token": token, "amount": "30.001"})
    assert r.status_code == 422 and "decimals" in r.text
    r = await client.post(f"{url}/refund", data={"csrf_token": token, "amount": "25.00"})
    assert r.status_code == 200 and "refunded <strong>25.00 EUR" in r.text
    done = (await buyer.get(f"/aftersales/{request_id}")).json()
    assert (done["status"], done["refunded_amount"], done["restocked"]) == ("refunded", 2500, True)

    money = await client.get("/vendor/console/money")
    assert money.status_code == 200
    statement = money.text.split('id="statement-h"')[1].split('id="payouts-h"')[0]
    assert 'data-kind="refund"' in statement and f"#{order['id']}" in statement and "-22.50 EUR" in statement
    assert 'data-kind="payment"' in statement
    owed = (await alpha.get("/vendor/settlement/balance")).json()["balance"]
    assert f"{owed // 100}.{owed % 100:02d} EUR" in money.text
    chart = await client.get("/vendor/console/money/sales.png")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")


async def test_a_reply_to_a_review_appears_on_the_storefront(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    alpha, kettle = shop["alpha"], shop["kettle"]["id"]
    await delivered(shop)
    r = await shop["buyer"].post(f"/products/{kettle}/reviews", json={"rating": 4, "body": "Boils fast, a bit loud"})
    review_id = r.json()["id"]
    assert (await sign_in(client, alpha.email)).status_code == 303
    listing = await client.get("/vendor/console/reviews")
    assert listing.status_code == 200 and "Boils fast, a bit loud" in listing.text and "Kettle" in listing.text
    form = {"csrf_token": csrf_of(listing.text), "body": ""}
    r = await client.post(f"/vendor/console/reviews/{review_id}/reply", data=form)
    assert r.status_code == 400 and 'role="alert"' in r.text
    form["body"] = "Thanks! A quieter lid ships next month."
    r = await client.post(f"/vendor/console/reviews/{review_id}/reply", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert "You replied" in (await client.get("/vendor/console/reviews")).text
    r = await client.post(f"/vendor/console/reviews/{review_id}/reply", data=form)
    assert r.status_code == 409 and "already replied" in r.text
    product = await client.get(f"/shop/products/{kettle}")
    assert "Alpha replied:" in product.text and "A quieter lid ships next month." in product.text


async def test_the_buyers_message_appears_on_the_vendors_open_request_live(
    browser: Browser, site: Site, shop: dict[str, Any]
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    order = await delivered(shop)
    request_id = await open_return(shop, order, "The lid does not close")
    tab = await open_tab(browser, site)
    await browser_sign_in(tab, alpha.email, PASSWORD)
    page = await tab.go("/vendor/console/aftersales")
    await expect(page.get_by_role("heading", name="After-sales")).to_be_visible()
    await tab.shoot("vendor-aftersales")
    await page.get_by_role("link", name=f"Request #{request_id}").click()
    await expect(page.get_by_role("heading", name=f"Return request #{request_id}")).to_be_visible()
    await page.wait_for_function("document.body.dataset.feed === 'open'")
    r = await buyer.post(f"/aftersales/{request_id}/messages", json={"body": "Here is a second photo"})
    assert r.status_code in (200, 201), r.text
    await expect(page.get_by_text("Here is a second photo")).to_be_visible(timeout=3_000)  # live, no reload
    await page.get_by_label("Write to the buyer").fill("Thanks, approved: send it back.")
    await page.get_by_role("button", name="Send message").click()
    await expect(page.get_by_text("Thanks, approved: send it back.")).to_be_visible()
    await page.get_by_role("button", name="Approve").click()
    await expect(page.locator("[data-claim-status]")).to_have_text("Approved")
    await tab.shoot("vendor-claim")
    review = {"rating": 4, "body": "Boils fast, a bit loud"}
    assert (await buyer.post(f"/products/{shop['kettle']['id']}/reviews", json=review)).status_code == 201
    page = await tab.go("/vendor/console/reviews")
    await expect(page.get_by_label("Your reply (once; shown under the review)")).to_be_visible()
    await tab.shoot("vendor-reviews")
    page = await tab.go("/vendor/console/money")
    await expect(page.get_by_role("img", name="Your shop's sales")).to_be_visible()
    await page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
    await tab.shoot("vendor-money")
    tab.assert_clean()
    await tab.context.close()

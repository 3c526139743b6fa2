"""The operator's side in a real browser: a buyer asks a shop on the product page and sees the answer arrive
without a reload, beside the shop's trust badge; support finds the order on its desk and acts with a reason."""

from __future__ import annotations

from typing import Any

import asyncpg
from playwright.async_api import Browser, expect

from tests import web_browser
from tests.conftest import PASSWORD
from tests.web_browser import Site, open_tab
from tests.web_browser import sign_in as browser_sign_in

browser, site = web_browser.browser, web_browser.site  # the fixtures


async def test_a_question_is_answered_live_on_the_product_page_and_support_acts_on_the_order(
    browser: Browser, site: Site, shop: dict[str, Any], db: asyncpg.Connection
) -> None:
    alpha, buyer, kettle = shop["alpha"], shop["buyer"], shop["kettle"]
    buyer_tab = await open_tab(browser, site)
    await browser_sign_in(buyer_tab, buyer.email, PASSWORD)
    product = await buyer_tab.go(f"/shop/products/{kettle['id']}")
    await product.wait_for_function("document.body.dataset.feed === 'open'")
    await expect(product.locator("#shop-trust")).to_contain_text("/100")
    await product.get_by_label("Ask the shop").fill("Does the lid lock?")
    await product.get_by_role("button", name="Send the question").click()
    mine = product.get_by_role("list", name="Your questions to the shop")
    await expect(mine.get_by_text("Waiting for the shop's answer")).to_be_visible()

    vendor_tab = await open_tab(browser, site)
    await browser_sign_in(vendor_tab, alpha.email, PASSWORD)
    console = await vendor_tab.go("/vendor/console/questions")
    await expect(console.get_by_text("Does the lid lock?")).to_be_visible()
    await console.get_by_role("textbox", name="Your answer").first.fill("Yes, with a click.")
    await console.get_by_label("Show the question and answer on the product page").first.check()
    await vendor_tab.shoot("operators-vendor-questions")
    await console.get_by_role("button", name="Answer").first.click()

    answered = product.get_by_role("list", name="Answered questions")  # public now, so with the others'
    await expect(answered.get_by_text("Yes, with a click.")).to_be_visible(timeout=3_000)  # live, no reload
    await buyer_tab.shoot("operators-product-answered")
    buyer_tab.assert_clean()

    order_id = (await shop["checkout"](True))[alpha.vendor_id]["id"]
    staff = await db.fetchval(
        "INSERT INTO users (email, password_hash, roles) SELECT 'desk@example.com', password_hash, '{buyer,support}'"
        " FROM users WHERE id = $1 RETURNING id",
        buyer.id,
    )
    support_tab = await open_tab(browser, site)
    await browser_sign_in(support_tab, "desk@example.com", PASSWORD)
    desk = await support_tab.go("/support")
    await desk.get_by_label("Order, checkout or payment id").fill(str(order_id))
    await desk.get_by_role("button", name="Find").click()
    await support_tab.shoot("operators-support-desk")
    await desk.get_by_role("link", name=f"Order #{order_id}").first.click()
    await expect(desk.get_by_role("heading", name=f"Order #{order_id}")).to_be_visible()
    await desk.get_by_label("Only staff read it").fill("Buyer called about the delivery date.")
    await desk.get_by_role("button", name="Add note").click()
    notes = desk.get_by_role("region", name="Internal notes")
    await expect(notes.get_by_text("Buyer called about the delivery date.")).to_be_visible()
    await support_tab.shoot("operators-support-order")
    await db.execute(
        "INSERT INTO risk_alerts (rule, subject, vendor_id, score, evidence, order_ids, user_ids, latest_at)"
        " VALUES ('brushing_ring', 'vendor:1:ring', $1, 92, $2, $3, '{1,2,3}', now())",
        alpha.vendor_id, {"accounts": 20, "orders": 200, "linked_by": "address"}, [order_id],
    )  # fmt: skip
    alerts = await support_tab.go("/support/desk/alerts")
    card = alerts.get_by_role("listitem", name="Alert #1")
    await expect(card.get_by_text("Brushing ring")).to_be_visible()
    await card.get_by_label("Reason (required, kept in the audit log)").fill("checked the accounts: real")
    await support_tab.shoot("operators-support-alerts")
    await card.get_by_role("button", name="Confirm abuse").click()
    await expect(alerts.get_by_text("Alert #1 is confirmed.")).to_be_visible()
    support_tab.assert_clean()
    audit = await db.fetch("SELECT action FROM audit_log WHERE actor_id = $1 ORDER BY id", staff)
    assert [r["action"] for r in audit] == ["support.note_added", "risk_alert.confirmed"]

"""The admin desk's product, account, bank-transfer and money pages (marketplace/web/pages/admin_ops.py):
admins only, and every action goes through the service the JSON API calls, its refusals shown in the page.
One browser test: an application approved on the desk opens the vendor console, a suspension closes it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, expect

from tests import web_browser
from tests.catalog_helpers import category_tree, product
from tests.conftest import ADDRESS, PASSWORD, Actor, approved_vendor, sign_up
from tests.test_web_admin import apply, as_page_user
from tests.test_web_pages import csrf_of
from tests.web_browser import Site, open_tab
from tests.web_browser import sign_in as sign_in_tab

browser, site = web_browser.browser, web_browser.site  # the fixtures

PAGES = ["/admin/desk/products", "/admin/desk/accounts", "/admin/desk/transfers", "/admin/desk/money"]


async def shop_with_transfer(client: AsyncTestClient[Litestar], admin: Actor) -> dict[str, Any]:
    """A vendor selling a 30.00 EUR kettle and a buyer who ordered two, to pay by bank transfer."""
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "vendor@example.com", "Transfer Goods")
    item = await product(vendor, cats["Kettles"], "Secret Copper Kettle", 3000, stock=5)
    buyer = await sign_up(client, "shopper@example.com")
    address = (await buyer.post("/me/addresses", json=ADDRESS)).json()
    await buyer.put(f"/cart/items/{item['skus'][0]['id']}", json={"quantity": 2})
    checkout = (await buyer.post("/checkouts", json={"address_id": address["id"]})).json()
    r = await buyer.post(f"/checkouts/{checkout['id']}/payments", json={"method": "bank_transfer"})
    assert r.status_code == 201, r.text
    payment = r.json()["payment"]
    return {"cats": cats, "vendor": vendor, "item": item, "buyer": buyer, "checkout": checkout, "payment": payment}


async def test_only_admins_see_the_new_desk_pages(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    shop = await shop_with_transfer(client, admin)
    r = await admin.put("/admin/settlement/rates", json={"scope": "platform", "rate_bp": 777})
    assert r.status_code == 200, r.text
    for path in PAGES:
        client.cookies.clear()
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    secrets = ["Secret Copper Kettle", shop["payment"]["provider_ref"], "shopper@example.com", "Transfer Goods", "777"]
    payment_id, product_id = shop["payment"]["id"], shop["item"]["id"]
    posts = {
        f"/admin/desk/products/{product_id}/take-down": {"reason": "Counterfeit"},
        f"/admin/desk/products/{product_id}/restore": {},
        f"/admin/desk/accounts/{shop['buyer'].id}/roles": {"roles": ["buyer", "admin"]},
        f"/admin/desk/transfers/{payment_id}/confirm": {"amount_received": "60.00"},
        "/admin/desk/money/rates": {"scope": "platform", "rate": "1"},
        "/admin/desk/money/payouts": {"vendor_id": str(shop["vendor"].vendor_id), "amount": "1.00"},
    }
    for email in ("shopper@example.com", "vendor@example.com"):
        await as_page_user(client, email)
        for path in PAGES:
            r = await client.get(path, params={"q": "Secret"})
            assert r.status_code == 403 and "admins only" in r.text, (email, path)
            for secret in secrets:
                assert secret not in r.text, (email, path, secret)
        token = csrf_of((await client.get("/shop/rewards")).text)
        for path, data in posts.items():
            r = await client.post(path, data={"csrf_token": token, **data})
            assert r.status_code == 403, (email, path)
    # nothing changed
    assert (await admin.get(f"/admin/products/{product_id}")).json()["status"] == "listed"
    assert (await admin.get(f"/admin/users/{shop['buyer'].id}")).json()["roles"] == ["buyer"]
    assert [p["id"] for p in (await admin.get("/admin/payments/transfers")).json()] == [payment_id]
    assert (await admin.get("/admin/settlement/rates")).json() == [{"scope": "platform", "scope_id": 0, "rate_bp": 777}]
    await as_page_user(client, admin.email)
    for path in PAGES:
        assert (await client.get(path)).status_code == 200, path
    assert shop["payment"]["provider_ref"] in (await client.get("/admin/desk/transfers")).text


async def test_a_product_taken_down_leaves_the_storefront_and_comes_back_unlisted(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "vendor@example.com", "Kettle Corner")
    kettle = await product(vendor, cats["Kettles"], "Whistling Kettle", 3450)
    assert (await client.get(f"/shop/products/{kettle['id']}")).status_code == 200
    assert "Whistling Kettle" in (await client.get("/shop/search", params={"q": "whistling"})).text
    await as_page_user(client, admin.email)
    found = await client.get("/admin/desk/products", params={"q": "whistling"})
    assert found.status_code == 200 and f'id="product-{kettle["id"]}"' in found.text
    by_id = await client.get("/admin/desk/products", params={"q": f"#{kettle['id']}"})
    assert "Whistling Kettle" in by_id.text
    token = csrf_of(found.text)
    url = f"/admin/desk/products/{kettle['id']}/take-down"
    r = await client.post(url, data={"csrf_token": token, "reason": "  "})
    assert r.status_code == 400 and "Give a reason" in r.text
    assert (await client.post(url, data={"reason": "Counterfeit brand"})).status_code == 403
    assert (await admin.get(f"/admin/products/{kettle['id']}")).json()["status"] == "listed"
    r = await client.post(url, data={"csrf_token": token, "reason": "Counterfeit brand"})
    assert r.status_code == 200 and "is taken down" in r.text and "Counterfeit brand" in r.text
    assert (await client.get(f"/products/{kettle['id']}")).status_code == 404
    assert (await client.get(f"/shop/products/{kettle['id']}")).status_code == 404
    assert "Whistling Kettle" not in (await client.get("/shop/search", params={"q": "whistling"})).text
    # taking it down twice is refused with the service's words
    again = await client.post(url, data={"csrf_token": token, "reason": "Counterfeit brand"})
    assert again.status_code >= 400 and 'role="alert"' in again.text
    listed = await client.get("/admin/desk/products", params={"status": "taken_down"})
    assert "Whistling Kettle" in listed.text and "Restore" in listed.text
    r = await client.post(f"/admin/desk/products/{kettle['id']}/restore", data={"csrf_token": token})
    assert r.status_code == 200 and "is restored" in r.text
    assert (await admin.get(f"/admin/products/{kettle['id']}")).json()["status"] == "unlisted"
    assert "Whistling Kettle" not in (await client.get("/admin/desk/products", params={"status": "taken_down"})).text
    assert (await vendor.post(f"/vendor/products/{kettle['id']}/list")).status_code == 200
    assert (await client.get(f"/shop/products/{kettle['id']}")).status_code == 200
    audit = await client.get("/admin/desk/audit", params={"object_type": "product", "object_id": str(kettle["id"])})
    assert "product.taken_down" in audit.text and "product.restored" in audit.text


async def test_roles_change_on_the_accounts_page_as_the_api_allows(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    shopper = await sign_up(client, "shopper@example.com")
    await sign_up(client, "other@example.com")
    await as_page_user(client, admin.email)
    listed = await client.get("/admin/desk/accounts", params={"q": "shopper"})
    assert "shopper@example.com" in listed.text and "other@example.com" not in listed.text
    admins = await client.get("/admin/desk/accounts", params={"role": "admin"})
    assert "admin@example.com" in admins.text and "shopper@example.com" not in admins.text
    token = csrf_of(listed.text)
    r = await client.post(
        f"/admin/desk/accounts/{shopper.id}/roles", data={"csrf_token": token, "roles": ["buyer", "marketer"]}
    )
    assert r.status_code == 200 and "now has: buyer, marketer" in r.text
    assert (await admin.get(f"/admin/users/{shopper.id}")).json()["roles"] == ["buyer", "marketer"]
    # the API refuses granting vendor by a role edit, and an admin removing their own admin role
    r = await client.post(
        f"/admin/desk/accounts/{shopper.id}/roles", data={"csrf_token": token, "roles": ["buyer", "vendor"]}
    )
    assert r.status_code == 422 and "vendor role follows vendor approval" in r.text
    assert (await admin.get(f"/admin/users/{shopper.id}")).json()["roles"] == ["buyer", "marketer"]
    r = await client.post(f"/admin/desk/accounts/{admin.id}/roles", data={"csrf_token": token, "roles": ["buyer"]})
    assert r.status_code == 422 and "cannot remove their own admin role" in r.text
    assert "admin" in (await admin.get(f"/admin/users/{admin.id}")).json()["roles"]
    r = await client.post(f"/admin/desk/accounts/{shopper.id}/roles", data={"csrf_token": token, "roles": ["buyer"]})
    assert r.status_code == 200 and "now has: buyer." in r.text


async def test_a_transfer_is_confirmed_with_the_amount_received_and_the_vendor_paid_out(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    shop = await shop_with_transfer(client, admin)
    buyer, payment, checkout = shop["buyer"], shop["payment"], shop["checkout"]
    await as_page_user(client, admin.email)
    page = await client.get("/admin/desk/transfers")
    assert payment["provider_ref"] in page.text and "60.00 EUR" in page.text
    token, url = csrf_of(page.text), f"/admin/desk/transfers/{payment['id']}/confirm"
    wrong = await client.post(url, data={"csrf_token": token, "amount_received": "59.99"})
    assert wrong.status_code == 422 and "transfer is for 60.00 EUR; 59.99 EUR arrived" in wrong.text
    assert 'value="59.99"' in wrong.text  # the amount typed stays in the form
    nonsense = await client.post(url, data={"csrf_token": token, "amount_received": "sixty"})
    assert nonsense.status_code == 400 and "Check amount received" in nonsense.text
    assert (await buyer.get(f"/checkouts/{checkout['id']}")).json()["status"] != "paid"
    assert [p["id"] for p in (await admin.get("/admin/payments/transfers")).json()] == [payment["id"]]
    r = await client.post(url, data={"csrf_token": token, "amount_received": "60.00"})
    assert r.status_code == 200 and "is confirmed" in r.text and "No transfer is awaited" in r.text
    assert (await buyer.get(f"/checkouts/{checkout['id']}")).json()["status"] == "paid"
    again = await client.post(url, data={"csrf_token": token, "amount_received": "60.00"})
    assert again.status_code == 409
    # the vendor is now owed its share; pay part of it out, more than it is owed is refused
    money = await client.get("/admin/desk/money")
    assert "Transfer Goods" in money.text and "Owed to vendors now" in money.text
    vendor_id = str(shop["vendor"].vendor_id)
    owed = (await shop["vendor"].get("/vendor/settlement/balance")).json()["balance"]
    too_much = await client.post(
        "/admin/desk/money/payouts", data={"csrf_token": token, "vendor_id": vendor_id, "amount": "1000.00"}
    )
    assert too_much.status_code == 409 and "cannot pay out 1,000.00 EUR" in too_much.text
    paid = await client.post(
        "/admin/desk/money/payouts", data={"csrf_token": token, "vendor_id": vendor_id, "amount": "10.00"}
    )
    assert paid.status_code == 200 and "Payout #" in paid.text and "10.00 EUR" in paid.text
    assert (await shop["vendor"].get("/vendor/settlement/balance")).json()["balance"] == owed - 1000


async def test_commission_rates_are_set_per_category_and_vendor(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "vendor@example.com", "Rate Shop")
    await as_page_user(client, admin.email)
    page = await client.get("/admin/desk/money")
    assert "Kettles" in page.text and "Rate Shop" in page.text
    token = csrf_of(page.text)
    form = {"csrf_token": token, "scope": "category", "category_id": str(cats["Kettles"]), "rate": "12.5"}
    r = await client.post("/admin/desk/money/rates", data=form)
    assert r.status_code == 200 and "rate is now 12.5 %" in r.text and "Kettles" in r.text
    form = {"csrf_token": token, "scope": "vendor", "vendor_id": str(vendor.vendor_id), "rate": "8"}  # type: ignore[attr-defined]
    assert (await client.post("/admin/desk/money/rates", data=form)).status_code == 200
    bad = await client.post("/admin/desk/money/rates", data={**form, "rate": "150"})
    assert bad.status_code == 400 and "Check rate" in bad.text
    rates = (await admin.get("/admin/settlement/rates")).json()
    assert {(r["scope"], r["scope_id"], r["rate_bp"]) for r in rates} >= {
        ("category", cats["Kettles"], 1250),
        ("vendor", vendor.vendor_id, 800),  # type: ignore[attr-defined]
    }


@pytest.mark.timeout(120)
async def test_an_approved_vendor_opens_its_console_until_suspended(
    browser: Browser, site: Site, client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    started = time.monotonic()
    shop = await shop_with_transfer(client, admin)  # something on each desk page for the screenshots
    r = await admin.post(f"/admin/products/{shop['item']['id']}/take-down", json={"reason": "Fake brand"})
    assert r.status_code == 200, r.text
    r = await admin.put(
        "/admin/settlement/rates", json={"scope": "category", "scope_id": shop["cats"]["Kettles"], "rate_bp": 1250}
    )
    assert r.status_code == 200, r.text
    _, application_id = await apply(client, "newshop@example.com", "Fresh Kettles")
    seller = await open_tab(browser, site)
    await sign_in_tab(seller, "newshop@example.com", PASSWORD)
    before = await seller.page.goto(site + "/vendor")
    assert before is not None and before.status == 403
    desk = await open_tab(browser, site)
    await sign_in_tab(desk, admin.email, PASSWORD)
    page = desk.page
    await desk.go("/admin/desk/applications")
    await page.locator(f"#application-{application_id}").get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status").filter(has_text="is approved")).to_be_visible()
    # the new vendor's own browser opens the console (roles are read fresh on each page)
    opened = await seller.page.goto(site + "/vendor")
    assert opened is not None and opened.status == 200
    await seller.shoot("vendor-console-new")
    await page.get_by_role("navigation", name="Admin desk").get_by_role("link", name="Vendors").click()
    card = page.locator("li", has_text="Fresh Kettles")
    await card.get_by_label("Reason to suspend").fill("Licence revoked")
    await card.get_by_role("button", name="Suspend").click()
    await expect(page.get_by_role("status").filter(has_text="is suspended")).to_be_visible()
    closed = await seller.page.goto(site + "/vendor")
    assert closed is not None and closed.status == 403
    # the desk's other pages, for the screenshots
    for path, name in [
        ("/admin/desk/products?status=taken_down", "admin-products"),
        ("/admin/desk/accounts", "admin-accounts"),
        ("/admin/desk/transfers", "admin-transfers"),
        ("/admin/desk/money", "admin-money"),
    ]:
        await desk.go(path)
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await desk.shoot(name)
    desk.assert_clean()
    # the seller's tab saw two 403 pages on purpose; anything else would be an error
    assert all("403" in e for e in seller.errors), seller.errors
    for tab in (seller, desk):
        await tab.context.close()
    print(f"admin desk vendor browser test: {time.monotonic() - started:.1f}s")

"""The admin desk's pages (marketplace/web/pages/admin.py): admins only, approving and rejecting vendor
applications, suspending vendors and reading the audit log through the same services as the JSON API."""

from __future__ import annotations

import time

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, expect

from tests import web_browser
from tests.conftest import PASSWORD, SHOP, Actor, approved_vendor, relogin, sign_up
from tests.test_web_pages import csrf_of, sign_in
from tests.web_browser import Site, open_tab
from tests.web_browser import sign_in as sign_in_tab

browser, site = web_browser.browser, web_browser.site  # the fixtures

DESK = ["/admin", "/admin/desk/applications", "/admin/desk/vendors", "/admin/desk/audit"]


async def apply(client: AsyncTestClient[Litestar], email: str, shop_name: str) -> tuple[Actor, int]:
    actor = await sign_up(client, email)
    r = await actor.post("/vendor-applications", json={**SHOP, "shop_name": shop_name})
    assert r.status_code == 201, r.text
    return actor, r.json()["id"]


async def as_page_user(client: AsyncTestClient[Litestar], email: str) -> None:
    client.cookies.clear()
    r = await sign_in(client, email)
    assert r.status_code == 303, r.text


async def application_status(admin: Actor, application_id: int) -> str:
    for status in ("pending", "approved", "rejected"):
        r = await admin.get("/admin/vendor-applications", params={"status": status})
        assert r.status_code == 200, r.text
        if any(a["id"] == application_id for a in r.json()["items"]):
            return status
    raise AssertionError(f"application {application_id} not listed")


async def test_only_admins_see_the_desk(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    await apply(client, "applicant@example.com", "Secret Shop Name")
    await approved_vendor(client, admin, "vendor@example.com", "Known Vendor Shop")
    await sign_up(client, "shopper@example.com")
    for path in DESK:
        client.cookies.clear()
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    for email in ("shopper@example.com", "vendor@example.com"):
        await as_page_user(client, email)
        home = (await client.get("/")).text
        assert "Admin desk" not in home
        for path in DESK:
            r = await client.get(path)
            assert r.status_code == 403, (email, path)
            assert "admins only" in r.text
            for secret in ("Secret Shop Name", "Known Vendor Shop", "LIC-12345", "vendor_application.approved"):
                assert secret not in r.text, (email, path, secret)
        token = csrf_of((await client.get("/shop/rewards")).text)
        r = await client.post("/admin/desk/vendors/1/suspend", data={"csrf_token": token, "reason": "no reason"})
        assert r.status_code == 403
    await as_page_user(client, admin.email)
    assert 'href="/admin"' in (await client.get("/")).text
    for path in DESK:
        assert (await client.get(path)).status_code == 200, path
    r = await client.get("/admin/desk/applications")
    assert "Secret Shop Name" in r.text and "LIC-12345" in r.text


async def test_approving_through_the_desk_makes_the_applicant_a_vendor(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    applicant, application_id = await apply(client, "applicant@example.com", "Desk Approved")
    await as_page_user(client, admin.email)
    page = await client.get("/admin/desk/applications")
    assert "Desk Approved" in page.text
    r = await client.post(f"/admin/desk/applications/{application_id}/approve", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200, r.text
    assert "is approved" in r.text
    assert await application_status(admin, application_id) == "approved"
    shop = await (await relogin(applicant)).get("/vendor/shop")
    assert shop.status_code == 200 and shop.json()["shop_name"] == "Desk Approved"
    audit = await client.get("/admin/desk/audit", params={"action": "vendor_application.approved"})
    assert f"vendor_application #{application_id}" in audit.text
    # approving twice is refused with the service's words
    again = await client.post(
        f"/admin/desk/applications/{application_id}/approve", data={"csrf_token": csrf_of(page.text)}
    )
    assert again.status_code == 409 and "already approved" in again.text


async def test_rejecting_needs_a_reason_and_the_csrf_token(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    _, application_id = await apply(client, "applicant@example.com", "Desk Rejected")
    await as_page_user(client, admin.email)
    token = csrf_of((await client.get("/admin/desk/applications")).text)
    url = f"/admin/desk/applications/{application_id}/reject"
    r = await client.post(url, data={"csrf_token": token, "reason": "   "})
    assert r.status_code == 400 and "Give a reason" in r.text
    assert await application_status(admin, application_id) == "pending"
    r = await client.post(url, data={"reason": "Licence number does not exist"})
    assert r.status_code == 403
    r = await client.post(f"/admin/desk/applications/{application_id}/approve")
    assert r.status_code == 403
    assert await application_status(admin, application_id) == "pending"
    r = await client.post(url, data={"csrf_token": token, "reason": "Licence number does not exist"})
    assert r.status_code == 200 and "is rejected" in r.text and "Licence number does not exist" in r.text
    assert await application_status(admin, application_id) == "rejected"


async def test_suspending_from_the_desk_closes_the_vendors_routes(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    vendor = await approved_vendor(client, admin, "vendor@example.com", "Soon Suspended")
    vendor_id = vendor.vendor_id  # type: ignore[attr-defined]
    assert (await vendor.get("/vendor/shop")).status_code == 200
    await as_page_user(client, admin.email)
    page = await client.get("/admin/desk/vendors")
    assert "Soon Suspended" in page.text
    url = f"/admin/desk/vendors/{vendor_id}/suspend"
    r = await client.post(url, data={"reason": "Counterfeit goods reported"})
    assert r.status_code == 403
    assert (await vendor.get("/vendor/shop")).status_code == 200
    r = await client.post(url, data={"csrf_token": csrf_of(page.text), "reason": ""})
    assert r.status_code == 400 and "Give a reason" in r.text
    assert (await vendor.get("/vendor/shop")).status_code == 200
    r = await client.post(url, data={"csrf_token": csrf_of(page.text), "reason": "Counterfeit goods reported"})
    assert r.status_code == 200 and "is suspended" in r.text and "Counterfeit goods reported" in r.text
    assert (await vendor.get("/vendor/shop")).status_code == 403
    audit = await client.get("/admin/desk/audit", params={"object_type": "vendor", "object_id": str(vendor_id)})
    assert "vendor.suspended" in audit.text and "Counterfeit goods reported" in audit.text
    empty = await client.get("/admin/desk/audit", params={"action": "nothing.like.this"})
    assert "No entry matches these filters" in empty.text
    r = await client.post(f"/admin/desk/vendors/{vendor_id}/reinstate", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and "is reinstated" in r.text
    assert (await vendor.get("/vendor/shop")).status_code == 200


async def test_the_desks_empty_states_say_what_to_do(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    await as_page_user(client, admin.email)
    assert "No application is waiting" in (await client.get("/admin/desk/applications")).text
    assert "approve an application" in (await client.get("/admin/desk/vendors")).text


@pytest.mark.timeout(120)
async def test_an_admin_approves_and_suspends_in_the_browser(
    browser: Browser, site: Site, client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    started = time.monotonic()
    _, application_id = await apply(client, "applicant@example.com", "Browser Kettles")
    tab = await open_tab(browser, site)
    await sign_in_tab(tab, admin.email, PASSWORD)
    page = tab.page
    await page.get_by_role("link", name="Admin desk").click()
    await page.get_by_role("link", name="Review applications").click()
    await tab.shoot("admin-applications")
    card = page.locator(f"#application-{application_id}")
    await card.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status").filter(has_text="is approved")).to_be_visible()
    await expect(page.locator(f"#application-{application_id}")).to_contain_text("Approved")
    await tab.shoot("admin-approved")
    await page.get_by_role("navigation", name="Admin desk").get_by_role("link", name="Vendors").click()
    vendor_card = page.locator("li", has_text="Browser Kettles")
    await vendor_card.get_by_label("Reason to suspend").fill("Selling counterfeit kettles")
    await vendor_card.get_by_role("button", name="Suspend").click()
    await expect(page.get_by_role("status").filter(has_text="is suspended")).to_be_visible()
    await expect(page.locator("li", has_text="Browser Kettles")).to_contain_text("Selling counterfeit kettles")
    await tab.shoot("admin-vendors")
    await page.get_by_role("link", name="Audit log").first.click()
    await expect(page.get_by_text("vendor.suspended")).to_be_visible()
    await tab.shoot("admin-audit")
    tab.assert_clean()
    await tab.context.close()
    print(f"admin desk browser test: {time.monotonic() - started:.1f}s")

"""The page routes, one module per area of the shop. `PAGES` is what the web router mounts; the sandbox
gateway's payment page is mounted only where the gateway is (SANDBOX_GATEWAY)."""

from marketplace.web.pages import (
    account,
    account_security,
    aftersales,
    checkout,
    orders,
    profile,
    questions,
    rewards,
    shop,
    vendor,
    vendor_catalog,
    vendor_offers,
    vendor_service,
)

PAGES = [
    *shop.ROUTES,
    *account.ROUTES,
    *checkout.ROUTES,
    *orders.ROUTES,
    *aftersales.ROUTES,
    *rewards.ROUTES,
    *profile.ROUTES,
    *account_security.ROUTES,  # password, sessions, email change
    *vendor.ROUTES,  # the vendor console (active vendors only)
    *vendor_catalog.ROUTES,  # its products
    *vendor_offers.ROUTES,  # its flash sales and coupons
    *vendor_service.ROUTES,  # the console's after-sales, reviews and money
    *questions.ROUTES,  # pre-sale questions: the product page's Q&A and the console's questions page
]
SANDBOX_PAGES = checkout.SANDBOX_ROUTES

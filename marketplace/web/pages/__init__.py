"""The page routes, one module per area of the shop. `PAGES` is what the web router mounts; the sandbox
gateway's payment page is mounted only where the gateway is (SANDBOX_GATEWAY)."""

from marketplace.web.pages import account, aftersales, checkout, orders, profile, rewards, shop, vendor

PAGES = [
    *shop.ROUTES,
    *account.ROUTES,
    *checkout.ROUTES,
    *orders.ROUTES,
    *aftersales.ROUTES,
    *rewards.ROUTES,
    *profile.ROUTES,
    *vendor.ROUTES,  # the vendor console (active vendors only)
]
SANDBOX_PAGES = checkout.SANDBOX_ROUTES

"""Checkout: the buyer's cart becomes one checkout split into one order per vendor, in one transaction.

Everything is priced here from the database; the client sends only which address to ship to. Stock is
reserved with a conditional update that cannot take more than is available, so concurrent checkouts for
the last units succeed exactly as often as there are units. Unpaid checkouts expire (see sweeper.py)."""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.inventory.service import stock_topic
from marketplace.orders import OrderStatus
from marketplace.orders import queries as q
from marketplace.orders.schemas import CheckoutOut, OrderLineOut, OrderOut
from marketplace.promotions import service as promotions
from marketplace.promotions.service import Quote

# Shipping per vendor order, in minor units: free from this order value up, otherwise a flat fee.
FREE_SHIPPING_FROM = 5000
SHIPPING_FEE = 499


def shipping_for(items_total: int) -> int:
    return 0 if items_total >= FREE_SHIPPING_FROM else SHIPPING_FEE


def vendor_orders_topic(vendor_id: int) -> str:
    return f"vendor:{vendor_id}:orders"


def buyer_orders_topic(buyer_id: int) -> str:
    return f"user:{buyer_id}:orders"


async def place_checkout(
    conn: asyncpg.Connection,
    buyer_id: int,
    address_id: int,
    payment_minutes: int,
    coupon_code: str | None = None,
    points: int = 0,
) -> CheckoutOut:
    """Must run inside a transaction (the caller's, which may also complete an idempotency key).
    Two statements whatever the cart holds: one reads and locks the cart, its SKUs and the address, the
    other writes the whole checkout (see queries.py); a coupon, points, or a running automatic discount or
    wallet coupon add the reads and writes of promotions/service.py."""
    skus = await conn.fetch(q.CHECKOUT_CART, buyer_id, address_id)
    if not skus:
        raise Unprocessable("your cart is empty")
    return await _place(conn, buyer_id, skus, payment_minutes * 60, coupon_code=coupon_code, points=points)


class SaleRefused(Exception):
    """The flash sale refused the purchase (`reason`: sold_out, limit_reached, not_started, ended)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def place_flash_checkout(
    conn: asyncpg.Connection, buyer_id: int, address_id: int, sale_id: int, quantity: int, hold_seconds: int
) -> CheckoutOut:
    """A checkout of one flash-sale line at the sale price, held `hold_seconds` for payment, taking the units
    from the sale and the buyer's allowance; the buyer's cart is left as it was. The same two statements as
    a cart checkout (inside the caller's transaction), the first one without locks (see queries.py)."""
    skus = await conn.fetch(q.CHECKOUT_FLASH, buyer_id, address_id, sale_id, quantity)
    if not skus:
        raise NotFound("no such flash sale")
    try:
        return await _place(conn, buyer_id, skus, hold_seconds, flash_sale_id=sale_id)
    except asyncpg.RaiseError as exc:
        if exc.detail != "flash sale refusal":
            raise
        raise SaleRefused(exc.args[0]) from None
    except asyncpg.CheckViolationError:  # the shelf had fewer units than the sale: reserved <= on_hand held
        raise SaleRefused("sold_out") from None


async def _place(
    conn: asyncpg.Connection,
    buyer_id: int,
    skus: list[asyncpg.Record],
    hold_seconds: int,
    flash_sale_id: int | None = None,
    coupon_code: str | None = None,
    points: int = 0,
) -> CheckoutOut:
    """Check the lines read and write the checkout, at their sale price where they have one, less any
    promotion (never on flash-sale lines)."""
    if not skus[0]["address_found"]:
        raise NotFound("no such address in your address book")
    quantities = {s["sku_id"]: s["quantity"] for s in skus}
    price = {s["sku_id"]: s["sale_price"] or s["price"] for s in skus}
    gone = [s["title"] for s in skus if not s["visible"]] + ["(removed item)"] * (skus[0]["cart_lines"] - len(skus))
    if gone:
        raise Conflict(
            "some items are no longer for sale; remove them from your cart", code="items-unavailable", items=gone
        )
    currencies = {s["currency"] for s in skus}
    if len(currencies) != 1:
        raise Unprocessable("a checkout is paid in one currency")
    for sku in skus:
        if sku["available"] < quantities[sku["sku_id"]]:
            raise Conflict(
                f"only {sku['available']} left of {sku['title']} ({sku['code']})",
                code="out-of-stock",
                sku_id=sku["sku_id"],
                available=sku["available"],
            )

    by_vendor: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for sku in skus:
        by_vendor[sku["vendor_id"]].append(sku)
    vendors = sorted(by_vendor)
    totals = {v: sum(price[s["sku_id"]] * quantities[s["sku_id"]] for s in by_vendor[v]) for v in vendors}
    shipping = {v: shipping_for(totals[v]) for v in vendors}
    items = {v: sum(quantities[s["sku_id"]] for s in by_vendor[v]) for v in vendors}
    promo = Quote()
    if flash_sale_id is None and (coupon_code is not None or points or skus[0]["coupons_running"]):
        lines = [{**dict(s), "unit_price": price[s["sku_id"]]} for s in skus]
        promo = await promotions.quote(conn, buyer_id, lines, coupon_code, points, skus[0]["coupons_running"])
    vendor_off = {s["sku_id"]: promo.vendor_discount.get(s["sku_id"], 0) for s in skus}
    platform_off = {s["sku_id"]: promo.platform_discount.get(s["sku_id"], 0) for s in skus}
    off = {v: (sum(vendor_off[s["sku_id"]] for s in by_vendor[v]), sum(platform_off[s["sku_id"]] for s in by_vendor[v]))
           for v in vendors}  # fmt: skip
    order_total = {v: totals[v] + shipping[v] - sum(off[v]) for v in vendors}
    currency = currencies.pop()
    address_json = {column: skus[0][column] for column in q.ADDRESS_COLUMNS}
    line_skus = [s for v in vendors for s in by_vendor[v]]
    rows = await conn.fetch(
        q.PLACE_CHECKOUT,
        buyer_id,
        currency,
        sum(totals.values()),
        sum(shipping.values()),
        sum(order_total.values()),
        address_json,
        hold_seconds,
        vendors,
        [totals[v] for v in vendors],
        [shipping[v] for v in vendors],
        [items[v] for v in vendors],
        [vendor_orders_topic(v) for v in vendors],
        buyer_orders_topic(buyer_id),
        [s["vendor_id"] for s in line_skus],
        [s["sku_id"] for s in line_skus],
        [s["product_id"] for s in line_skus],
        [s["title"] for s in line_skus],
        [s["code"] for s in line_skus],
        [price[s["sku_id"]] for s in line_skus],
        [quantities[s["sku_id"]] for s in line_skus],
        [s["sku_id"] for s in skus],
        [quantities[s["sku_id"]] for s in skus],
        [stock_topic(s["product_id"]) for s in skus],
        OrderStatus.PENDING_PAYMENT,
        "placed",
        flash_sale_id,
        flash_sale_id is None,
        sum(quantities.values()),
        stock_topic(skus[0]["product_id"]),
        [vendor_off[s["sku_id"]] for s in line_skus],
        [platform_off[s["sku_id"]] for s in line_skus],
        [off[v][0] for v in vendors],
        [off[v][1] for v in vendors],
        promo.total,
        promo.coupon_id,
        promo.points,
    )
    checkout = rows[0]
    if promo.coupon_id is not None or promo.points:
        await promotions.record(conn, promo, checkout["checkout_id"], buyer_id)
    orders = {r["vendor_id"]: r for r in rows}
    line_ids = {(r["order_id"], r["sku_id"]): r["line_id"] for r in rows}

    order_out = [
        OrderOut(
            id=orders[v]["order_id"],
            checkout_id=checkout["checkout_id"],
            buyer_id=buyer_id,
            vendor_id=v,
            status=orders[v]["status"],
            currency=currency,
            items_total=totals[v],
            shipping_total=shipping[v],
            total=order_total[v],
            cash_on_delivery=False,
            discount=sum(off[v]),
            carrier=None,
            tracking_number=None,
            estimated_arrival=None,
            cancel_reason=None,
            created_at=orders[v]["created_at"],
            updated_at=orders[v]["updated_at"],
            lines=[
                OrderLineOut(
                    id=line_ids[(orders[v]["order_id"], s["sku_id"])],
                    sku_id=s["sku_id"],
                    product_id=s["product_id"],
                    title=s["title"],
                    sku_code=s["code"],
                    unit_price=price[s["sku_id"]],
                    quantity=quantities[s["sku_id"]],
                    line_total=price[s["sku_id"]] * quantities[s["sku_id"]],
                    flash_sale_id=flash_sale_id,
                    discount=vendor_off[s["sku_id"]] + platform_off[s["sku_id"]],
                )
                for s in by_vendor[v]
            ],
        )
        for v in vendors
    ]
    return CheckoutOut(
        id=checkout["checkout_id"],
        status=checkout["checkout_status"],
        currency=currency,
        items_total=sum(totals.values()),
        shipping_total=sum(shipping.values()),
        grand_total=sum(order_total.values()),
        discount_total=promo.total,
        coupon_id=promo.coupon_id,
        points_spent=promo.points,
        shipping_address=address_json,
        expires_at=checkout["expires_at"],
        created_at=checkout["checkout_created_at"],
        orders=order_out,
    )

"""Checkout: the buyer's cart becomes one checkout split into one order per vendor, in one transaction.

Everything is priced here from the database; the client sends only which address to ship to. Stock is
reserved with a conditional update that cannot take more than is available, so concurrent checkouts for
the last units succeed exactly as often as there are units. Unpaid checkouts expire (see sweeper.py)."""

from __future__ import annotations

from collections import defaultdict

import asyncpg
import msgspec

from marketplace.core import topics
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.orders import OrderStatus
from marketplace.orders import queries as q
from marketplace.orders.schemas import CheckoutOut
from marketplace.promotions import service as promotions
from marketplace.promotions.service import Quote

# Shipping per vendor order, in minor units: free from this order value up, otherwise a flat fee.
FREE_SHIPPING_FROM = 5000
SHIPPING_FEE = 499


def shipping_for(items_total: int) -> int:
    return 0 if items_total >= FREE_SHIPPING_FROM else SHIPPING_FEE


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


# The named rows PLACE_CHECKOUT takes, one per table it writes (sent as jsonb; the statement's column lists
# name the same fields, which tests/test_checkout.py holds together).


class CheckoutRow(msgspec.Struct):
    buyer_id: int
    currency: str
    items_total: int
    shipping_total: int
    grand_total: int
    shipping_address: dict[str, object]
    hold_seconds: int  # time to pay
    discount_total: int
    coupon_id: int | None
    points_spent: int
    status: str  # each order's first status and history note
    note: str
    buyer_topic: str
    leaves_cart: bool  # a cart checkout empties the lines bought; a flash purchase leaves the cart alone
    flash_sale_id: int | None  # a flash purchase takes `flash_units` from this sale (None: a cart checkout)
    flash_units: int
    flash_topic: str


class VendorRow(msgspec.Struct):
    vendor_id: int
    items_total: int
    shipping_total: int
    items: int
    topic: str
    vendor_discount: int
    platform_discount: int


class LineRow(msgspec.Struct):
    vendor_id: int
    sku_id: int
    product_id: int
    title: str
    sku_code: str
    unit_price: int
    quantity: int
    vendor_discount: int
    platform_discount: int


class SkuRow(msgspec.Struct):
    sku_id: int
    quantity: int
    topic: str


CHECKOUT_DECODER = msgspec.json.Decoder(CheckoutOut)


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
    line_skus = [s for v in vendors for s in by_vendor[v]]
    written = await conn.fetchval(
        q.PLACE_CHECKOUT,
        CheckoutRow(
            buyer_id=buyer_id,
            currency=currencies.pop(),
            items_total=sum(totals.values()),
            shipping_total=sum(shipping.values()),
            grand_total=sum(order_total.values()),
            shipping_address={column: skus[0][column] for column in q.ADDRESS_COLUMNS},
            hold_seconds=hold_seconds,
            discount_total=promo.total,
            coupon_id=promo.coupon_id,
            points_spent=promo.points,
            status=OrderStatus.PENDING_PAYMENT,
            note="placed",
            buyer_topic=topics.user_orders(buyer_id),
            leaves_cart=flash_sale_id is None,
            flash_sale_id=flash_sale_id,
            flash_units=sum(quantities.values()),
            flash_topic=topics.product_stock(skus[0]["product_id"]),
        ),
        [
            VendorRow(
                vendor_id=v,
                items_total=totals[v],
                shipping_total=shipping[v],
                items=items[v],
                topic=topics.vendor_orders(v),
                vendor_discount=off[v][0],
                platform_discount=off[v][1],
            )
            for v in vendors
        ],
        [
            LineRow(
                vendor_id=s["vendor_id"],
                sku_id=s["sku_id"],
                product_id=s["product_id"],
                title=s["title"],
                sku_code=s["code"],
                unit_price=price[s["sku_id"]],
                quantity=quantities[s["sku_id"]],
                vendor_discount=vendor_off[s["sku_id"]],
                platform_discount=platform_off[s["sku_id"]],
            )
            for s in line_skus
        ],
        [
            SkuRow(sku_id=s["sku_id"], quantity=quantities[s["sku_id"]], topic=topics.product_stock(s["product_id"]))
            for s in skus
        ],
    )
    checkout = CHECKOUT_DECODER.decode(written)
    if promo.coupon_id is not None or promo.points:
        await promotions.record(conn, promo, checkout.id, buyer_id)
    return checkout

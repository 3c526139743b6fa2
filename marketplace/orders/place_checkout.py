"""Checkout: the buyer's cart becomes one checkout split into one order per vendor, in one transaction.

Everything is priced here from the database; the client sends only which address to ship to. Stock is
reserved with a conditional update that cannot take more than is available, so concurrent checkouts for
the last units succeed exactly as often as there are units. Unpaid checkouts expire (see sweeper.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import msgspec

from marketplace.core import fields, topics
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.logistics import fees
from marketplace.orders import OrderStatus
from marketplace.orders import queries as q
from marketplace.orders.schemas import CheckoutOut
from marketplace.promotions import service as promotions
from marketplace.promotions.service import Quote


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
    return await _place(conn, buyer_id, skus, payment_minutes * 60, coupon_code, points)


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


def checkout_of(written: bytes | str) -> CheckoutOut:
    """The checkout PLACE_CHECKOUT wrote, as its buyer reads it: the address's sealed lines opened."""
    checkout = CHECKOUT_DECODER.decode(written)
    checkout.shipping_address = fields.open_address(checkout.shipping_address)
    return checkout


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
    _check(skus)
    with _refusals():
        return checkout_of(await conn.fetchval(q.PLACE_CHECKOUT, *_rows(buyer_id, skus, hold_seconds, sale_id)))


async def place_one_line_checkout(
    conn: asyncpg.Connection, buyer_id: int, address_id: int, sku_id: int, unit_price: int, hold_seconds: int
) -> CheckoutOut:
    """A checkout of one unit of `sku_id` at `unit_price` (a group buy's price), held `hold_seconds` for
    payment, inside the caller's transaction; the buyer's cart is left as it was. No promotion applies."""
    skus = await conn.fetch(q.CHECKOUT_ONE_LINE, buyer_id, address_id, sku_id, unit_price)
    if not skus:
        raise NotFound("no such SKU")
    _check(skus)
    rows = _rows(buyer_id, skus, hold_seconds, None, keeps_cart=True)
    try:
        return checkout_of(await conn.fetchval(q.PLACE_CHECKOUT, *rows))
    except asyncpg.CheckViolationError:  # read unlocked: the last unit went meanwhile (reserved <= on_hand held)
        raise Conflict("sold out", code="out-of-stock", sku_id=sku_id, available=0) from None


async def place_flash_checkouts(
    conn: asyncpg.Connection, sale_id: int, purchases: list[tuple[int, int, int]], hold_seconds: int
) -> list[CheckoutOut | Exception]:
    """Several buyers' flash purchases of one sale (buyer, address, quantity), each the checkout
    `place_flash_checkout` would place, inside the caller's transaction: their reads pipelined, their writes
    one statement (PLACE_FLASH_BATCH), so a batch of a crowd costs the sale's and the SKU's rows one update
    and one commit. A purchase its own reading refuses (no such address, nothing left on the shelf) comes
    back as its exception and is not written; if the sale, a buyer's allowance or the shelf refuses any of
    the others, this raises SaleRefused and nothing is written (the caller then goes one by one)."""
    read = await conn.fetchmany(q.CHECKOUT_FLASH, [(b, a, sale_id, n) for b, a, n in purchases])
    if len(read) != len(purchases):  # one row each, unless the sale is gone
        raise NotFound("no such flash sale")
    refused: dict[int, Exception] = {}
    writes = []
    for i, ((buyer_id, _, _), sku) in enumerate(zip(purchases, read, strict=True)):
        try:
            _check([sku])
        except (NotFound, Conflict) as exc:
            refused[i] = exc
        else:
            writes.append(_rows(buyer_id, [sku], hold_seconds, sale_id))
    written: list = []
    if writes:
        (_, [vendor], [line], [stock]) = writes[0]  # one SKU: the same vendor, line and stock topic for all
        with _refusals():
            written = await conn.fetch(q.PLACE_FLASH_BATCH, [w[0] for w in writes], line, vendor.topic, stock.topic)
    placed = iter(checkout_of(row[0]) for row in written)
    return [refused[i] if i in refused else next(placed) for i in range(len(purchases))]


@contextmanager
def _refusals() -> Iterator[None]:
    """The sale's refusal raised inside PLACE_CHECKOUT, or the shelf's CHECK, as SaleRefused."""
    try:
        yield
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
    coupon_code: str | None = None,
    points: int = 0,
) -> CheckoutOut:
    """Check the lines read and write the checkout, less any promotion."""
    _check(skus)
    promo = Quote()
    if coupon_code is not None or points or skus[0]["coupons_running"]:
        lines = [{**dict(s), "unit_price": _unit_price(s)} for s in skus]
        promo = await promotions.quote(conn, buyer_id, lines, coupon_code, points, skus[0]["coupons_running"])
    checkout = checkout_of(await conn.fetchval(q.PLACE_CHECKOUT, *_rows(buyer_id, skus, hold_seconds, None, promo)))
    if promo.coupon_id is not None or promo.points:
        await promotions.record(conn, promo, checkout.id, buyer_id)
    return checkout


def _unit_price(sku: asyncpg.Record) -> int:
    return sku["sale_price"] or sku["price"]


def _check(skus: list[asyncpg.Record]) -> None:
    """What the reading found that refuses the checkout: no address, items gone, several currencies, too
    few left."""
    if not skus[0]["address_found"]:
        raise NotFound("no such address in your address book")
    gone = [s["title"] for s in skus if not s["visible"]] + ["(removed item)"] * (skus[0]["cart_lines"] - len(skus))
    if gone:
        raise Conflict(
            "some items are no longer for sale; remove them from your cart", code="items-unavailable", items=gone
        )
    if len({s["currency"] for s in skus}) != 1:
        raise Unprocessable("a checkout is paid in one currency")
    for sku in skus:
        if sku["available"] < sku["quantity"]:
            raise Conflict(
                f"only {sku['available']} left of {sku['title']} ({sku['code']})",
                code="out-of-stock",
                sku_id=sku["sku_id"],
                available=sku["available"],
            )


def _shipping(skus: list[asyncpg.Record], price: dict[int, int], quantities: dict[int, int]) -> int:
    """One vendor order's shipping to the address read with its lines, by each line's template (or flat)."""
    lines = [
        fees.Line(s["shipping_template_id"], s["shipping_basis"], s["shipping_default_rate"], s["shipping_regions"],
                  price[s["sku_id"]] * quantities[s["sku_id"]], quantities[s["sku_id"]], s["weight_grams"])
        for s in skus
    ]  # fmt: skip
    return fees.vendor_order_fee(lines, skus[0]["country"] or "", skus[0]["region"] or "")


def _rows(
    buyer_id: int,
    skus: list[asyncpg.Record],
    hold_seconds: int,
    flash_sale_id: int | None,
    promo: Quote | None = None,
    keeps_cart: bool = False,
) -> tuple[CheckoutRow, list[VendorRow], list[LineRow], list[SkuRow]]:
    """PLACE_CHECKOUT's four parameters for lines already checked, at their sale price where they have one,
    less any promotion (never on flash-sale lines)."""
    promo = promo or Quote()
    quantities = {s["sku_id"]: s["quantity"] for s in skus}
    price = {s["sku_id"]: _unit_price(s) for s in skus}
    by_vendor: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for sku in skus:
        by_vendor[sku["vendor_id"]].append(sku)
    vendors = sorted(by_vendor)
    totals = {v: sum(price[s["sku_id"]] * quantities[s["sku_id"]] for s in by_vendor[v]) for v in vendors}
    shipping = {v: _shipping(by_vendor[v], price, quantities) for v in vendors}
    items = {v: sum(quantities[s["sku_id"]] for s in by_vendor[v]) for v in vendors}
    vendor_off = {s["sku_id"]: promo.vendor_discount.get(s["sku_id"], 0) for s in skus}
    platform_off = {s["sku_id"]: promo.platform_discount.get(s["sku_id"], 0) for s in skus}
    off = {v: (sum(vendor_off[s["sku_id"]] for s in by_vendor[v]), sum(platform_off[s["sku_id"]] for s in by_vendor[v]))
           for v in vendors}  # fmt: skip
    order_total = {v: totals[v] + shipping[v] - sum(off[v]) for v in vendors}
    line_skus = [s for v in vendors for s in by_vendor[v]]
    return (
        CheckoutRow(
            buyer_id=buyer_id,
            currency=skus[0]["currency"],
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
            leaves_cart=flash_sale_id is None and not keeps_cart,
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

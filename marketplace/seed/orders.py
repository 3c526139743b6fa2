"""Orders, payments, reviews and the ledger for the demo, derived from the simulated purchases.

Each browsing session's purchases become one checkout, split into one order per vendor and paid through
the sandbox provider. How far an order has come depends on its age (recent ones are paid or accepted,
older ones shipped, delivered, then completed); a few are cancelled before payment. Buyers review some
delivered products, rating them near the product's hidden quality. Sold units leave the shelf as
stock movements, and every paid order posts to the ledger, exactly as the live code paths do."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg
import numpy as np

from marketplace.core import fields
from marketplace.logistics.fees import flat_fee
from marketplace.orders import CheckoutStatus, OrderStatus
from marketplace.orders.actions import EXPIRY_REASON, ORDER_MOVES
from marketplace.seed.bulk import copy_with_ids, timestamp
from marketplace.seed.generator import DAY, Demo
from marketplace.settlement import payment_entries, refund_entries
from marketplace.settlement.service import commission_of

PLATFORM_RATE_BP = 1000
CANCEL_SHARE = 0.03
REVIEW_SHARE = 0.35
RETURN_SHARE = 0.04
ADDRESS = {
    "recipient": "",
    "phone": "+4915100000000",
    "line1": "1 Demo Street",
    "line2": "",
    "city": "Berlin",
    "region": "",
    "postal_code": "10115",
    "country": "DE",
}


@dataclass
class Checkout:
    buyer: int  # index into the demo's buyers
    at: float
    products: list[int] = field(default_factory=list)  # product indices, one unit each
    cancelled: bool = False


def plan_checkouts(demo: Demo, seed_value: int) -> list[Checkout]:
    rng = np.random.default_rng(seed_value + 1)
    by_session: dict[int, Checkout] = {}
    for i in np.flatnonzero(demo.kind == "purchase"):
        session = int(demo.session[i])
        checkout = by_session.setdefault(session, Checkout(int(demo.user[i]), float(demo.at[i])))
        if int(demo.product[i]) not in checkout.products:
            checkout.products.append(int(demo.product[i]))
    checkouts = sorted(by_session.values(), key=lambda c: c.at)
    for checkout, roll in zip(checkouts, rng.random(len(checkouts)), strict=True):
        checkout.cancelled = roll < CANCEL_SHARE
    return checkouts


def product_prices(demo: Demo) -> dict[int, int]:
    """Each product sells at its first SKU's price."""
    return {p: int(demo.sku_price[np.flatnonzero(demo.sku_product == p)[0]]) for p in range(demo.size.products)}


def sold_per_product(demo: Demo, checkouts: list[Checkout]) -> np.ndarray:
    sold = np.zeros(demo.size.products, dtype=np.int64)
    for checkout in checkouts:
        if not checkout.cancelled:
            sold[checkout.products] += 1
    return sold


def _stage(age_days: float, roll: float) -> list[str]:
    """The statuses an order of this age has been through after being paid: the order state machine's way
    from paid to how far an order that old has got."""
    if age_days > 14:
        reached = OrderStatus.COMPLETED
    elif age_days > 3:
        reached = OrderStatus.DELIVERED
    elif age_days > 1:
        reached = OrderStatus.SHIPPED
    else:
        reached = OrderStatus.ACCEPTED if roll < 0.5 else OrderStatus.PAID
    return [str(status) for status in ORDER_MOVES.path(OrderStatus.PAID, reached)[1:]]


async def load_orders(
    conn: asyncpg.Connection,
    demo: Demo,
    checkouts: list[Checkout],
    buyer_ids: np.ndarray,
    vendor_ids: np.ndarray,
    product_ids: np.ndarray,
    first_sku_ids: np.ndarray,
    seed_value: int,
) -> dict[str, int]:
    rng = np.random.default_rng(seed_value + 2)
    now = demo.start + demo.size.weeks * 7 * DAY
    price = product_prices(demo)
    code = {p: demo.sku_code[int(np.flatnonzero(demo.sku_product == p)[0])] for p in range(demo.size.products)}

    buyers = sorted({c.buyer for c in checkouts})
    # Sealed once per buyer: a checkout copies its address as it is, as place_checkout does.
    # Each buyer at an address of their own (one street for all would look like a ring to risk control).
    sealed = {
        b: fields.sealed_snapshot({**ADDRESS, "recipient": f"Buyer {b + 1}", "line1": f"{b + 1} Demo Street"})
        for b in buyers
    }
    address_rows = [
        (
            int(buyer_ids[b]),
            sealed[b]["recipient"],
            sealed[b]["phone"],
            sealed[b]["line1"],
            ADDRESS["city"],
            sealed[b]["postal_code"],
            ADDRESS["country"],
            sealed[b]["match_key"],
            True,
        )
        for b in buyers
    ]
    await conn.copy_records_to_table(
        "addresses",
        records=address_rows,
        columns=("user_id", "recipient", "phone", "line1", "city", "postal_code", "country", "match_key", "is_default"),
    )

    checkout_rows, order_plan = [], []
    for checkout in checkouts:
        by_vendor: dict[int, list[int]] = defaultdict(list)
        for p in checkout.products:
            by_vendor[int(demo.product_vendor[p])].append(p)
        totals = {v: sum(price[p] for p in ps) for v, ps in by_vendor.items()}
        shipping = {v: flat_fee(t) for v, t in totals.items()}
        items, ship = sum(totals.values()), sum(shipping.values())
        # Unpaid checkouts expired, as the sweeper would have left them.
        status = CheckoutStatus.EXPIRED if checkout.cancelled else CheckoutStatus.PAID
        address = sealed[checkout.buyer]
        checkout_rows.append(
            (
                int(buyer_ids[checkout.buyer]),
                status,
                "EUR",
                items,
                ship,
                items + ship,
                address,
                timestamp(checkout.at + 900),
                None if checkout.cancelled else timestamp(checkout.at + 120),
                timestamp(checkout.at),
            )
        )
        order_plan.append((checkout, by_vendor, totals, shipping))
    checkout_ids = await copy_with_ids(
        conn,
        "checkouts",
        (
            "buyer_id",
            "status",
            "currency",
            "items_total",
            "shipping_total",
            "grand_total",
            "shipping_address",
            "expires_at",
            "paid_at",
            "created_at",
        ),
        checkout_rows,
    )

    order_rows, order_meta = [], []
    for checkout_id, (checkout, by_vendor, totals, shipping) in zip(checkout_ids, order_plan, strict=True):
        age = (now - checkout.at) / DAY
        for v, products in sorted(by_vendor.items()):
            stages = [] if checkout.cancelled else _stage(age, float(rng.random()))
            status = "cancelled" if checkout.cancelled else (stages[-1] if stages else "paid")
            commission = 0 if checkout.cancelled else sum(commission_of(price[p], PLATFORM_RATE_BP) for p in products)
            shipped = "shipped" in stages
            order_rows.append(
                (
                    int(checkout_id),
                    int(buyer_ids[checkout.buyer]),
                    int(vendor_ids[v]),
                    status,
                    "EUR",
                    totals[v],
                    shipping[v],
                    totals[v] + shipping[v],
                    None if checkout.cancelled else commission,
                    "DHL" if shipped else None,
                    f"DEMO{checkout_id:08d}{v:03d}" if shipped else None,
                    EXPIRY_REASON if checkout.cancelled else None,
                    timestamp(checkout.at),
                    timestamp(checkout.at + 60),
                )
            )
            order_meta.append((checkout, v, products, stages, commission))
    order_ids = await copy_with_ids(
        conn,
        "orders",
        (
            "checkout_id",
            "buyer_id",
            "vendor_id",
            "status",
            "currency",
            "items_total",
            "shipping_total",
            "total",
            "commission",
            "carrier",
            "tracking_number",
            "cancel_reason",
            "created_at",
            "updated_at",
        ),
        order_rows,
    )

    lines, history, movements, ledger, payments, reviews = [], [], [], [], [], []
    returns: list[tuple[int, int, int, int, int, float]] = []  # order, buyer, vendor, line index, amount, at
    reviewed: set[tuple[int, int]] = set()
    paid_total: dict[int, int] = defaultdict(int)
    refunded_total: dict[int, int] = defaultdict(int)
    for order_id, (checkout, v, products, stages, commission), row in zip(
        order_ids, order_meta, order_rows, strict=True
    ):
        oid, at = int(order_id), checkout.at
        for p in products:
            lines.append(
                (oid, int(first_sku_ids[p]), int(product_ids[p]), demo.product_title[p], code[p], price[p], 1, price[p])
            )
        history.append((oid, None, "pending_payment", None, "placed", timestamp(at)))
        if checkout.cancelled:
            history.append((oid, "pending_payment", "cancelled", None, EXPIRY_REASON, timestamp(at + 900)))
            continue
        previous = "paid"
        history.append((oid, "pending_payment", "paid", None, "paid", timestamp(at + 120)))
        for step, status in enumerate(stages, start=1):
            history.append((oid, previous, status, None, None, timestamp(at + step * DAY * 0.9)))
            previous = status
        for p in products:
            movements.append((int(first_sku_ids[p]), -1, "sold", oid, timestamp(at + 120)))
        total = row[7]
        paid_total[int(row[0])] += total
        posting = uuid.uuid4()
        for account, amount in payment_entries(int(vendor_ids[v]), total, commission).items():
            ledger.append((posting, account, amount, "EUR", "payment", oid, timestamp(at + 120)))
        if "delivered" in stages and rng.random() < RETURN_SHARE:
            # The first item came back: refunded in full and restocked, as a vendor would handle it.
            p = products[0]
            line_index = len(lines) - len(products)
            returns.append((oid, int(buyer_ids[checkout.buyer]), int(vendor_ids[v]), line_index, price[p], at))
            refunded_total[int(row[0])] += price[p]
            refund_posting = uuid.uuid4()
            for account, amount in refund_entries(int(vendor_ids[v]), total, commission, price[p]).items():
                ledger.append((refund_posting, account, amount, "EUR", "refund", oid, timestamp(at + 6 * DAY)))
            movements.append((int(first_sku_ids[p]), 1, "return received", oid, timestamp(at + 6 * DAY)))
        if "delivered" in stages:
            for p in products:
                key = (checkout.buyer, p)
                if key in reviewed or rng.random() >= REVIEW_SHARE:
                    continue
                reviewed.add(key)
                rating = int(np.clip(round(demo.product_rating[p] + rng.normal(0, 0.8)), 1, 5))
                text = ["Disappointing.", "Not great.", "Does the job.", "Very good.", "Excellent, would buy again."]
                reviews.append(
                    (
                        int(product_ids[p]),
                        int(vendor_ids[v]),
                        int(buyer_ids[checkout.buyer]),
                        rating,
                        text[rating - 1],
                        timestamp(at + 4 * DAY),
                    )
                )
    for checkout_id, checkout in zip(checkout_ids, checkouts, strict=True):
        if not checkout.cancelled:
            amount = paid_total[int(checkout_id)]
            payments.append(
                (
                    int(checkout_id),
                    "sandbox",
                    f"sbx_demo_{checkout_id}",
                    amount,
                    "EUR",
                    "refunded" if refunded_total[int(checkout_id)] == amount else "succeeded",
                    refunded_total[int(checkout_id)],
                    timestamp(checkout.at + 60),
                    timestamp(checkout.at + 120),
                )
            )

    line_ids = await copy_with_ids(
        conn,
        "order_lines",
        ("order_id", "sku_id", "product_id", "title", "sku_code", "unit_price", "quantity", "line_total"),
        lines,
    )
    request_ids = await copy_with_ids(
        conn,
        "aftersales_requests",
        (
            "order_id",
            "buyer_id",
            "vendor_id",
            "kind",
            "status",
            "reason",
            "refund_cap",
            "refunded_amount",
            "return_carrier",
            "return_tracking",
            "restocked",
            "created_at",
            "updated_at",
        ),
        [
            (
                order,
                buyer,
                vendor,
                "return",
                "refunded",
                "did not meet expectations",
                amount,
                amount,
                "DHL",
                f"RET{order:09d}",
                True,
                timestamp(at + 4 * DAY),
                timestamp(at + 6 * DAY),
            )
            for order, buyer, vendor, _, amount, at in returns
        ],
    )
    await conn.copy_records_to_table(
        "aftersales_lines",
        records=[(int(r), int(line_ids[ret[3]]), 1) for r, ret in zip(request_ids, returns, strict=True)],
        columns=("request_id", "order_line_id", "quantity"),
    )
    await conn.copy_records_to_table(
        "order_history", records=history, columns=("order_id", "from_status", "to_status", "actor_id", "note", "at")
    )
    await conn.copy_records_to_table(
        "payments",
        records=payments,
        columns=(
            "checkout_id",
            "method",
            "provider_ref",
            "amount",
            "currency",
            "status",
            "refunded_amount",
            "created_at",
            "confirmed_at",
        ),
    )
    await conn.copy_records_to_table(
        "ledger_entries",
        records=ledger,
        columns=("posting", "account", "amount", "currency", "kind", "order_id", "created_at"),
    )
    await conn.copy_records_to_table(
        "reviews", records=reviews, columns=("product_id", "vendor_id", "buyer_id", "rating", "body", "created_at")
    )
    # Sold units: one movement per line; on_hand figures are filled in by the caller's running sums.
    await conn.copy_records_to_table(
        "stock_movements",
        records=[(sku, delta, 0, reason, order, at) for sku, delta, reason, order, at in movements],
        columns=("sku_id", "delta", "on_hand", "reason", "order_id", "created_at"),
    )
    return {"checkouts": len(checkouts), "orders": len(order_rows), "returns": len(returns), "reviews": len(reviews)}

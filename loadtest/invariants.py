"""What must hold in the database after a flash-sale load test, each as one SQL check with its figures."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

FLASH_LINES = """
SELECT o.id AS order_id, o.checkout_id, o.buyer_id, o.status, l.quantity, l.unit_price, l.sku_id
FROM order_lines l JOIN orders o ON o.id = l.order_id
WHERE l.flash_sale_id = $1
"""


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


async def check_flash_sale(
    conn: asyncpg.Connection, sale_id: int, on_hand_before: int, accepted: list[list[int]], gate_remaining: int | None
) -> list[Check]:
    sale = await conn.fetchrow("SELECT * FROM flash_sales WHERE id = $1", sale_id)
    lines = await conn.fetch(FLASH_LINES, sale_id)
    live = [line for line in lines if line["status"] != "cancelled"]
    held = sum(line["quantity"] for line in live)
    paid = sum(line["quantity"] for line in live if line["status"] != "pending_payment")
    per_buyer: dict[int, int] = {}
    for line in live:
        per_buyer[line["buyer_id"]] = per_buyer.get(line["buyer_id"], 0) + line["quantity"]
    sku = await conn.fetchrow("SELECT on_hand, reserved FROM skus WHERE id = $1", sale["sku_id"])
    orders = [line["order_id"] for line in live if line["status"] != "pending_payment"]
    unmoved = await conn.fetchval(
        "SELECT count(*) FROM unnest($1::bigint[]) o(id)"
        " WHERE NOT EXISTS (SELECT 1 FROM stock_movements m WHERE m.order_id = o.id)",
        orders,
    )
    unpaid = await conn.fetchval(
        "SELECT count(*) FROM orders o WHERE o.id = ANY($1::bigint[]) AND NOT EXISTS"
        " (SELECT 1 FROM payments p WHERE p.checkout_id = o.checkout_id AND p.status = 'succeeded')",
        orders,
    )
    ledger = await conn.fetchrow(
        "SELECT coalesce(sum(-m.delta) FILTER (WHERE m.order_id = ANY($2::bigint[])), 0)::int AS sold,"
        " (SELECT on_hand FROM stock_movements WHERE sku_id = $1 ORDER BY id DESC LIMIT 1) AS last_on_hand"
        " FROM stock_movements m WHERE m.sku_id = $1",
        sale["sku_id"],
        orders,
    )
    in_db = {line["checkout_id"]: line for line in live}
    missing = [c for buyer, c, _ in accepted if c not in in_db or in_db[c]["buyer_id"] != buyer]
    twice = len(accepted) - len({c for _, c, _ in accepted})
    accepted_paid = [c for _, c, was_paid in accepted if was_paid]
    unpaid_accepted = [c for c in accepted_paid if in_db.get(c) is None or in_db[c]["status"] == "pending_payment"]
    wrong_price = [line["order_id"] for line in live if line["unit_price"] != sale["sale_price"]]
    return [
        Check("nothing oversold", held <= sale["units"], f"{held} units held by orders, {sale['units']} offered"),
        Check(
            "no buyer over the limit",
            max(per_buyer.values(), default=0) <= sale["per_buyer_limit"],
            f"most units held by one buyer: {max(per_buyer.values(), default=0)} (limit {sale['per_buyer_limit']})",
        ),
        Check(
            "sale's count matches its orders", sale["sold"] == held, f"flash_sales.sold {sale['sold']}, orders {held}"
        ),
        Check(
            "stock matches orders",
            sku["on_hand"] == on_hand_before - paid and sku["reserved"] == held - paid,
            f"on hand {on_hand_before} → {sku['on_hand']} ({paid} paid), "
            f"reserved {sku['reserved']} ({held - paid} unpaid)",
        ),
        Check("every paid order has its stock movement", unmoved == 0, f"{unmoved} of {len(orders)} without"),
        Check(
            "stock ledger matches the shelf",
            ledger["sold"] == paid and ledger["last_on_hand"] in (None, sku["on_hand"]),
            f"movements of the paid orders take {ledger['sold']} units ({paid} paid); the last movement leaves "
            f"{ledger['last_on_hand']} on hand, the shelf has {sku['on_hand']}",
        ),
        Check("every paid order has its payment", unpaid == 0, f"{unpaid} of {len(orders)} without"),
        Check("every sale at the sale price", not wrong_price, f"{len(wrong_price)} lines at another price"),
        Check(
            "every accepted purchase is present, the buyer's own",
            not missing,
            f"{len(accepted)} accepted, {len(missing)} missing or another buyer's",
        ),
        Check("no checkout accepted twice", twice == 0, f"{twice} checkouts handed out more than once"),
        Check("every accepted payment is applied", not unpaid_accepted, f"{len(unpaid_accepted)} not applied"),
        Check(
            "gate agrees with the database",
            gate_remaining == sale["units"] - sale["sold"],
            f"gate {gate_remaining}, database {sale['units'] - sale['sold']} left",
        ),
    ]

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


GROUP_MEMBERS = """
SELECT m.group_id, m.buyer_id, m.status, m.checkout_id, o.status AS order_status, o.total, g.status AS group_status,
       coalesce((SELECT sum(p.amount - p.refunded_amount) FROM payments p
                 WHERE p.checkout_id = m.checkout_id AND p.status IN ('succeeded', 'refunded')), 0)::bigint AS charged
FROM group_buy_members m JOIN orders o ON o.id = m.order_id JOIN group_buys g ON g.id = m.group_id
WHERE g.deal_id = $1
"""


async def check_group_buys(
    conn: asyncpg.Connection, deal_id: int, on_hand_before: int, accepted: list[list[int]]
) -> list[Check]:
    """After a group-buy run whose open groups have all been closed: accepted is [buyer, group, checkout, paid]."""
    deal = await conn.fetchrow("SELECT sku_id, group_size FROM group_buy_deals WHERE id = $1", deal_id)
    groups = await conn.fetch("SELECT id, size, seats_taken, paid, status FROM group_buys WHERE deal_id = $1", deal_id)
    members = await conn.fetch(GROUP_MEMBERS, deal_id)
    filled = {g["id"]: g for g in groups if g["status"] == "filled"}
    live: dict[int, int] = {}
    for m in members:
        if m["order_status"] != "cancelled":
            live[m["group_id"]] = live.get(m["group_id"], 0) + 1
    over = [g["id"] for g in groups if g["seats_taken"] > g["size"] or live.get(g["id"], 0) > g["size"]]
    short = [g for g, row in filled.items() if row["paid"] != row["size"] or live.get(g, 0) != row["size"]]
    unfilled = [m for m in members if m["group_id"] not in filled]
    charged_unfilled = [m for m in unfilled if m["charged"] != 0 or m["order_status"] != "cancelled"]
    wrong_charge = [
        m for m in members if m["group_id"] in filled and m["status"] == "paid" and m["charged"] != m["total"]
    ]
    per_buyer: dict[int, int] = {}
    for m in members:
        per_buyer[m["buyer_id"]] = per_buyer.get(m["buyer_id"], 0) + 1
    twice = [b for b, n in per_buyer.items() if n > 1]
    sku = await conn.fetchrow("SELECT on_hand, reserved FROM skus WHERE id = $1", deal["sku_id"])
    sold = len(filled) * deal["group_size"]
    ledger = await conn.fetchrow(
        "SELECT coalesce(sum(amount), 0)::bigint AS total, count(*) FILTER (WHERE NOT balanced)::int AS unbalanced"
        " FROM (SELECT posting, sum(amount) AS amount, sum(amount) = 0 AS balanced FROM ledger_entries"
        " GROUP BY posting) p"
    )
    in_db = {(m["buyer_id"], m["group_id"]): m for m in members}
    missing = [a for a in accepted if (a[0], a[1]) not in in_db or in_db[(a[0], a[1])]["checkout_id"] != a[2]]
    uncounted = [a for a in accepted if a[3] and in_db.get((a[0], a[1]), {"status": None})["status"] == "held"]
    still_open = [g["id"] for g in groups if g["status"] == "open"]
    return [
        Check("no group over-filled", not over, f"{len(over)} of {len(groups)} groups hold more than their seats"),
        Check(
            "every filled group has exactly its size paid",
            not short,
            f"{len(filled)} filled of {len(groups)}; {len(short)} with another count",
        ),
        Check("no group left open after its deadline", not still_open, f"{len(still_open)} open"),
        Check(
            "no member charged for an unfilled group",
            not charged_unfilled,
            f"{len(unfilled)} members of unfilled groups, {len(charged_unfilled)} charged or with an open order",
        ),
        Check(
            "every member of a filled group paid its order's total once",
            not wrong_charge,
            f"{len(wrong_charge)} charged another amount",
        ),
        Check("no duplicate membership", not twice, f"{len(per_buyer)} buyers, {len(twice)} in more than one group"),
        Check(
            "stock matches the filled groups",
            sku["on_hand"] == on_hand_before - sold and sku["reserved"] == 0,
            f"on hand {on_hand_before} → {sku['on_hand']} ({sold} sold in filled groups), reserved {sku['reserved']}",
        ),
        Check(
            "the ledger balances",
            ledger["total"] == 0 and ledger["unbalanced"] == 0,
            f"total {ledger['total']}, {ledger['unbalanced']} postings out of balance",
        ),
        Check(
            "every accepted join is present, the buyer's own",
            not missing,
            f"{len(accepted)} accepted, {len(missing)} missing or another's",
        ),
        Check("every accepted payment was counted", not uncounted, f"{len(uncounted)} paid but still held"),
    ]

"""Writes a generated demo marketplace into PostgreSQL with COPY, showing progress."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import asyncpg
import numpy as np
from argon2 import PasswordHasher
from tqdm import tqdm

from marketplace.accounts.passwords import hash_password, hasher_of
from marketplace.core import fields
from marketplace.core.errors import Conflict
from marketplace.seed import queries as q
from marketplace.seed.bulk import copy_with_ids, next_ids, timestamp
from marketplace.seed.generator import SIZES, WEEK, Demo, generate
from marketplace.seed.logistics import seed_shipping_templates
from marketplace.seed.orders import load_orders, plan_checkouts, sold_per_product
from marketplace.settings import Settings

DEMO_PASSWORD = "marketplace-demo"
DEMO_MARKETER_EMAIL = "marketer@demo.test"
DEMO_SUPPORT_EMAIL = "support@demo.test"  # a customer-service agent (docs/support.md)
CHUNK = 100_000


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


async def seed(
    conn: asyncpg.Connection,
    size_name: str = "small",
    seed_value: int = 42,
    reset: bool = False,
    quiet: bool = False,
    hasher: PasswordHasher | None = None,
) -> dict[str, int]:
    """Write the demo marketplace. Its users' password is hashed with `hasher` (default: the cost Settings
    defaults to; the commands pass their settings' one)."""
    size = SIZES[size_name]
    if reset:
        await conn.execute(q.RESET)
    elif await conn.fetchval(q.HAS_PRODUCTS):
        raise Conflict("the database already has products; use --reset to replace them with demo data")
    # The simulated period ends now, so the demo's recent weeks are this week.
    start = time.time() - size.weeks * WEEK
    bar = tqdm(total=8, desc="seed", unit="step", disable=quiet)

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    demo = generate(size, seed_value, start)
    step("generated")
    async with conn.transaction():
        category_ids = await _categories(conn, demo)
        step("categories")
        password_hash = await hash_password(hasher or hasher_of(Settings()), DEMO_PASSWORD)
        vendor_user_ids, buyer_ids = await _users(conn, demo, password_hash)
        vendor_ids = await _vendors(conn, demo, vendor_user_ids)
        step("users and vendors")
        product_ids = await _products(conn, demo, vendor_ids, category_ids)
        step("products")
        checkouts = plan_checkouts(demo, seed_value)
        first_sku_ids = await _skus(conn, demo, product_ids, sold_per_product(demo, checkouts))
        step("skus and stock")
        await _interactions(conn, demo, buyer_ids, product_ids, quiet)
        step("interactions")
        sales = await load_orders(conn, demo, checkouts, buyer_ids, vendor_ids, product_ids, first_sku_ids, seed_value)
        await _tastes_and_totals(conn, demo, buyer_ids, category_ids)
        await conn.execute(q.DEMO_COUPONS, int(vendor_ids[0]))
        await seed_shipping_templates(conn, vendor_ids)  # two shops price shipping by template (logistics)
        await conn.execute(q.DEMO_POINTS)
        await conn.execute(q.DEMO_WELCOME, "buyer1@demo.test", q.DEMO_WELCOME_POINTS)
        await conn.execute(q.DEMO_MARKETER, DEMO_MARKETER_EMAIL, password_hash)
        await conn.execute(q.DEMO_SUPPORT, DEMO_SUPPORT_EMAIL, password_hash)
        step("orders, reviews, tastes and promotions")
    await conn.execute(q.ANALYZE)
    step("analyzed")
    bar.close()
    return {
        "vendors": size.vendors,
        "products": size.products,
        "skus": len(demo.sku_code),
        "buyers": size.buyers,
        "interactions": len(demo.kind),
        **sales,
    }


async def _categories(conn: asyncpg.Connection, demo: Demo) -> list[int]:
    ids: list[int] = []
    for position, (name, parent) in enumerate(zip(demo.categories.names, demo.categories.parents, strict=True)):
        parent_id = ids[parent] if parent is not None else None
        new_id = await conn.fetchval(q.INSERT_CATEGORY, parent_id, name, _slug(name), position)
        await conn.execute(q.CATEGORY_PATH_SELF, new_id)
        ids.append(new_id)
    return ids


async def _users(conn: asyncpg.Connection, demo: Demo, password_hash: str) -> tuple[np.ndarray, np.ndarray]:
    size = demo.size
    joined = [timestamp(demo.start + w * WEEK) for w in demo.buyer_joined]
    earliest = timestamp(demo.start - 30 * WEEK)
    rows = [
        (f"vendor{i + 1}@demo.test", password_hash, name, ["buyer", "vendor"], earliest)
        for i, name in enumerate(demo.vendor_names)
    ] + [(f"buyer{i + 1}@demo.test", password_hash, f"Buyer {i + 1}", ["buyer"], joined[i]) for i in range(size.buyers)]
    await conn.execute(q.USERS_STAGING)
    await conn.copy_records_to_table(
        "seed_users",
        records=[(i, *row) for i, row in enumerate(rows)],
        columns=("ord", "email", "password_hash", "display_name", "roles", "created_at"),
    )
    await conn.execute(q.USERS_FROM_STAGING)
    ids = await next_ids(conn, "users", len(rows))
    return ids[: size.vendors], ids[size.vendors :]


async def _vendors(conn: asyncpg.Connection, demo: Demo, user_ids: np.ndarray) -> np.ndarray:
    rows = [
        (
            int(user_ids[i]),
            name,
            f"{name}: a demo shop",
            f"vendor{i + 1}@demo.test",
            fields.seal(f"DEMO-{1000 + i}", fields.LICENCE),
        )
        for i, name in enumerate(demo.vendor_names)
    ]
    return await copy_with_ids(
        conn, "vendors", ("user_id", "shop_name", "description", "contact_email", "licence_number"), rows
    )


async def _products(
    conn: asyncpg.Connection, demo: Demo, vendor_ids: np.ndarray, category_ids: list[int]
) -> np.ndarray:
    leaves = demo.categories.leaves
    rows = [
        (
            int(vendor_ids[demo.product_vendor[i]]),
            category_ids[leaves[demo.product_leaf[i]]],
            demo.product_title[i],
            demo.product_brand[i],
            demo.product_model[i],
            f"{demo.product_title[i]}. A demo product in {demo.categories.names[leaves[demo.product_leaf[i]]]}.",
            "listed",
            "EUR",
            float(demo.product_rating[i]),
            timestamp(demo.product_created[i]),
        )
        for i in range(demo.size.products)
    ]
    columns = (
        "vendor_id", "category_id", "title", "brand", "model", "description", "status", "currency", "rating_avg",
        "created_at",
    )  # fmt: skip
    return await copy_with_ids(conn, "products", columns, rows)


async def _skus(conn: asyncpg.Connection, demo: Demo, product_ids: np.ndarray, sold: np.ndarray) -> np.ndarray:
    """Load SKUs with their opening stock (the demo's sales come out of each product's first SKU, so it
    opens with what it still has plus what it sold). Returns each product's first SKU id."""
    first = np.full(demo.size.products, -1)
    for index, product in enumerate(demo.sku_product):
        if first[product] < 0:
            first[product] = index
    opening = demo.sku_stock.copy()
    opening[first] += sold
    rows = [
        (int(product_ids[p]), code, attrs, int(price), int(stock))
        for p, code, attrs, price, stock in zip(
            demo.sku_product, demo.sku_code, demo.sku_attributes, demo.sku_price, opening, strict=True
        )
    ]
    sku_ids = await copy_with_ids(conn, "skus", ("product_id", "code", "attributes", "price", "on_hand"), rows)
    movements = [
        (int(sku_id), int(stock), int(stock), "initial stock")
        for sku_id, stock in zip(sku_ids, opening, strict=True)
        if stock
    ]
    await conn.copy_records_to_table(
        "stock_movements", records=movements, columns=("sku_id", "delta", "on_hand", "reason")
    )
    await conn.execute(q.PRICE_RANGES)
    return sku_ids[first]


def _interaction_rows(demo: Demo, buyer_ids: np.ndarray, product_ids: np.ndarray) -> Iterator[list[tuple]]:
    users = buyer_ids[demo.user].tolist()
    products = np.where(demo.product >= 0, product_ids[np.maximum(demo.product, 0)], -1).tolist()
    sessions = demo.session.tolist()
    kinds = demo.kind.tolist()
    times = demo.at.tolist()
    for begin in range(0, len(kinds), CHUNK):
        yield [
            (
                kinds[i],
                users[i],
                f"demo-{sessions[i]:08d}",
                products[i] if products[i] >= 0 else None,
                1 if kinds[i] in ("cart", "purchase") else None,
                demo.query[i],
                None,
                timestamp(times[i]),
            )
            for i in range(begin, min(begin + CHUNK, len(kinds)))
        ]


async def _interactions(
    conn: asyncpg.Connection, demo: Demo, buyer_ids: np.ndarray, product_ids: np.ndarray, quiet: bool
) -> None:
    columns = ("kind", "user_id", "session_id", "product_id", "quantity", "query", "result_count", "occurred_at")
    with tqdm(total=len(demo.kind), desc="interactions", unit="row", unit_scale=True, disable=quiet) as bar:
        for chunk in _interaction_rows(demo, buyer_ids, product_ids):
            await conn.copy_records_to_table("interactions", records=chunk, columns=columns)
            bar.update(len(chunk))


async def _tastes_and_totals(
    conn: asyncpg.Connection, demo: Demo, buyer_ids: np.ndarray, category_ids: list[int]
) -> None:
    for statement in q.TOTALS_FROM_ORDERS:
        await conn.execute(statement)
    leaves = demo.categories.leaves
    rows = [
        (
            int(buyer_ids[b]),
            [category_ids[leaves[leaf]] for leaf in demo.buyer_leaves[b]],
            demo.buyer_weights[b].tolist(),
            float(demo.buyer_activity[b]),
            int(demo.buyer_joined[b]),
            int(demo.buyer_churn[b]) if demo.buyer_churn[b] >= 0 else None,
        )
        for b in range(demo.size.buyers)
    ]
    await conn.copy_records_to_table(
        "demo_buyer_tastes",
        records=rows,
        columns=("user_id", "leaf_category_ids", "weights", "activity", "joined_week", "churn_week"),
    )

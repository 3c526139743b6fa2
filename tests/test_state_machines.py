"""The states a status column may hold are said three times: in the database's CHECK constraint, in the
Python enum, and in the package's `StateMachine` (core/states.py). These tests keep the three in step: every
`status IN (...)` CHECK lists exactly its enum's values, the enum's first member is the column's default,
every state of a machine's table is a member of its enum, and every other state can be reached from the first.
A few refusals of the machines, through the API, close the file."""

from __future__ import annotations

import importlib
import pkgutil
import re
from enum import StrEnum
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

import marketplace
from marketplace.aftersales import Status as AftersalesStatus
from marketplace.catalog import ProductStatus
from marketplace.core.states import Actor as ActorRole
from marketplace.core.states import StateMachine
from marketplace.disputes import DisputeStatus
from marketplace.group_buys import GroupStatus, MemberStatus
from marketplace.orders import CheckoutStatus, OrderStatus
from marketplace.payments import PaymentStatus
from marketplace.risk import AlertStatus
from marketplace.vendors import ApplicationStatus, VendorStatus
from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor
from tests.test_aftersales import BACK, claim, delivered_order

# The table whose `status` column each enum describes.
ENUMS: dict[str, type[StrEnum]] = {
    "orders": OrderStatus,
    "checkouts": CheckoutStatus,
    "payments": PaymentStatus,
    "aftersales_requests": AftersalesStatus,
    "products": ProductStatus,
    "vendor_applications": ApplicationStatus,
    "vendors": VendorStatus,
    "group_buys": GroupStatus,
    "group_buy_members": MemberStatus,
    "risk_alerts": AlertStatus,
    "disputes": DisputeStatus,
}
# Status columns no enum describes (their code spells the literals out); listed so that a change to their CHECK,
# or a new status column, is a decision someone makes here rather than a surprise.
WITHOUT_ENUM: dict[str, set[str]] = {
    "users": {"active", "disabled"},
    "idempotency_keys": {"running", "done"},
    "coupon_redemptions": {"held", "released"},
    "segment_runs": {"queued", "running", "done", "failed"},
}

STATUS_CHECKS = """
SELECT c.conrelid::regclass::text AS table_name, c.conname, pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
WHERE c.contype = 'c' AND a.attname = 'status' AND c.connamespace = 'public'::regnamespace
ORDER BY 1, 2
"""
STATUS_DEFAULTS = """
SELECT a.attrelid::regclass::text AS table_name, pg_get_expr(d.adbin, d.adrelid) AS expression
FROM pg_attribute a
JOIN pg_class t ON t.oid = a.attrelid AND t.relkind = 'r' AND t.relnamespace = 'public'::regnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attname = 'status' AND NOT a.attisdropped
"""
LIST_CHECK = re.compile(r"CHECK \(\(status = ANY \(ARRAY\[(?P<literals>.*)\]\)\)\)")
LITERAL = re.compile(r"'((?:[^']|'')*)'::text")


def _literals(text: str) -> set[str]:
    return {value.replace("''", "'") for value in LITERAL.findall(text)}


async def status_lists(db: asyncpg.Connection) -> dict[str, set[str]]:
    """Each table's `status IN (...)` list, as the migrated database enforces it."""
    found: dict[str, set[str]] = {}
    for row in await db.fetch(STATUS_CHECKS):
        match = LIST_CHECK.fullmatch(row["definition"])
        assert match, f"{row['table_name']}.{row['conname']} is not a plain status list: {row['definition']}"
        assert row["table_name"] not in found, f"{row['table_name']} has two status lists"
        found[row["table_name"]] = _literals(match["literals"])
    return found


def state_machines() -> dict[str, StateMachine[Any]]:
    """Every StateMachine a package of marketplace declares beside its enums (`package.NAME`)."""
    machines = {}
    for module in pkgutil.iter_modules(marketplace.__path__):
        if module.ispkg:
            package = importlib.import_module(f"marketplace.{module.name}")
            for name, value in vars(package).items():
                if isinstance(value, StateMachine):
                    machines[f"{module.name}.{name}"] = value
    return machines


def enum_of(machine: StateMachine[Any]) -> type[StrEnum]:
    kinds = {type(state) for move in machine.transitions for state in move}
    assert len(kinds) == 1, f"the {machine.noun} machine mixes {kinds}"
    return kinds.pop()


async def test_every_status_check_lists_exactly_its_enums_values(db: asyncpg.Connection) -> None:
    checks = await status_lists(db)
    assert set(checks) == set(ENUMS) | set(WITHOUT_ENUM), "a status column without a declared list, or the reverse"
    mismatches = {
        table: {"database only": sorted(checks[table] - values), "python only": sorted(values - checks[table])}
        for table, values in {**{t: {m.value for m in e} for t, e in ENUMS.items()}, **WITHOUT_ENUM}.items()
        if checks[table] != values
    }
    assert not mismatches


async def test_every_status_defaults_to_its_enums_first_member(db: asyncpg.Connection) -> None:
    defaults = {r["table_name"]: r["expression"] for r in await db.fetch(STATUS_DEFAULTS)}
    for table, enum in ENUMS.items():
        assert _literals(defaults[table] or "") == {next(iter(enum)).value}, table


def test_the_machines_are_found() -> None:
    names = set(state_machines())
    assert {"aftersales.TRANSITIONS", "catalog.TRANSITIONS"} <= names
    assert {"vendors.APPLICATION_TRANSITIONS", "vendors.VENDOR_TRANSITIONS"} <= names


@pytest.mark.parametrize("name", sorted(state_machines()))
def test_a_machines_states_are_its_enums_and_each_is_reachable_from_the_first(name: str) -> None:
    machine = state_machines()[name]
    enum = enum_of(machine)
    assert all(isinstance(state, enum) for move in machine.transitions for state in move)
    assert all(machine.transitions.values()), "a move no one may make"
    initial = next(iter(enum))
    unreachable = [state for state in enum if state != initial and not machine.path(initial, state)]
    assert not unreachable, f"{name}: nothing leads from {initial} to {unreachable}"


def test_the_tables_refuse_what_they_should() -> None:
    products = state_machines()["catalog.TRANSITIONS"]
    assert not products.allows(ProductStatus.TAKEN_DOWN, ProductStatus.LISTED, ActorRole.VENDOR)
    assert not products.allows(ProductStatus.LISTED, ProductStatus.TAKEN_DOWN, ActorRole.VENDOR)
    assert products.targets(ProductStatus.TAKEN_DOWN, ActorRole.ADMIN) == [ProductStatus.UNLISTED]
    assert products.sources(ProductStatus.TAKEN_DOWN, ActorRole.ADMIN) == {
        ProductStatus.DRAFT, ProductStatus.LISTED, ProductStatus.UNLISTED
    }  # fmt: skip
    applications = state_machines()["vendors.APPLICATION_TRANSITIONS"]
    assert applications.targets(ApplicationStatus.APPROVED, ActorRole.ADMIN) == []
    assert applications.targets(ApplicationStatus.REJECTED, ActorRole.ADMIN) == []
    requests = state_machines()["aftersales.TRANSITIONS"]
    assert requests.sources(AftersalesStatus.APPROVED, ActorRole.BUYER) == set()
    assert requests.sources(AftersalesStatus.APPROVED, ActorRole.VENDOR) == {AftersalesStatus.REQUESTED}
    assert not requests.allows(AftersalesStatus.REFUNDED, AftersalesStatus.APPROVED, ActorRole.ADMIN)


# Refusals through the API.


async def test_a_vendor_cannot_unlist_a_taken_down_product_nor_an_admin_take_it_down_twice(
    client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection
) -> None:
    vendor = await approved_vendor(client, admin, "machines@example.com", "Machine Shop")
    kettle = await product(vendor, (await category_tree(admin))["Kettles"], "Kettle")
    url = f"/admin/products/{kettle['id']}"
    r = await admin.post(f"{url}/restore")
    assert r.status_code == 409 and r.json()["detail"] == "this product is not taken down"
    assert (await admin.post(f"{url}/take-down", json={"reason": "recalled"})).status_code == 200
    for path in ("unlist", "list"):
        r = await vendor.post(f"/vendor/products/{kettle['id']}/{path}")
        assert r.status_code == 409 and "taken down by the marketplace" in r.json()["detail"]
    r = await admin.post(f"{url}/take-down", json={"reason": "again"})
    assert r.status_code == 409 and r.json()["detail"] == "already taken down"
    row = await db.fetchrow("SELECT status, takedown_reason FROM products WHERE id = $1", kettle["id"])
    assert tuple(row) == ("taken_down", "recalled")
    assert (await admin.post(f"{url}/restore")).json()["status"] == "unlisted"
    r = await vendor.post(f"/vendor/products/{kettle['id']}/unlist")  # unlisted already: the table's refusal
    assert r.status_code == 409 and "cannot move a unlisted product to unlisted" in r.json()["detail"]


async def test_an_admin_cannot_reinstate_an_active_vendor(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    vendor = await approved_vendor(client, admin, "active@example.com", "Still Active")
    r = await admin.post(f"/admin/vendors/{vendor.vendor_id}/reinstate")
    assert r.status_code == 409 and "already active" in r.json()["detail"]


async def test_a_rejected_request_comes_back_only_by_an_overturn(
    shop: dict[str, Any], admin: Actor, db: asyncpg.Connection
) -> None:
    order = await delivered_order(shop)
    buyer, alpha = shop["buyer"], shop["alpha"]
    request = (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "refund_only"))).json()
    assert (await alpha.post(f"/vendor/aftersales/{request['id']}/reject", json={"note": "no dent"})).status_code == 200
    # The table lets an admin move a rejected request to approved, but only with a reason and on the record.
    r = await admin.post(f"/admin/aftersales/{request['id']}/approve")
    assert r.status_code == 409 and r.json()["request_status"] == "rejected"
    assert (await alpha.post(f"/vendor/aftersales/{request['id']}/approve")).status_code == 409
    assert (await buyer.post(f"/aftersales/{request['id']}/withdraw")).status_code == 409  # decided already
    assert await db.fetchval("SELECT status FROM aftersales_requests WHERE id = $1", request["id"]) == "rejected"
    # A refund-only request is never shipped back.
    again = (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "refund_only"))).json()
    assert (await alpha.post(f"/vendor/aftersales/{again['id']}/approve")).status_code == 200
    r = await buyer.post(f"/aftersales/{again['id']}/return-shipped", json=BACK)
    assert r.status_code == 409 and r.json()["request_status"] == "approved"

"""The anomaly rules: what each one looks for (its SQL is in queries.py, one set-based statement per rule over
the scan window), its thresholds, and how a matching row becomes a scored alert with its evidence.

Scores are 0-100, higher is more suspicious; each rule's formula is in its builder and in docs/risk.md."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from marketplace.risk import Rule


def address_key(address: str) -> str:
    """SQL for the key that tells one address from another: `address` is a jsonb expression holding the address
    fields (`c.shipping_address` of a checkout, `to_jsonb(a)` of an address-book row). The lines are sealed at
    rest, and two sealings of one address differ, so the key is the keyed hash written beside them
    (`match_key`, core/fields.address_match): recipient-independent, over line1, postal code and country, each
    lower-cased with everything but letters and digits removed ("1 Market Street" = "1 market street."). NULL
    without one (an erased address). Every rule that matches "one address" uses this one function."""
    return f"nullif({address}->>'match_key', '')"


@dataclass(frozen=True)
class Thresholds:
    """When a rule fires. Deliberately conservative: a household, an office or a carrier-grade NAT puts a few
    honest accounts behind one address or IP, so a rule needs several accounts and keeps the score modest near
    its threshold."""

    window_days: int = 30
    same_address_accounts: int = 5  # distinct accounts at one address buying one SKU
    same_ip_accounts: int = 8  # distinct accounts logging in from one IP buying one SKU
    ring_accounts: int = 3  # accounts sharing an address that buy from one shop
    ring_orders: int = 5  # ... with at least this many orders (also for accounts linked to the owner)
    refund_min_orders: int = 5  # delivered orders before a buyer's refund rate means anything
    refund_min_rate: float = 0.3
    refund_platform_factor: float = 3.0  # the buyer's rate must be this many times the platform's
    login_failures_per_hour: int = 20  # on one account, or ...
    ip_login_failures_per_hour: int = 50  # ... from one IP across accounts
    payment_failures_per_hour: int = 5


@dataclass
class Alert:
    rule: Rule
    subject: str
    score: int
    evidence: dict[str, Any]
    latest_at: datetime
    vendor_id: int | None = None
    order_ids: list[int] = field(default_factory=list)
    user_ids: list[int] = field(default_factory=list)


def _digest(text: str) -> str:
    """A short stable name for a subject made of personal data (an address, an IP)."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _bounded(value: float) -> int:
    return max(1, min(100, round(value)))


def _burst_score(peak: int, threshold: int) -> int:
    return _bounded(50 * peak / threshold)  # 50 at the threshold, 100 at twice it


def _address(row: asyncpg.Record) -> dict[str, Any]:
    return {"key": row["address"], "sample_checkout_id": row["sample_checkout_id"]}


def shared_address(row: asyncpg.Record, t: Thresholds) -> Alert:
    """Score: 10 per account plus 1 per order (a ring of 5 accounts with 5 orders: 55; 20 with 200: 100)."""
    return Alert(
        Rule.SHARED_ADDRESS,
        f"address:{_digest(row['address'])}:sku:{row['sku_id']}",
        _bounded(10 * row["accounts"] + row["orders"]),
        {
            "address": _address(row),
            "sku_id": row["sku_id"],
            "product_id": row["product_id"],
            "title": row["title"],
            "accounts": row["accounts"],
            "orders": row["orders"],
            "units": row["units"],
        },
        row["latest_at"],
        row["vendor_id"],
        list(row["order_ids"]),
        list(row["user_ids"]),
    )


def shared_ip(row: asyncpg.Record, t: Thresholds) -> Alert:
    """Score: 5 per account plus 1 per order, weaker than an address (IPs are shared by NATs)."""
    return Alert(
        Rule.SHARED_IP,
        f"ip:{_digest(row['ip'])}:sku:{row['sku_id']}",
        _bounded(5 * row["accounts"] + row["orders"]),
        {
            "ip": row["ip"],
            "sku_id": row["sku_id"],
            "product_id": row["product_id"],
            "title": row["title"],
            "accounts": row["accounts"],
            "orders": row["orders"],
            "user_agents": row["user_agents"],
        },
        row["latest_at"],
        row["vendor_id"],
        list(row["order_ids"]),
        list(row["user_ids"]),
    )


def brushing_ring(row: asyncpg.Record, t: Thresholds) -> Alert:
    """Score: 30, +25 when the ring is linked to the shop's owner (the owner buying, or an account shipping to
    one of the owner's addresses), +25 * the ring's share of the shop's orders in the window, +20 * the share of
    the ring's accounts that reviewed the shop's products."""
    share = row["orders"] / max(1, row["shop_orders"])
    reviewed = min(1.0, row["reviewers"] / max(1, row["accounts"]))
    score = 30 + 25 * row["owner_linked"] + 25 * share + 20 * reviewed
    ring = "owner" if row["owner_linked"] else _digest(row["address"])
    evidence = {
        "linked_by": "owner" if row["owner_linked"] else "address",
        "address": _address(row) if row["address"] else None,
        "accounts": row["accounts"], "orders": row["orders"], "shop_orders": row["shop_orders"],
        "share_of_shop_orders": round(share, 3), "reviews": row["reviews"], "reviewers": row["reviewers"],
        "review_rating": float(row["review_rating"]) if row["review_rating"] is not None else None,
    }  # fmt: skip
    return Alert(Rule.BRUSHING_RING, f"vendor:{row['vendor_id']}:{ring}", _bounded(score), evidence,
                 row["latest_at"], row["vendor_id"], list(row["order_ids"]), list(row["user_ids"]))  # fmt: skip


def refund_abuse(row: asyncpg.Record, t: Thresholds) -> Alert:
    """Score: 100 * the buyer's refund rate."""
    rate = row["refunded"] / row["orders"]
    evidence = {"orders": row["orders"], "refunded": row["refunded"], "refund_rate": round(rate, 3),
                "platform_refund_rate": round(float(row["platform_rate"]), 3)}  # fmt: skip
    return Alert(Rule.REFUND_ABUSE, f"buyer:{row['buyer_id']}", _bounded(100 * rate), evidence, row["latest_at"],
                 None, list(row["order_ids"]), [row["buyer_id"]])  # fmt: skip


def failed_logins(row: asyncpg.Record, t: Thresholds) -> Alert:
    """Score: 50 * the busiest hour's failures / the threshold (100 at twice the threshold)."""
    by_ip = row["ip"] is not None
    threshold = t.ip_login_failures_per_hour if by_ip else t.login_failures_per_hour
    subject = f"ip:{_digest(row['ip'])}" if by_ip else f"user:{row['user_id']}"
    evidence = {"ip": row["ip"], "user_id": row["user_id"], "failures": row["failures"], "peak_per_hour": row["peak"],
                "accounts_tried": row["accounts"], "hours": [h.isoformat() for h in row["hours"]]}  # fmt: skip
    users = list(row["user_ids"] or [])
    return Alert(Rule.FAILED_LOGINS, subject, _burst_score(row["peak"], threshold), evidence, row["latest_at"],
                 user_ids=users)  # fmt: skip


def failed_payments(row: asyncpg.Record, t: Thresholds) -> Alert:
    """Score: 50 * the busiest hour's failed payments / the threshold."""
    evidence = {"failures": row["failures"], "peak_per_hour": row["peak"], "payment_ids": list(row["payment_ids"]),
                "hours": [h.isoformat() for h in row["hours"]]}  # fmt: skip
    return Alert(Rule.FAILED_PAYMENTS, f"buyer:{row['buyer_id']}",
                 _burst_score(row["peak"], t.payment_failures_per_hour), evidence, row["latest_at"],
                 user_ids=[row["buyer_id"]])  # fmt: skip


BUILDERS: dict[Rule, Callable[[asyncpg.Record, Thresholds], Alert]] = {
    Rule.SHARED_ADDRESS: shared_address,
    Rule.SHARED_IP: shared_ip,
    Rule.BRUSHING_RING: brushing_ring,
    Rule.REFUND_ABUSE: refund_abuse,
    Rule.FAILED_LOGINS: failed_logins,
    Rule.FAILED_PAYMENTS: failed_payments,
}


def parameters(rule: Rule, t: Thresholds) -> tuple[Any, ...]:
    """The thresholds each rule's statement takes after the window's start ($1)."""
    return {
        Rule.SHARED_ADDRESS: (t.same_address_accounts,),
        Rule.SHARED_IP: (t.same_ip_accounts,),
        Rule.BRUSHING_RING: (t.ring_accounts, t.ring_orders),
        Rule.REFUND_ABUSE: (t.refund_min_orders, t.refund_min_rate, t.refund_platform_factor),
        Rule.FAILED_LOGINS: (t.login_failures_per_hour, t.ip_login_failures_per_hour),
        Rule.FAILED_PAYMENTS: (t.payment_failures_per_hour,),
    }[rule]

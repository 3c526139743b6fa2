"""Promotion arithmetic, without I/O: what a coupon takes off, how a discount is spread over lines (and so
over vendor orders), what points are worth and earn, and how refunds reverse both. Integer cents only.

Rules (docs/promotions.md):
- A coupon applies to its eligible lines: every line (platform), a vendor's lines, lines in a category or
  its subcategories, or chosen products. `threshold` takes `amount_off` once the eligible lines reach
  `min_spend`; `percent` takes `percent_bp` basis points, rounded half up, at most `max_discount`; `fixed`
  takes `amount_off`; `buy_x_get_y` makes the cheapest `free_quantity` of every `buy_quantity +
  free_quantity` eligible units free (at most `max_discount`). Never more than the eligible lines cost.
- A discount is spread over lines in proportion to what they cost, by the largest-remainder method: the
  shares add up exactly and no line gets more than it costs. Each vendor order's discount is the sum of its
  lines', so a platform coupon splits across vendors in proportion to what each sells in the checkout.
- Points: one point is worth POINT_VALUE cents; a checkout may pay at most POINTS_MAX_SHARE_BP of what is
  left to pay for its items with points. Completed orders earn EARN_PER_UNIT points per whole currency unit
  paid for items, times the buyer's tier multiplier.
- A checkout always leaves at least one cent to pay, so it goes through the gateway like any other.
- Refunds reverse cumulatively: after refunding `r` of `paid`, `round_half_up(whole * r / paid)` of a
  discount or of points is reversed in total, so any set of partial refunds adding up to the whole payment
  reverses exactly the whole, never more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["threshold", "percent", "fixed", "buy_x_get_y"]
Scope = Literal["platform", "vendor", "category", "product"]

POINT_VALUE = 1  # cents per point
POINTS_MAX_SHARE_BP = 5_000  # points pay at most half of what is left to pay for the items
EARN_PER_UNIT = 1  # points per whole currency unit (100 cents) paid for items, before the tier multiplier


@dataclass(frozen=True)
class Tier:
    name: str
    trailing_spend: int  # cents paid over the last 365 days needed to hold the tier
    earn_multiplier_pct: int  # points earned, in percent of the base rate


TIERS = (Tier("member", 0, 100), Tier("silver", 50_000, 125), Tier("gold", 200_000, 150))


@dataclass(frozen=True)
class Line:
    key: int  # the SKU
    vendor_id: int
    product_id: int
    categories: frozenset[int]  # the product's category and its ancestors
    unit_price: int
    quantity: int

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Rule:
    kind: Kind
    scope: Scope = "platform"
    scope_ids: frozenset[int] = frozenset()
    amount_off: int = 0
    percent_bp: int = 0
    max_discount: int | None = None
    min_spend: int = 0
    buy_quantity: int = 0
    free_quantity: int = 0


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def eligible(rule: Rule, line: Line) -> bool:
    match rule.scope:
        case "platform":
            return True
        case "vendor":
            return line.vendor_id in rule.scope_ids
        case "category":
            return bool(line.categories & rule.scope_ids)
        case _:
            return line.product_id in rule.scope_ids


def coupon_discount(rule: Rule, lines: list[Line]) -> int:
    """What `rule` takes off `lines` in total (0 when it does not apply)."""
    chosen = [line for line in lines if eligible(rule, line)]
    subtotal = sum(line.amount for line in chosen)
    match rule.kind:
        case "threshold":
            off = rule.amount_off if subtotal >= max(rule.min_spend, 1) else 0
        case "percent":
            off = half_up(subtotal * rule.percent_bp, 10_000) if subtotal >= rule.min_spend else 0
        case "fixed":
            off = rule.amount_off if subtotal >= rule.min_spend else 0
        case _:
            group = rule.buy_quantity + rule.free_quantity
            units = sorted(line.unit_price for line in chosen for _ in range(line.quantity))
            free = (len(units) // group) * rule.free_quantity if group else 0
            off = sum(units[:free])
    if rule.max_discount is not None:
        off = min(off, rule.max_discount)
    return max(0, min(off, subtotal))


def allocate(amount: int, weights: dict[int, int]) -> dict[int, int]:
    """Spread `amount` over keys in proportion to `weights` (largest remainder: shares sum to `amount`,
    ties to the earlier key); `amount` must not exceed the total weight, so no share exceeds its weight."""
    total = sum(weights.values())
    if amount < 0 or amount > total:
        raise ValueError(f"cannot spread {amount} over a total of {total}")
    if amount == 0:
        return dict.fromkeys(weights, 0)
    shares = {key: amount * weight // total for key, weight in weights.items()}
    by_remainder = sorted(weights, key=lambda key: -(amount * weights[key] % total))
    for key in by_remainder[: amount - sum(shares.values())]:
        shares[key] += 1
    return shares


def spread_coupon(rule: Rule, lines: list[Line]) -> dict[int, int]:
    """The coupon's discount per line key (its eligible lines only, in proportion to their amounts)."""
    off = coupon_discount(rule, lines)
    shares = allocate(off, {line.key: line.amount for line in lines if eligible(rule, line)})
    return {line.key: shares.get(line.key, 0) for line in lines}


def redeemable_points(balance: int, requested: int, payable: int) -> int:
    """Points a checkout may spend: what was asked, within the balance and the share of `payable` (cents
    still to pay for the items after any coupon) that points may pay, leaving at least one cent."""
    cap = min(half_up(payable * POINTS_MAX_SHARE_BP, 10_000), max(payable - 1, 0)) // POINT_VALUE
    return max(0, min(requested, balance, cap))


def points_earned(paid_for_items: int, tier: Tier) -> int:
    return paid_for_items // 100 * EARN_PER_UNIT * tier.earn_multiplier_pct // 100


def tier_for(trailing_spend: int) -> Tier:
    return max((tier for tier in TIERS if trailing_spend >= tier.trailing_spend), key=lambda t: t.trailing_spend)


def reversal(whole: int, paid: int, refunded_before: int, refunded_now: int) -> int:
    """How much of `whole` (a discount, points spent or earned) a refund of `refunded_now` reverses, after
    `refunded_before` was refunded already, out of `paid` in all."""
    if paid <= 0:
        return 0
    after = min(refunded_before + refunded_now, paid)
    return half_up(whole * after, paid) - half_up(whole * min(refunded_before, paid), paid)

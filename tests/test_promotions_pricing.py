"""Promotion arithmetic: hand-worked examples, then properties checked by hypothesis over many carts."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.promotions.pricing import (
    POINTS_MAX_SHARE_BP,
    TIERS,
    Line,
    Rule,
    allocate,
    coupon_discount,
    eligible,
    points_earned,
    redeemable_points,
    reversal,
    spread_coupon,
    tier_for,
)


def line(
    key: int, price: int, quantity: int = 1, vendor: int = 1, product: int = 0, cats: tuple[int, ...] = ()
) -> Line:
    return Line(key, vendor, key, frozenset(cats), price, quantity)


def test_hand_worked_coupons() -> None:
    cart = [line(1, 12_000, vendor=1, cats=(5, 50)), line(2, 9_000, vendor=2, cats=(6,)), line(3, 500, 2, vendor=2)]
    spend_200_save_30 = Rule("threshold", min_spend=20_000, amount_off=3_000)
    assert coupon_discount(spend_200_save_30, cart) == 3_000  # 220.00 spent
    assert coupon_discount(Rule("threshold", "vendor", frozenset({2}), min_spend=20_000, amount_off=3_000), cart) == 0
    assert coupon_discount(Rule("percent", percent_bp=1_500, max_discount=2_000), cart) == 2_000  # 15% = 33.00, cap 20
    assert coupon_discount(Rule("percent", "category", frozenset({5}), percent_bp=1_250), cart) == 1_500
    assert coupon_discount(Rule("fixed", "product", frozenset({3}), amount_off=5_000), cart) == 1_000  # at most 10.00
    two_plus_one = Rule("buy_x_get_y", buy_quantity=2, free_quantity=1)
    assert coupon_discount(two_plus_one, cart) == 500  # 4 units: one group of 3, its cheapest free
    assert spread_coupon(spend_200_save_30, cart) == {1: 1_637, 2: 1_227, 3: 136}  # 12000:9000:1000, ties: first


def test_hand_worked_allocation_points_tiers_and_refunds() -> None:
    assert allocate(100, {1: 100, 2: 100, 3: 100}) == {1: 34, 2: 33, 3: 33}
    assert allocate(0, {1: 5}) == {1: 0}
    assert redeemable_points(balance=10_000, requested=10_000, payable=3_001) == 1_501  # half, rounded up
    assert redeemable_points(balance=300, requested=10_000, payable=3_001) == 300
    assert redeemable_points(balance=10, requested=10, payable=1) == 0  # one cent must be left to pay
    assert tier_for(0).name == "member" and tier_for(50_000).name == "silver" and tier_for(10**9).name == "gold"
    assert points_earned(12_399, tier_for(200_000)) == 184  # 123 whole units, gold earns 150%
    assert [reversal(1_000, 3_000, before, 1_000) for before in (0, 1_000, 2_000)] == [333, 334, 333]


amounts = st.integers(min_value=1, max_value=200_000)
lines = st.lists(
    st.builds(
        Line,
        key=st.integers(0, 10**6),
        vendor_id=st.integers(1, 4),
        product_id=st.integers(1, 30),
        categories=st.frozensets(st.integers(1, 10), max_size=3),
        unit_price=amounts,
        quantity=st.integers(1, 5),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda x: x.key,
)
rules = st.builds(
    Rule,
    kind=st.sampled_from(["threshold", "percent", "fixed", "buy_x_get_y"]),
    scope=st.sampled_from(["platform", "vendor", "category", "product"]),
    scope_ids=st.frozensets(st.integers(1, 30), max_size=4),
    amount_off=st.integers(0, 100_000),
    percent_bp=st.integers(0, 10_000),
    max_discount=st.none() | st.integers(0, 50_000),
    min_spend=st.integers(0, 300_000),
    buy_quantity=st.integers(0, 4),
    free_quantity=st.integers(0, 3),
)


@given(rules, lines)
def test_a_discount_never_exceeds_its_cap_nor_what_its_lines_cost(rule: Rule, cart: list[Line]) -> None:
    off = coupon_discount(rule, cart)
    assert 0 <= off <= sum(x.amount for x in cart if eligible(rule, x))
    if rule.max_discount is not None:
        assert off <= rule.max_discount
    shares = spread_coupon(rule, cart)
    assert sum(shares.values()) == off
    assert all(0 <= shares[x.key] <= x.amount and (eligible(rule, x) or shares[x.key] == 0) for x in cart)


@given(st.dictionaries(st.integers(0, 50), st.integers(1, 10**7), min_size=1, max_size=12), st.data())
def test_allocation_sums_exactly_and_stays_within_each_weight(weights: dict[int, int], data: st.DataObject) -> None:
    amount = data.draw(st.integers(0, sum(weights.values())))
    shares = allocate(amount, weights)
    total = sum(weights.values())
    assert sum(shares.values()) == amount
    for key, weight in weights.items():
        assert 0 <= shares[key] <= weight
        assert abs(shares[key] * total - amount * weight) < total  # within one cent of the exact share


@given(rules, lines, st.integers(0, 10**6), st.integers(0, 10**6))
def test_totals_never_go_negative_and_points_stay_within_balance_and_share(
    rule: Rule, cart: list[Line], balance: int, requested: int
) -> None:
    items = sum(x.amount for x in cart)
    payable = items - min(coupon_discount(rule, cart), items - 1)  # the checkout leaves a cent to pay
    points = redeemable_points(balance, requested, payable)
    assert 0 <= points <= min(balance, requested)
    assert points * 10_000 <= payable * POINTS_MAX_SHARE_BP + 5_000  # at most the share (rounded half up)
    assert payable - points >= 1


@given(st.integers(0, 10**6), st.integers(1, 10**6), st.data())
@settings(suppress_health_check=[HealthCheck.too_slow])  # drawing lines is slow on a busy box, not a fault
def test_refunds_reverse_discounts_and_points_exactly(whole: int, paid: int, data: st.DataObject) -> None:
    refunds: list[int] = []
    left = paid
    while left:
        refunds.append(data.draw(st.integers(1, left)))
        left -= refunds[-1]
    reversed_so_far = 0
    for n, refund in enumerate(refunds):
        step = reversal(whole, paid, sum(refunds[:n]), refund)
        assert step >= 0
        reversed_so_far += step
        assert reversed_so_far <= whole
    assert reversed_so_far == whole


@given(st.integers(0, 10**8))
def test_tiers_and_earning_grow_with_spend(spend: int) -> None:
    tier = tier_for(spend)
    assert tier.trailing_spend <= spend and tier in TIERS
    assert points_earned(spend, tier) >= points_earned(spend, TIERS[0]) >= 0

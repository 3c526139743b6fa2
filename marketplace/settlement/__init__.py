"""Settlement: commission on every paid order, a double-entry ledger of payments, refunds and payouts,
vendors' balances and statements, and admin payouts. The ledger always sums to zero."""

from dataclasses import dataclass

from marketplace.core import topics
from marketplace.promotions.pricing import reversal

GATEWAY = "gateway"
COMMISSION = "commission"
PROMOTIONS = "promotions"  # what platform-funded coupons and points cost the platform


def vendor_account(vendor_id: int) -> str:
    return topics.vendor(vendor_id)


def payment_entries(vendor_id: int, total: int, commission: int, platform_discount: int = 0) -> dict[str, int]:
    """The posting for a paid order: the gateway holds what the buyer paid, the platform's promotions
    account what its coupons and points took off, and the vendor is owed both less commission."""
    entries = {GATEWAY: total, PROMOTIONS: platform_discount}
    return entries | {vendor_account(vendor_id): -(total + platform_discount - commission), COMMISSION: -commission}


def cash_collected_entries(vendor_id: int, commission: int, platform_discount: int = 0) -> dict[str, int]:
    """The posting for a cash-on-delivery order paid to the vendor's courier: as if the gateway had taken the
    money (a payment posting) and the vendor then kept it on our behalf, which nets to the vendor owing the
    commission, less what platform promotions took off. A later refund reverses it like a card order's."""
    entries = {vendor_account(vendor_id): commission - platform_discount, COMMISSION: -commission}
    return entries | {PROMOTIONS: platform_discount}


def refund_entries(
    vendor_id: int, total: int, commission: int, amount: int, platform_discount: int = 0, refunded_before: int = 0
) -> dict[str, int]:
    """The posting for refunding `amount` of an order after `refunded_before`: its payment posting reversed
    in proportion, cumulatively (commission and promotion shares rounded half up on the running total), so
    refunds adding up to the whole order reverse its payment posting exactly."""
    commission_share = reversal(commission, total, refunded_before, amount)
    promotion_share = reversal(platform_discount, total, refunded_before, amount)
    entries = {GATEWAY: -amount, vendor_account(vendor_id): amount + promotion_share - commission_share}
    return entries | {COMMISSION: commission_share, PROMOTIONS: -promotion_share}


@dataclass(frozen=True)
class Part:
    """A part of a paid order that money can be given back for: one of its lines, or its shipping. `paid` is
    what the buyer paid for it (after every discount and points), `platform_discount` and `commission` its
    share of the order's payment posting, `refunded` what was given back for it so far, `touched` whether a
    refund posting names it already."""

    paid: int
    platform_discount: int = 0
    commission: int = 0
    refunded: int = 0
    touched: bool = False

    @property
    def left(self) -> int:
        return max(0, self.paid - self.refunded)


def part_refund_entries(vendor_id: int, part: Part, amount: int) -> dict[str, int]:
    """The posting for refunding `amount` of one part: that part's own share of the payment posting, reversed
    in proportion to the money and cumulatively, so refunding all it was paid reverses exactly what its payment
    credited: the vendor gives back what it was credited for it, never more. A part the platform paid for
    entirely (a line its coupon and points made free) has no money to give back; with `amount` 0 its share of
    the posting is reversed whole."""
    if amount > part.left:
        raise ValueError(f"cannot refund {amount} of a part with {part.left} left")
    if part.paid == 0:
        pd, commission = part.platform_discount, part.commission
        return {PROMOTIONS: -pd, COMMISSION: commission, vendor_account(vendor_id): pd - commission}
    return refund_entries(vendor_id, part.paid, part.commission, amount, part.platform_discount, part.refunded)

"""Settlement: commission on every paid order, a double-entry ledger of payments, refunds and payouts,
vendors' balances and statements, and admin payouts. The ledger always sums to zero."""

from marketplace.promotions.pricing import reversal

GATEWAY = "gateway"
COMMISSION = "commission"
PROMOTIONS = "promotions"  # what platform-funded coupons and points cost the platform


def vendor_account(vendor_id: int) -> str:
    return f"vendor:{vendor_id}"


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

"""Settlement: commission on every paid order, a double-entry ledger of payments, refunds and payouts,
vendors' balances and statements, and admin payouts. The ledger always sums to zero."""

GATEWAY = "gateway"
COMMISSION = "commission"


def vendor_account(vendor_id: int) -> str:
    return f"vendor:{vendor_id}"


def payment_entries(vendor_id: int, total: int, commission: int) -> dict[str, int]:
    """The posting for a paid order: the gateway holds the total, the vendor is owed it less commission."""
    return {GATEWAY: total, vendor_account(vendor_id): -(total - commission), COMMISSION: -commission}


def refund_entries(vendor_id: int, total: int, commission: int, amount: int) -> dict[str, int]:
    """The posting for refunding `amount` of an order: its payment posting reversed in proportion, the
    commission share rounded half up to the cent."""
    share = (commission * amount * 2 + total) // (2 * total) if total else 0
    return {GATEWAY: -amount, vendor_account(vendor_id): amount - share, COMMISSION: share}

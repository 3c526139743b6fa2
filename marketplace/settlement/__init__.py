"""Settlement: commission on every paid order, a double-entry ledger of payments, refunds and payouts,
vendors' balances and statements, and admin payouts. The ledger always sums to zero."""

GATEWAY = "gateway"
COMMISSION = "commission"


def vendor_account(vendor_id: int) -> str:
    return f"vendor:{vendor_id}"


def payment_entries(vendor_id: int, total: int, commission: int) -> dict[str, int]:
    """The posting for a paid order: the gateway holds the total, the vendor is owed it less commission."""
    return {GATEWAY: total, vendor_account(vendor_id): -(total - commission), COMMISSION: -commission}


def cash_collected_entries(vendor_id: int, commission: int) -> dict[str, int]:
    """The posting for a cash-on-delivery order paid to the vendor's courier: as if the gateway had taken the
    money (a payment posting) and the vendor then kept it on our behalf, which nets to the vendor owing the
    commission. A later refund reverses it exactly like a card order's."""
    return {vendor_account(vendor_id): commission, COMMISSION: -commission}


def refund_entries(vendor_id: int, total: int, commission: int, amount: int) -> dict[str, int]:
    """The posting for refunding `amount` of an order: its payment posting reversed in proportion, the
    commission share rounded half up to the cent."""
    share = (commission * amount * 2 + total) // (2 * total) if total else 0
    return {GATEWAY: -amount, vendor_account(vendor_id): amount - share, COMMISSION: share}

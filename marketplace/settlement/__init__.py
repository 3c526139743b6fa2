"""Settlement: commission on every paid order, a double-entry ledger of payments, refunds and payouts,
vendors' balances and statements, and admin payouts. The ledger always sums to zero."""

GATEWAY = "gateway"
COMMISSION = "commission"


def vendor_account(vendor_id: int) -> str:
    return f"vendor:{vendor_id}"

"""After-sales: returns, exchanges and refund-only requests on delivered order lines.

    requested → approved | rejected | withdrawn
    approved → return_shipped (return, exchange) | refunded (refund_only)
    return_shipped → return_received → refunded (return) | replacement_shipped (exchange)

Buyer and vendor talk in the request's message thread; admins can read every request, write in it and
decide in the vendor's place.
"""

from enum import StrEnum


class Kind(StrEnum):
    RETURN = "return"
    EXCHANGE = "exchange"
    REFUND_ONLY = "refund_only"


class Status(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    RETURN_SHIPPED = "return_shipped"
    RETURN_RECEIVED = "return_received"
    REFUNDED = "refunded"
    REPLACEMENT_SHIPPED = "replacement_shipped"

"""After-sales: returns, exchanges and refund-only requests on delivered order lines.

    requested → approved | rejected | withdrawn
    rejected → approved (an admin overturning the rejection)
    approved → return_shipped (return, exchange) | refunded (return, refund_only)
    return_shipped → return_received → refunded (return) | replacement_shipped (exchange)

A refund is at most what the buyer paid for the units claimed (after discounts and points); an exchange
sends another variant (SKU) of the same product. Buyer and vendor talk in the request's message thread;
admins can read every request, write in it, decide in the vendor's place and overturn a rejection.
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

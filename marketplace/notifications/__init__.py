"""Notifications: what a user is told of their orders, returns, shop application and offers, in the app
(GET /me/notifications) and by email.

The notifier (notifier.py) follows the outbox's feed in order, turns the events a user cares about into
notification rows (kinds.py maps event types to kinds), and mails them, retrying with back-off when the SMTP
server fails. Account mails (password reset, email verification) are queued by the accounts service in its
own transaction and mailed the same way, but never listed in the app and never turned off.
"""

from enum import StrEnum


class Kind(StrEnum):
    ORDER_PLACED = "order_placed"
    ORDER_PAID = "order_paid"
    ORDER_SHIPPED = "order_shipped"
    ORDER_DELIVERED = "order_delivered"
    REFUND_ISSUED = "refund_issued"
    AFTERSALES_MESSAGE = "aftersales_message"
    VENDOR_APPLICATION = "vendor_application"
    CAMPAIGN_OFFER = "campaign_offer"
    # Account mails: always sent, not in the app, no unsubscribe.
    PASSWORD_RESET = "password_reset"
    VERIFY_EMAIL = "verify_email"
    # Account self-service (accounts/sessions.py, accounts/email_change.py).
    PASSWORD_CHANGED = "password_changed"
    EMAIL_CHANGE = "email_change"  # the link, to the new address
    EMAIL_CHANGED = "email_changed"  # the notice, to the old address


ACCOUNT_KINDS = frozenset(
    {Kind.PASSWORD_RESET, Kind.VERIFY_EMAIL, Kind.PASSWORD_CHANGED, Kind.EMAIL_CHANGE, Kind.EMAIL_CHANGED}
)
OPTIONAL_KINDS = tuple(k for k in Kind if k not in ACCOUNT_KINDS)

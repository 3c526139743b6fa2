"""Risk control: listing review policy, anomaly rules producing scored alerts with their evidence, payout
holds on the orders an alert names, and each shop's trust score (docs/risk.md).

Alert states: open → acknowledged (someone is looking) → confirmed (fraud) or dismissed (a false alarm);
open may be confirmed or dismissed at once, and a confirmed alert may still be dismissed on appeal. Every
live alert (not dismissed) holds its orders' payouts; dismissing releases them. Support and admins decide,
both as the admin actor of the state machine, each decision audit-logged with its reason."""

from enum import StrEnum

from marketplace.core.states import Actor, StateMachine


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class Rule(StrEnum):
    SHARED_ADDRESS = "shared_address"  # many accounts at one address buying the same SKU
    SHARED_IP = "shared_ip"  # many accounts logging in from one IP buying the same SKU
    BRUSHING_RING = "brushing_ring"  # accounts linked to the shop's owner or to each other buying (and reviewing) it
    REFUND_ABUSE = "refund_abuse"  # a buyer's refund rate far above the platform's
    FAILED_LOGINS = "failed_logins"  # a burst of failed logins on an account or from an IP
    FAILED_PAYMENTS = "failed_payments"  # a burst of failed payments by a buyer


# The rules whose alerts hold their orders' payouts: they suspect the shop's sales themselves. A buyer's
# refund abuse or a login attack is not the shop's doing, so its money is not held for them.
HOLDING_RULES = frozenset({Rule.SHARED_ADDRESS, Rule.SHARED_IP, Rule.BRUSHING_RING})
LIVE = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.CONFIRMED)

TRANSITIONS = StateMachine(
    "alert",
    {
        (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED): {Actor.ADMIN},
        (AlertStatus.OPEN, AlertStatus.CONFIRMED): {Actor.ADMIN},
        (AlertStatus.OPEN, AlertStatus.DISMISSED): {Actor.ADMIN},
        (AlertStatus.ACKNOWLEDGED, AlertStatus.CONFIRMED): {Actor.ADMIN},
        (AlertStatus.ACKNOWLEDGED, AlertStatus.DISMISSED): {Actor.ADMIN},
        (AlertStatus.CONFIRMED, AlertStatus.DISMISSED): {Actor.ADMIN},  # overturned on appeal: releases the hold
    },
)

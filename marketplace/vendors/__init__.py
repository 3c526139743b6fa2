"""Vendors: applications, admin review, shops, suspension and reinstatement.

Application states: pending → approved | rejected (an admin, never of their own application). Vendor states:
active ⇄ suspended (an admin).
"""

from enum import StrEnum

from marketplace.core.states import Actor, StateMachine


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class VendorStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


APPLICATION_TRANSITIONS = StateMachine(
    "vendor application",
    {
        (ApplicationStatus.PENDING, ApplicationStatus.APPROVED): {Actor.ADMIN},
        (ApplicationStatus.PENDING, ApplicationStatus.REJECTED): {Actor.ADMIN},
    },
)

VENDOR_TRANSITIONS = StateMachine(
    "vendor",
    {
        (VendorStatus.ACTIVE, VendorStatus.SUSPENDED): {Actor.ADMIN},
        (VendorStatus.SUSPENDED, VendorStatus.ACTIVE): {Actor.ADMIN},
    },
)

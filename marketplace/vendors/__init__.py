"""Vendors: applications, admin review, shops, suspension and reinstatement.

Application states: pending → approved | rejected. Vendor states: active ⇄ suspended.
"""

from enum import StrEnum


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class VendorStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"

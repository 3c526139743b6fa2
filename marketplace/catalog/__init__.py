"""Catalog: the category tree, vendors' products with SKUs and images, and admin take-downs.

Product states: draft → listed ⇄ unlisted (the vendor); any → taken_down (an admin, with a reason)
→ unlisted (an admin restores it). Buyers see only listed products of active vendors. With LISTING_REVIEW on,
listing a draft of a new or flagged shop moves it to pending_review instead; support or an admin approves it
(→ listed) or rejects it with a reason (→ draft); the vendor cannot list or unlist it meanwhile.
"""

from enum import StrEnum

from marketplace.core.states import Actor, StateMachine


class ProductStatus(StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    LISTED = "listed"
    UNLISTED = "unlisted"
    TAKEN_DOWN = "taken_down"


TRANSITIONS = StateMachine(
    "product",
    {
        (ProductStatus.DRAFT, ProductStatus.LISTED): {Actor.VENDOR},
        (ProductStatus.LISTED, ProductStatus.UNLISTED): {Actor.VENDOR},
        (ProductStatus.UNLISTED, ProductStatus.LISTED): {Actor.VENDOR},
        (ProductStatus.DRAFT, ProductStatus.TAKEN_DOWN): {Actor.ADMIN},
        (ProductStatus.LISTED, ProductStatus.TAKEN_DOWN): {Actor.ADMIN},
        (ProductStatus.UNLISTED, ProductStatus.TAKEN_DOWN): {Actor.ADMIN},
        (ProductStatus.TAKEN_DOWN, ProductStatus.UNLISTED): {Actor.ADMIN},  # restored: the vendor lists it again
        (ProductStatus.DRAFT, ProductStatus.PENDING_REVIEW): {Actor.VENDOR},  # listing it, under LISTING_REVIEW
        (ProductStatus.PENDING_REVIEW, ProductStatus.LISTED): {Actor.ADMIN},  # approved (support or an admin)
        (ProductStatus.PENDING_REVIEW, ProductStatus.DRAFT): {Actor.ADMIN},  # rejected, with the reason
    },
)

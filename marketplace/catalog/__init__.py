"""Catalog: the category tree, vendors' products with SKUs and images, and admin take-downs.

Product states: draft → listed ⇄ unlisted (the vendor); any → taken_down (an admin, with a reason)
→ unlisted (an admin restores it). Buyers see only listed products of active vendors.
"""

from enum import StrEnum


class ProductStatus(StrEnum):
    DRAFT = "draft"
    LISTED = "listed"
    UNLISTED = "unlisted"
    TAKEN_DOWN = "taken_down"

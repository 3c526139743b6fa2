"""Browsing interactions (views, searches, add-to-cart, purchases) for recommendations and analytics."""

from enum import StrEnum


class Kind(StrEnum):
    VIEW = "view"
    SEARCH = "search"
    CART = "cart"
    PURCHASE = "purchase"

"""What buyers see of the catalog: keyword search with filters, sorts and facets, and product pages.
Only listed products of active vendors ever appear here."""

from enum import StrEnum


class Sort(StrEnum):
    RELEVANCE = "relevance"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    NEWEST = "newest"
    BEST_SELLING = "best_selling"
    RATING = "rating"

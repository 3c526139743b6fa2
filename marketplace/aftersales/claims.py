"""What a claim on order lines is worth, without I/O: the most an after-sales request may refund is what the
buyer paid for the units it claims, never their list price. A line's `paid` is its total less its share of
the shop's and the platform's discounts and of the points spent (see docs/promotions.md)."""

from __future__ import annotations

from marketplace.promotions.pricing import allocate, half_up


def units_paid(paid: int, quantity: int, claimable: int, committed: int, units: int) -> int:
    """What the buyer paid for `units` more units of a line bought `quantity` times for `paid` in all, when
    the units claimed already (`quantity - claimable` of them) account for `committed` of it: the units' share
    of `paid` (rounded half up), or exactly the rest when they are the line's last units. Never more than
    the rest, so the requests on a line never add up to more than was paid for it, and its units taken one
    request at a time add up to exactly that."""
    rest = max(0, paid - committed)
    if units >= claimable:
        return rest
    return min(half_up(paid * units, quantity), rest)


def split_refund(amount: int, paid: dict[int, int]) -> dict[int, int]:
    """A request's refund spread over its lines in proportion to what was paid for each (largest remainder:
    whole cents, adding up exactly, none above what was paid for its line)."""
    return allocate(amount, paid)

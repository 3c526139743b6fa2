"""Who in a flash-sale crowd does what, decided the same way by the Locust scenario and by the runner that
checks the outcome."""

from __future__ import annotations

import random


def is_greedy(index: int, share: float) -> bool:
    """Whether the crowd's `index`-th buyer is one of the `share` who try to buy past their limit."""
    return random.Random(index).random() < share


def demand(buyers: int, limit: int, share: float) -> int:
    """The units the crowd tries to buy: one each, and the greedy ones their whole limit (and one more)."""
    return sum(limit if is_greedy(i, share) else 1 for i in range(buyers))

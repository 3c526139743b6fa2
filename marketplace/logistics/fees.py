"""What shipping costs: the pure rules, with no database, so checkout (orders/place_checkout.py) prices a
vendor order from the rows it has already read.

A template prices the lines of one vendor order that use it (a product names a template, or uses its shop's
default). Its basis is item `count` or `weight` (grams). The rate is the one for the destination: the
template's regions are matched most specific first (country and region, then the whole country), else its
default rate. A rate charges `first_fee` for up to `first_units`, then `extra_fee` for every further
`extra_units` begun; from `free_from` (the value of those lines, before discounts) it is free. A vendor
order whose lines use several templates pays each template's fee. A shop with no template keeps the flat
rule: `FLAT_FEE`, free from `FLAT_FREE_FROM`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# A shop without templates: a flat fee per vendor order, free from this value (minor units).
FLAT_FREE_FROM = 5000
FLAT_FEE = 499


def flat_fee(items_total: int) -> int:
    return 0 if items_total >= FLAT_FREE_FROM else FLAT_FEE


@dataclass(frozen=True)
class Line:
    """One cart line as shipping sees it: the template it ships under (None: its shop has none)."""

    template_id: int | None
    basis: str | None
    default_rate: Mapping[str, Any] | None
    regions: list[Mapping[str, Any]] | None
    value: int  # unit price x quantity, minor units
    quantity: int
    weight_grams: int  # of one unit


def rate_for(
    default_rate: Mapping[str, Any], regions: Iterable[Mapping[str, Any]], country: str, region: str
) -> Mapping[str, Any]:
    """The rate for a destination: its region's, else its country's, else the default."""
    country, region = country.upper(), region.strip().casefold()
    whole_country = None
    for rate in regions:
        if rate["country"].upper() != country:
            continue
        named = (rate.get("region") or "").strip().casefold()
        if named and named == region:
            return rate
        if not named and whole_country is None:
            whole_country = rate
    return whole_country or default_rate


def rate_fee(rate: Mapping[str, Any], units: int, value: int) -> int:
    """What one rate charges for `units` (items or grams) worth `value`."""
    free_from = rate.get("free_from")
    if free_from is not None and value >= free_from:
        return 0
    extra = max(0, units - rate["first_units"])
    steps = -(-extra // rate["extra_units"])  # every further step begun is charged
    return rate["first_fee"] + steps * rate["extra_fee"]


def vendor_order_fee(lines: Iterable[Line], country: str, region: str) -> int:
    """Shipping of one vendor order to (country, region): each template's fee for its lines, or the flat rule."""
    groups: dict[int | None, list[Line]] = defaultdict(list)
    for line in lines:
        groups[line.template_id].append(line)
    fee = 0
    for template_id, group in groups.items():
        value = sum(line.value for line in group)
        if template_id is None:
            fee += flat_fee(value)
            continue
        first = group[0]
        assert first.default_rate is not None
        if first.basis == "weight":
            units = sum(line.weight_grams * line.quantity for line in group)
        else:
            units = sum(line.quantity for line in group)
        fee += rate_fee(rate_for(first.default_rate, first.regions or [], country, region), units, value)
    return fee

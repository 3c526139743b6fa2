"""Demo shipping templates (logistics): the demo's second shop prices by item count with cheaper rates at home
and dearer ones far away, its third by weight (its products get weights). The other shops keep the flat fee
(4.99, free from 50.00), so the README's walk-through with vendor1's shop reads as before."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

# The rates' shape is logistics/schemas.py's Rate and RegionRate (minor units; units are items or grams).
BY_COUNT = {
    "name": "Standard",
    "basis": "count",
    "default_rate": {"first_units": 1, "first_fee": 690, "extra_units": 1, "extra_fee": 150, "free_from": 8000},
    "regions": [
        {"country": "DE", "region": "", "first_units": 1, "first_fee": 390, "extra_units": 1, "extra_fee": 50,
         "free_from": 5000},
        {"country": "US", "region": "", "first_units": 1, "first_fee": 1490, "extra_units": 1, "extra_fee": 300,
         "free_from": None},
    ],
}  # fmt: skip
BY_WEIGHT = {
    "name": "Parcel by weight",
    "basis": "weight",
    "default_rate": {"first_units": 2000, "first_fee": 590, "extra_units": 1000, "extra_fee": 150, "free_from": None},
    "regions": [
        {"country": "FR", "region": "", "first_units": 2000, "first_fee": 890, "extra_units": 1000, "extra_fee": 250,
         "free_from": None},
    ],
}  # fmt: skip

INSERT_TEMPLATE = """
INSERT INTO shipping_templates (vendor_id, name, basis, is_default, default_rate, regions)
VALUES ($1, $2, $3, true, $4, $5)
ON CONFLICT (vendor_id, name) DO NOTHING
"""
# A believable weight per product (150 g to 4.9 kg), the same on every run of the same seed.
PRODUCT_WEIGHTS = """
INSERT INTO product_shipping (product_id, weight_grams)
SELECT id, 150 + (id * 7919) % 4750 FROM products WHERE vendor_id = $1
ON CONFLICT (product_id) DO NOTHING
"""


async def seed_shipping_templates(conn: asyncpg.Connection, vendor_ids: Sequence[int]) -> None:
    """Give the demo's second shop a count template and its third a weight one (each its default)."""
    for vendor_id, template in zip(vendor_ids[1:3], (BY_COUNT, BY_WEIGHT), strict=False):
        await conn.execute(INSERT_TEMPLATE, int(vendor_id), template["name"], template["basis"],
                           template["default_rate"], template["regions"])  # fmt: skip
        if template["basis"] == "weight":
            await conn.execute(PRODUCT_WEIGHTS, int(vendor_id))

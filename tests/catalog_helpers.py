"""Builders for catalog tests: a small category tree and products created through the API."""

from __future__ import annotations

from typing import Any

from tests.conftest import Actor


async def category_tree(admin: Actor) -> dict[str, int]:
    """home > kitchen > kettles, home > garden; electronics."""
    ids: dict[str, int] = {}
    for name, parent in [
        ("Home", None),
        ("Kitchen", "Home"),
        ("Kettles", "Kitchen"),
        ("Garden", "Home"),
        ("Electronics", None),
    ]:
        body = {"name": name, "parent_id": ids[parent] if parent else None}
        r = await admin.post("/admin/categories", json=body)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    return ids


async def product(
    vendor: Actor,
    category_id: int,
    title: str,
    price: int = 2500,
    stock: int = 10,
    listed: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    skus = extra.pop("skus", None) or [{"code": "STD", "price": price, "stock": stock}]
    r = await vendor.post("/vendor/products", json={"category_id": category_id, "title": title, "skus": skus, **extra})
    assert r.status_code == 201, r.text
    created = r.json()
    if listed:
        r = await vendor.post(f"/vendor/products/{created['id']}/list")
        assert r.status_code == 200, r.text
        created = r.json()
    return created

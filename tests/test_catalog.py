"""Catalog: categories, products and SKUs, visibility rules, ownership, images."""

from __future__ import annotations

import io

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image

from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor


@pytest.fixture
async def categories(admin: Actor) -> dict[str, int]:
    return await category_tree(admin)


@pytest.fixture
async def vendor(client: AsyncTestClient[Litestar], admin: Actor) -> Actor:
    return await approved_vendor(client, admin, "kettles@example.com", "Kettle Corner")


@pytest.fixture
async def rival(client: AsyncTestClient[Litestar], admin: Actor) -> Actor:
    return await approved_vendor(client, admin, "rival@example.com", "Rival Goods")


def png_bytes(size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def visible_ids(client: AsyncTestClient[Litestar], **params: object) -> set[int]:
    r = await client.get("/products", params={"page_size": 100, **params})
    assert r.status_code == 200, r.text
    return {p["id"] for p in r.json()["items"]}


async def test_category_tree_is_public_and_nested(
    client: AsyncTestClient[Litestar], categories: dict[str, int]
) -> None:
    tree = (await client.get("/categories")).json()
    home = next(c for c in tree if c["name"] == "Home")
    kitchen = next(c for c in home["children"] if c["name"] == "Kitchen")
    assert [c["name"] for c in kitchen["children"]] == ["Kettles"]


async def test_only_admins_manage_categories(buyer: Actor, categories: dict[str, int], admin: Actor) -> None:
    assert (await buyer.post("/admin/categories", json={"name": "Toys"})).status_code == 403
    r = await admin.post("/admin/categories", json={"name": "Kettles"})  # same slug as the existing one
    assert r.status_code == 409
    assert (await admin.delete(f"/admin/categories/{categories['Home']}")).status_code == 409
    assert (await admin.delete(f"/admin/categories/{categories['Garden']}")).status_code == 204


async def test_product_lifecycle_controls_what_buyers_see(
    client: AsyncTestClient[Litestar], vendor: Actor, admin: Actor, categories: dict[str, int]
) -> None:
    draft = await product(vendor, categories["Kettles"], "Steel kettle", listed=False)
    assert draft["status"] == "draft" and draft["min_price"] == 2500
    assert draft["id"] not in await visible_ids(client)
    assert (await client.get(f"/products/{draft['id']}")).status_code == 404

    assert (await vendor.post(f"/vendor/products/{draft['id']}/list")).json()["status"] == "listed"
    assert draft["id"] in await visible_ids(client)
    page = (await client.get(f"/products/{draft['id']}")).json()
    assert page["vendor"]["shop_name"] == "Kettle Corner" and page["skus"][0]["available"] == 10
    assert [c["name"] for c in page["categories"]] == ["Home", "Kitchen", "Kettles"]

    await vendor.post(f"/vendor/products/{draft['id']}/unlist")
    assert draft["id"] not in await visible_ids(client)
    await vendor.post(f"/vendor/products/{draft['id']}/list")

    r = await admin.post(f"/admin/products/{draft['id']}/take-down", json={"reason": "unsafe wiring reported"})
    assert r.status_code == 200 and r.json()["takedown_reason"] == "unsafe wiring reported"
    assert draft["id"] not in await visible_ids(client)
    assert (await client.get(f"/products/{draft['id']}")).status_code == 404
    assert (await vendor.post(f"/vendor/products/{draft['id']}/list")).status_code == 409
    assert (await admin.post(f"/admin/products/{draft['id']}/restore")).json()["status"] == "unlisted"


async def test_invalid_status_transitions_are_conflicts(vendor: Actor, categories: dict[str, int]) -> None:
    draft = await product(vendor, categories["Kettles"], "Copper kettle", listed=False)
    assert (await vendor.post(f"/vendor/products/{draft['id']}/unlist")).status_code == 409


async def test_suspended_vendors_products_disappear(
    client: AsyncTestClient[Litestar], vendor: Actor, admin: Actor, categories: dict[str, int]
) -> None:
    listed = await product(vendor, categories["Kettles"], "Glass kettle", brand="Clearco")
    assert listed["id"] in await visible_ids(client)
    await admin.post(f"/admin/vendors/{vendor.vendor_id}/suspend", json={"reason": "unpaid fees"})
    assert listed["id"] not in await visible_ids(client)
    assert listed["id"] not in await visible_ids(client, q="glass kettle")
    assert (await client.get(f"/products/{listed['id']}")).status_code == 404
    facets = (await client.get("/products", params={"facets": "true"})).json()["facets"]
    assert "Clearco" not in {b["value"] for b in facets["brands"]}


async def test_vendor_cannot_read_edit_or_restock_another_vendors_products(
    vendor: Actor, rival: Actor, categories: dict[str, int], db: asyncpg.Connection
) -> None:
    mine = await product(vendor, categories["Kettles"], "Secret draft kettle", listed=False)
    pid, sku = mine["id"], mine["skus"][0]["id"]
    assert (await rival.get(f"/vendor/products/{pid}")).status_code == 404
    assert (await rival.patch(f"/vendor/products/{pid}", json={"title": "Mine now"})).status_code == 404
    assert (await rival.post(f"/vendor/products/{pid}/list")).status_code == 404
    assert (await rival.patch(f"/vendor/products/{pid}/skus/{sku}", json={"price": 1})).status_code == 404
    assert (await rival.post(f"/vendor/products/{pid}/skus", json={"code": "X", "price": 5})).status_code == 404
    assert (await rival.post(f"/vendor/inventory/{sku}", json={"set": 0})).status_code == 404
    assert (await rival.get(f"/vendor/inventory/{sku}/movements")).status_code == 404
    assert pid not in {p["id"] for p in (await rival.get("/vendor/products")).json()["items"]}
    row = await db.fetchrow("SELECT p.title, s.price, s.on_hand FROM products p JOIN skus s ON s.product_id = p.id")
    assert tuple(row) == ("Secret draft kettle", 2500, 10)


async def test_buyers_and_other_roles_cannot_use_vendor_routes(buyer: Actor, categories: dict[str, int]) -> None:
    body = {"category_id": categories["Kettles"], "title": "Nope", "skus": [{"code": "A", "price": 1}]}
    assert (await buyer.post("/vendor/products", json=body)).status_code == 403


@pytest.mark.parametrize(
    "sku",
    [
        {"code": "A", "price": 0},
        {"code": "A", "price": -5},
        {"code": "A", "price": 100_000_001},
        {"code": "A", "price": 10, "stock": -1},
        {"code": "A", "price": 10, "stock": 10_000_000},
        {"code": "A", "price": 1.5},
        {"code": "has space", "price": 10},
    ],
)
async def test_prices_and_quantities_are_validated(
    vendor: Actor, categories: dict[str, int], db: asyncpg.Connection, sku: dict[str, object]
) -> None:
    r = await vendor.post(
        "/vendor/products", json={"category_id": categories["Kettles"], "title": "Bad", "skus": [sku]}
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await db.fetchval("SELECT count(*) FROM products") == 0


async def test_unknown_category_and_duplicate_sku_codes_change_nothing(
    vendor: Actor, categories: dict[str, int], db: asyncpg.Connection
) -> None:
    r = await vendor.post(
        "/vendor/products", json={"category_id": 999999, "title": "Xylophone", "skus": [{"code": "A", "price": 5}]}
    )
    assert r.status_code == 422
    skus = [{"code": "A", "price": 5}, {"code": "A", "price": 6}]
    r = await vendor.post(
        "/vendor/products", json={"category_id": categories["Kettles"], "title": "Xylophone", "skus": skus}
    )
    assert r.status_code == 409
    assert await db.fetchval("SELECT count(*) FROM products") == 0
    assert await db.fetchval("SELECT count(*) FROM stock_movements") == 0


async def test_price_change_updates_range_and_emits_event(
    vendor: Actor, categories: dict[str, int], db: asyncpg.Connection
) -> None:
    skus = [{"code": "S", "price": 1000}, {"code": "L", "price": 3000}]
    created = await product(vendor, categories["Kettles"], "Sized kettle", skus=skus)
    sku = created["skus"][0]["id"]
    r = await vendor.patch(f"/vendor/products/{created['id']}/skus/{sku}", json={"price": 500})
    assert (r.json()["min_price"], r.json()["max_price"]) == (500, 3000)
    event = await db.fetchrow("SELECT topic, type, payload FROM events WHERE type = 'price.changed'")
    assert event["topic"] == f"product:{created['id']}"
    assert event["payload"] == {"sku_id": sku, "old_price": 1000, "price": 500}


async def test_image_upload_is_checked_stored_and_served(
    client: AsyncTestClient[Litestar], vendor: Actor, rival: Actor, categories: dict[str, int]
) -> None:
    created = await product(vendor, categories["Kettles"], "Pictured kettle")
    path = f"/vendor/products/{created['id']}/images"
    r = await vendor.post(path, files={"file": ("k.png", png_bytes(), "image/png")})
    assert r.status_code == 201, r.text
    image = r.json()
    assert (image["width"], image["height"], image["content_type"]) == (8, 6, "image/png")
    served = await client.get(image["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content == png_bytes()
    page = (await client.get(f"/products/{created['id']}")).json()
    assert page["images"][0]["url"] == image["url"]

    # Content decides, not the name or the declared type.
    fake = await vendor.post(path, files={"file": ("evil.png", b"<?php echo 1; ?>", "image/png")})
    assert fake.status_code == 422
    gif = io.BytesIO()
    Image.new("RGB", (2, 2)).save(gif, format="GIF")
    assert (await vendor.post(path, files={"file": ("a.gif", gif.getvalue(), "image/gif")})).status_code == 422
    too_big = await vendor.post(path, files={"file": ("big.png", b"\x89PNG" + b"0" * (6 * 1024 * 1024), "image/png")})
    assert too_big.status_code == 413
    assert (await rival.post(path, files={"file": ("k.png", png_bytes(), "image/png")})).status_code == 404
    assert (await client.get("/images/../../etc/passwd")).status_code in (400, 404)

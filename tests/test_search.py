"""Search and browse: full text, typos, Chinese titles, filters, sorts, facets and stable pages."""

from __future__ import annotations

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor


@pytest.fixture
async def shop(client: AsyncTestClient[Litestar], admin: Actor) -> dict[str, object]:
    """Two vendors, a tree, and a handful of products with known prices, brands and stock."""
    cats = await category_tree(admin)
    a = await approved_vendor(client, admin, "a@example.com", "Alpha")
    b = await approved_vendor(client, admin, "b@example.com", "Beta")
    made = {
        "steel": await product(a, cats["Kettles"], "Stainless steel kettle", 3000, brand="Boilco", model="K1"),
        "glass": await product(a, cats["Kettles"], "Glass electric kettle", 4500, brand="Clearco", stock=0),
        "pot": await product(b, cats["Kitchen"], "Cast iron teapot", 2000, brand="Boilco"),
        "hose": await product(b, cats["Garden"], "Garden hose 25m", 1500, brand="Greenly"),
        "chinese": await product(b, cats["Kettles"], "不锈钢电热水壶", 9900, brand="华为"),
        "radio": await product(
            a,
            cats["Electronics"],
            "Pocket radio",
            1200,
            skus=[
                {"code": "R-RED", "price": 1200, "stock": 3, "attributes": {"colour": "red"}},
                {"code": "R-BLUE", "price": 1300, "stock": 0, "attributes": {"colour": "blue"}},
            ],
        ),
        "draft": await product(a, cats["Kettles"], "Draft kettle prototype", 100, listed=False),
    }
    return {"cats": cats, "products": {k: v["id"] for k, v in made.items()}, "a": a, "b": b}


async def titles(client: AsyncTestClient[Litestar], **params: object) -> list[str]:
    r = await client.get("/products", params=params)
    assert r.status_code == 200, r.text
    return [p["title"] for p in r.json()["items"]]


async def test_full_text_finds_stemmed_words_and_ranks_title_matches_first(
    client: AsyncTestClient[Litestar], shop: dict[str, object]
) -> None:
    found = await titles(client, q="kettles")
    assert set(found) == {"Stainless steel kettle", "Glass electric kettle"}
    assert "Draft kettle prototype" not in found
    assert (await titles(client, q="boilco"))[:2] and set(await titles(client, q="boilco")) == {
        "Stainless steel kettle",
        "Cast iron teapot",
    }


async def test_typos_still_find_the_product(client: AsyncTestClient[Litestar], shop: dict[str, object]) -> None:
    assert "Stainless steel kettle" in await titles(client, q="stainles")
    assert "Cast iron teapot" in await titles(client, q="teapott")


async def test_chinese_title_is_found_by_part_of_it(client: AsyncTestClient[Litestar], shop: dict[str, object]) -> None:
    assert await titles(client, q="电热水壶") == ["不锈钢电热水壶"]
    assert await titles(client, q="不锈钢") == ["不锈钢电热水壶"]


async def test_sql_and_like_metacharacters_are_plain_text(
    client: AsyncTestClient[Litestar], shop: dict[str, object]
) -> None:
    for text in ["'; DROP TABLE products; --", "%", "_", "\\", "kettle' OR 1=1 --", "!!&|"]:
        r = await client.get("/products", params={"q": text})
        assert r.status_code == 200, text
    assert await titles(client, q="%") == []
    assert len(await titles(client)) == 6


async def test_category_filter_includes_sub_categories(
    client: AsyncTestClient[Litestar], shop: dict[str, object]
) -> None:
    cats = shop["cats"]
    assert len(await titles(client, category=cats["Home"])) == 5  # type: ignore[index]
    assert set(await titles(client, category=cats["Kitchen"])) == {  # type: ignore[index]
        "Stainless steel kettle",
        "Glass electric kettle",
        "Cast iron teapot",
        "不锈钢电热水壶",
    }


async def test_price_brand_vendor_attribute_and_stock_filters(
    client: AsyncTestClient[Litestar], shop: dict[str, object]
) -> None:
    assert set(await titles(client, min_price=2000, max_price=3000)) == {"Stainless steel kettle", "Cast iron teapot"}
    assert set(await titles(client, brand=["boilco", "Greenly"])) == {
        "Stainless steel kettle",
        "Cast iron teapot",
        "Garden hose 25m",
    }
    assert set(await titles(client, vendor=shop["b"].vendor_id)) == {  # type: ignore[attr-defined]
        "Cast iron teapot",
        "Garden hose 25m",
        "不锈钢电热水壶",
    }
    assert await titles(client, attr="colour:blue") == ["Pocket radio"]
    assert "Glass electric kettle" not in await titles(client, in_stock="true")
    assert len(await titles(client, in_stock="true")) == 5
    r = await client.get("/products", params={"min_price": 50, "max_price": 10})
    assert r.status_code == 422  # each price is well-formed; together they make no range
    assert (await client.get("/products", params={"attr": "no-colon"})).status_code == 400


async def test_sorts(client: AsyncTestClient[Litestar], shop: dict[str, object]) -> None:
    by_price = await titles(client, sort="price_asc")
    assert by_price[0] == "Pocket radio" and by_price[-1] == "不锈钢电热水壶"
    assert (await titles(client, sort="price_desc"))[0] == "不锈钢电热水壶"
    assert (await titles(client, sort="newest"))[0] == "Pocket radio"
    assert (await client.get("/products", params={"sort": "cheapest"})).status_code == 400


async def test_facets_count_categories_brands_and_price_bands(
    client: AsyncTestClient[Litestar], shop: dict[str, object]
) -> None:
    facets = (await client.get("/products", params={"facets": "true"})).json()["facets"]
    assert {f["label"]: f["count"] for f in facets["categories"]} == {"Home": 5, "Electronics": 1}
    assert {f["value"]: f["count"] for f in facets["brands"]} == {"Boilco": 2, "Clearco": 1, "Greenly": 1, "华为": 1}
    assert sum(f["count"] for f in facets["prices"]) == 6
    kitchen = shop["cats"]["Kitchen"]  # type: ignore[index]
    facets = (await client.get("/products", params={"facets": "true", "category": kitchen})).json()["facets"]
    assert {f["label"]: f["count"] for f in facets["categories"]} == {"Kettles": 3}


async def test_pages_are_stable_and_cover_every_result_once(
    client: AsyncTestClient[Litestar], shop: dict[str, object]
) -> None:
    seen: list[int] = []
    for page in (1, 2, 3, 4):
        body = (await client.get("/products", params={"page": page, "page_size": 2, "sort": "best_selling"})).json()
        assert body["total"] == 6
        seen += [p["id"] for p in body["items"]]
    assert len(seen) == len(set(seen)) == 6
    assert (await client.get("/products", params={"page_size": 1000})).status_code == 400


@pytest.fixture
async def wireless(client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection) -> dict[str, int]:
    """Many wireless things that sell well, a few headphones that do not."""
    cats = await category_tree(admin)
    a = await approved_vendor(client, admin, "a@example.com", "Alpha")
    made = {
        "mat": await product(a, cats["Garden"], "Wireless yoga mat", 1000),
        "bag": await product(a, cats["Garden"], "Wireless sleeping bag", 2000),
        "hose": await product(a, cats["Garden"], "Wireless hose", 3000),
        "studio": await product(a, cats["Electronics"], "Studio headphone", 9000),
        "apart": await product(a, cats["Electronics"], "Headphones with a wireless charging case", 8000),
        "phrase": await product(a, cats["Electronics"], "Wireless headphones", 7000),
        "phone": await product(a, cats["Electronics"], "Pocket smartphone", 20000),
    }
    ids = {k: v["id"] for k, v in made.items()}
    for key, sold in [("mat", 50), ("bag", 40), ("hose", 30)]:
        await db.execute("UPDATE products SET sold_count = $2 WHERE id = $1", ids[key], sold)
    return ids


async def test_products_matching_every_word_come_first_then_the_rarer_word(
    client: AsyncTestClient[Litestar], wireless: dict[str, int]
) -> None:
    found = await titles(client, q="wireless headphones")
    # Every word, the phrase before the words apart; then the headphone (its word is rarer among the matches)
    # before the best-selling wireless things.
    assert found[:3] == ["Wireless headphones", "Headphones with a wireless charging case", "Studio headphone"]
    assert set(found[3:]) == {"Wireless yoga mat", "Wireless sleeping bag", "Wireless hose"}
    # Typos in several words, and words written apart that a title writes together.
    assert (await titles(client, q="wireles headphnes"))[0] == "Wireless headphones"
    assert (await titles(client, q="pocket smart phone"))[0] == "Pocket smartphone"


async def test_every_word_matches_come_first_under_any_sort(
    client: AsyncTestClient[Litestar], wireless: dict[str, int]
) -> None:
    cheapest = await titles(client, q="wireless headphones", sort="price_asc")
    assert cheapest[:2] == ["Wireless headphones", "Headphones with a wireless charging case"]
    assert cheapest[2:] == ["Wireless yoga mat", "Wireless sleeping bag", "Wireless hose", "Studio headphone"]
    body = (await client.get("/products", params={"q": "wireless headphones", "facets": "true"})).json()
    assert body["total"] == 6 and sum(f["count"] for f in body["facets"]["prices"]) == 6


async def test_chinese_words_among_several_are_found_by_part_of_the_title(
    client: AsyncTestClient[Litestar], shop: dict[str, object]
) -> None:
    assert (await titles(client, q="华为 热水壶"))[0] == "不锈钢电热水壶"
    assert (await titles(client, q="热水壶 kettle"))[0] == "不锈钢电热水壶"


async def test_a_word_with_a_minus_excludes_what_has_it(
    client: AsyncTestClient[Litestar], wireless: dict[str, int]
) -> None:
    assert await titles(client, q="headphones -wireless") == ["Studio headphone"]
    assert await titles(client, q="studio headphones -wireless") == ["Studio headphone"]

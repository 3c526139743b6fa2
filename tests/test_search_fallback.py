"""What search's hot path changed: typo matching only when the words as typed find too little, the title-word
dictionary typos are looked up in (migration 0018), short substrings of scripts without spaces, facets from
the page's own statement, and cards built by position."""

from __future__ import annotations

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor
from tests.test_search import titles


async def test_close_titles_count_only_when_the_word_finds_fewer_than_five(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    cats = await category_tree(admin)
    a = await approved_vendor(client, admin, "a@example.com", "Alpha")
    await product(a, cats["Garden"], "Garden books")  # "books" is close to "boots"
    await product(a, cats["Garden"], "Rubber boots")
    # One product has the word: titles with a close word come after it.
    assert await titles(client, q="boots") == ["Rubber boots", "Garden books"]
    for colour in ["Red", "Blue", "Green", "Black"]:
        await product(a, cats["Garden"], f"{colour} rubber boots")
    # Five have it: the word was no typo, and the close titles are left out.
    found = await titles(client, q="boots")
    assert len(found) == 5 and "Garden books" not in found
    assert (await client.get("/products", params={"q": "boots"})).json()["total"] == 5


async def test_typos_find_titles_created_or_renamed_after_the_catalog_was_built(
    client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection
) -> None:
    cats = await category_tree(admin)
    a = await approved_vendor(client, admin, "a@example.com", "Alpha")
    made = await product(a, cats["Kitchen"], "Copper samovar")
    assert await titles(client, q="samovr") == ["Copper samovar"]
    assert await titles(client, q="copper samovr") == ["Copper samovar"]
    r = await a.patch(f"/vendor/products/{made['id']}", json={"title": "Brass teapot"})
    assert r.status_code == 200, r.text
    assert await titles(client, q="teapto") == ["Brass teapot"]
    assert await db.fetchval("SELECT count(*) FROM search_words WHERE word IN ('copper', 'samovar', 'brass')") == 3


async def test_a_word_among_several_is_no_typo_when_a_filter_hides_the_products_that_have_it(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    cats = await category_tree(admin)
    a = await approved_vendor(client, admin, "a@example.com", "Alpha")
    await product(a, cats["Kettles"], "Stainless steel kettle")
    await product(a, cats["Garden"], "Kettel planter")  # a word close to "kettle", in another category
    # Some listed product has each word: none is a typo, though no product in the garden has them.
    assert await titles(client, q="steel kettle", category=cats["Garden"]) == []
    assert await titles(client, q="steel kettle") == ["Stainless steel kettle"]


async def test_one_or_two_characters_of_an_unspaced_script_are_found_inside_a_longer_title_word(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    cats = await category_tree(admin)
    a = await approved_vendor(client, admin, "a@example.com", "Alpha")
    await product(a, cats["Electronics"], "小米手机壳")
    await product(a, cats["Kettles"], "电热水壶")
    assert await titles(client, q="手机") == ["小米手机壳"]
    assert await titles(client, q="壶") == ["电热水壶"]
    assert await titles(client, q="手机 case") == ["小米手机壳"]


async def test_facets_come_with_the_page_and_past_its_end(client: AsyncTestClient[Litestar], admin: Actor) -> None:
    cats = await category_tree(admin)
    a = await approved_vendor(client, admin, "a@example.com", "Alpha")
    await product(a, cats["Kettles"], "Steel kettle", 3000, brand="Boilco")
    await product(a, cats["Kettles"], "Glass kettle", 6000, brand="Clearco")
    await product(a, cats["Garden"], "Garden kettle stand", 1500, brand="Boilco")
    params = {"q": "kettle", "facets": "true", "category": cats["Home"], "page_size": 2}
    for page in (1, 2, 3):
        body = (await client.get("/products", params={**params, "page": page})).json()
        assert body["total"] == 3
        assert {f["label"]: f["count"] for f in body["facets"]["categories"]} == {"Kitchen": 2, "Garden": 1}
        assert [(f["value"], f["count"]) for f in body["facets"]["brands"]] == [("Boilco", 2), ("Clearco", 1)]
        assert [f["label"] for f in body["facets"]["prices"]] == ["10-25", "25-50", "50-100"]
    assert len(body["items"]) == 0


async def test_cards_carry_the_products_figures(
    client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection
) -> None:
    cats = await category_tree(admin)
    a = await approved_vendor(client, admin, "a@example.com", "Alpha")
    made = await product(a, cats["Kettles"], "Steel kettle", 3000, brand="Boilco")
    await db.execute("UPDATE products SET sold_count = 7, rating_avg = 4.5, rating_count = 2 WHERE id = $1", made["id"])
    (item,) = (await client.get("/products", params={"q": "kettle"})).json()["items"]
    row = await db.fetchrow("SELECT vendor_id, category_id, created_at FROM products WHERE id = $1", made["id"])
    assert item == {
        "id": made["id"], "title": "Steel kettle", "brand": "Boilco", "vendor_id": row["vendor_id"],
        "vendor_name": "Alpha", "category_id": row["category_id"], "currency": "EUR", "min_price": 3000,
        "max_price": 3000, "in_stock": True, "sold_count": 7, "rating_avg": 4.5, "rating_count": 2,
        "image_url": None, "created_at": item["created_at"],
    }  # fmt: skip
    assert item["created_at"].startswith(row["created_at"].date().isoformat())

"""The edge's rules (marketplace/core/edge.py), shared by every route: integers beyond bigint and text with NUL
are a 400 naming the field, ids beyond bigint are not found before any query, a database refusal is a generic
400 whose text stays in the log, JSON bodies must say they are JSON, and JSON values are not coerced to the
declared type. The scene and the checks that nothing was written are test_bad_input.py's."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import ADDRESS
from tests.test_bad_input import HUGE_ID, NUL, Scene, assert_problem, snapshot
from tests.test_bad_input import scene as scene  # the fixture

DRIVER_WORDS = ("asyncpg", "query argument", "invalid input", "int64", "byte sequence", "0x00")


def assert_names_field(r: Any, key: str, status: int = 400) -> dict[str, Any]:
    body = assert_problem(r, status)
    assert body["code"] == "validation-failed" and body["type"] == "/problems/validation-failed"
    assert f"`{key}`" in body["detail"], body["detail"]
    assert key in [e["key"] for e in body["errors"]], body
    assert not any(word in r.text for word in DRIVER_WORDS), r.text
    return body


LOGIN_WITH_NUL = {"identifier": "buyer@example.com", "password": NUL * 12}
EDGE_CASES = {
    "body-int-above-bigint": ("buyer", "POST", "/checkouts", {"json": {"address_id": 2**63}}, "address_id"),
    "body-int-below-bigint": ("buyer", "POST", "/checkouts", {"json": {"address_id": -(2**63) - 1}}, "address_id"),
    "body-nul": ("buyer", "PATCH", "/me/addresses/{address_id}", {"json": {"city": "Ber\x00lin"}}, "city"),
    "login-nul": ("anon", "POST", "/auth/login", {"json": LOGIN_WITH_NUL}, "password"),
    "query-int-above-bigint": ("admin", "GET", "/admin/users", {"params": {"cursor": HUGE_ID}}, "cursor"),
    "query-int-below-bigint": ("admin", "GET", "/admin/audit", {"params": {"actor_id": "-" + HUGE_ID}}, "actor_id"),
    "query-nul": ("admin", "GET", "/admin/audit", {"params": {"object_type": NUL}}, "object_type"),
    "public-query-int": ("anon", "GET", "/products", {"params": {"vendor": str(2**63)}}, "vendor"),
    "public-query-nul": ("anon", "GET", "/products", {"params": {"q": "kettle\x00"}}, "q"),
}


@pytest.mark.parametrize(("who", "method", "path", "request_kw", "key"), EDGE_CASES.values(), ids=EDGE_CASES)
async def test_out_of_range_integers_and_nul_text_are_refused_at_the_edge_naming_the_field(
    scene: Scene, db: asyncpg.Connection, who: str, method: str, path: str, request_kw: dict[str, Any], key: str
) -> None:
    """They used to reach PostgreSQL and come back 422 with the driver's message."""
    before = await snapshot(db)
    assert_names_field(await scene.send(who, method, path, **request_kw), key)
    assert await snapshot(db) == before


async def test_ids_beyond_bigint_in_the_path_are_not_found_without_reaching_the_database(scene: Scene) -> None:
    for bad in (str(2**63), HUGE_ID, "9" * 5000):
        r = await scene.buyer.get(f"/me/addresses/{bad}")
        body = assert_problem(r, 404)
        assert body["code"] == "not-found" and not any(word in r.text for word in DRIVER_WORDS)
    assert (await scene.buyer.get(f"/me/addresses/{2**63 - 1}")).status_code == 404  # the largest id: no row


async def test_a_database_refusal_is_a_generic_400_and_its_text_stays_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whatever slips past the edge: asyncpg's DataError never shows the client the driver's message."""
    from litestar import get

    from marketplace.core.errors import exception_handlers

    @get("/refused", sync_to_thread=False)
    def refused() -> None:
        raise asyncpg.DataError("invalid input for query argument $1: 99999999999999999999 (value out of int64 range)")

    app = Litestar([refused], exception_handlers=exception_handlers, logging_config=None)
    async with AsyncTestClient(app=app) as client:
        r = await client.get("/refused")
    body = assert_problem(r, 400)
    assert body["code"] == "invalid-value" and "99999" not in r.text and "query argument" not in r.text
    assert "invalid input for query argument $1" in caplog.text


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 415),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        ("application/jsonp", 415),
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("application/merge-patch+json", 200),
    ],
)
async def test_json_bodies_must_say_they_are_json(
    scene: Scene, db: asyncpg.Connection, content_type: str | None, status: int
) -> None:
    headers = dict(scene.buyer.headers) | ({"Content-Type": content_type} if content_type else {})
    before = await snapshot(db)
    r = await scene.client.patch("/me", content=b'{"display_name": "Ann"}', headers=headers)
    if status == 415:
        assert assert_problem(r, 415)["code"] == "unsupported-media-type"
        assert await snapshot(db) == before
    else:
        assert r.status_code == 200 and r.json()["display_name"] == "Ann", r.text


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({**ADDRESS, "is_default": "true"}, "is_default"),
        ({**ADDRESS, "postal_code": 10115}, "postal_code"),
        ({**ADDRESS, "is_default": 1}, "is_default"),
    ],
    ids=["string-for-boolean", "number-for-string", "number-for-boolean"],
)
async def test_json_values_are_not_coerced_to_the_declared_type(
    scene: Scene, db: asyncpg.Connection, body: dict[str, Any], key: str
) -> None:
    before = await snapshot(db)
    assert_names_field(await scene.buyer.post("/me/addresses", json=body), key)
    assert await snapshot(db) == before


async def test_strings_are_not_integers_but_two_point_zero_is(shop: dict[str, Any]) -> None:
    buyer, sku = shop["buyer"], shop["kettle"]["skus"][0]["id"]
    assert_names_field(await buyer.put(f"/cart/items/{sku}", json={"quantity": "2"}), "quantity")
    assert (await buyer.get("/cart")).json()["lines"] == []
    r = await buyer.put(f"/cart/items/{sku}", json={"quantity": 2.0})  # JSON has one kind of number
    assert r.status_code == 200, r.text
    assert [line["quantity"] for line in (await buyer.get("/cart")).json()["lines"]] == [2]


async def test_image_uploads_take_multipart_only(shop: dict[str, Any]) -> None:
    import io

    from PIL import Image

    alpha, product_id = shop["alpha"], shop["kettle"]["id"]
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(picture, "PNG")
    r = await alpha.post(f"/vendor/products/{product_id}/images", json={"file": "not an upload"})
    assert assert_problem(r, 415)["code"] == "unsupported-media-type"
    r = await alpha.post(
        f"/vendor/products/{product_id}/images", files={"file": ("red.png", picture.getvalue(), "image/png")}
    )
    assert r.status_code == 201, r.text

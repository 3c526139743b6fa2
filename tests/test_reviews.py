"""Reviews: only after delivery, once per buyer and product, one vendor reply; ratings follow."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import sign_up

SHIP = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}


async def delivered(shop: dict[str, Any]) -> int:
    orders = await shop["checkout"](pay=True)
    alpha = shop["alpha"]
    order_id = orders[alpha.vendor_id]["id"]
    for step, body in [("accept", None), ("ship", SHIP), ("deliver", None)]:
        assert (await alpha.post(f"/vendor/orders/{order_id}/{step}", json=body)).status_code == 200
    return shop["kettle"]["id"]


async def test_no_review_without_a_delivered_purchase(client: AsyncTestClient[Litestar], shop: dict[str, Any]) -> None:
    kettle = shop["kettle"]["id"]
    review = {"rating": 5, "body": "Boils fast"}
    stranger = await sign_up(client, "never-bought@example.com")
    assert (await stranger.post(f"/products/{kettle}/reviews", json=review)).status_code == 403
    await shop["checkout"](pay=True)  # bought and paid, not yet delivered
    assert (await shop["buyer"].post(f"/products/{kettle}/reviews", json=review)).status_code == 403


async def test_review_once_reply_once_and_ratings_follow(
    client: AsyncTestClient[Litestar], shop: dict[str, Any], db: asyncpg.Connection
) -> None:
    kettle = await delivered(shop)
    buyer, alpha, beta = shop["buyer"], shop["alpha"], shop["beta"]
    r = await buyer.post(f"/products/{kettle}/reviews", json={"rating": 4, "body": "Boils fast, a bit loud"})
    assert r.status_code == 201
    review = r.json()
    assert (await buyer.post(f"/products/{kettle}/reviews", json={"rating": 1, "body": "again"})).status_code == 409
    assert (await buyer.post(f"/products/{kettle}/reviews", json={"rating": 6, "body": "x"})).status_code == 400
    assert (await beta.post(f"/vendor/reviews/{review['id']}/reply", json={"body": "Not ours"})).status_code == 404
    r = await alpha.post(f"/vendor/reviews/{review['id']}/reply", json={"body": "Thank you!"})
    assert r.status_code == 201 and r.json()["reply"] == "Thank you!"
    assert (await alpha.post(f"/vendor/reviews/{review['id']}/reply", json={"body": "Again"})).status_code == 409
    mine = (await alpha.get("/vendor/reviews")).json()
    assert [(x["id"], x["reply"]) for x in mine["items"]] == [(review["id"], "Thank you!")]
    assert (await beta.get("/vendor/reviews")).json()["items"] == []  # another shop's reviews are not its own
    page = (await client.get(f"/products/{kettle}")).json()
    assert page["rating"] == {"average": 4.0, "count": 1}
    listed = (await client.get(f"/products/{kettle}/reviews")).json()["items"]
    assert [(x["rating"], x["reply"]) for x in listed] == [(4, "Thank you!")]
    vendor = await db.fetchrow("SELECT rating_avg, rating_count FROM vendors WHERE id = $1", alpha.vendor_id)
    assert (float(vendor["rating_avg"]), vendor["rating_count"]) == (4.0, 1)


async def test_public_reviews_show_a_name_not_the_buyers_id(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    kettle = await delivered(shop)
    buyer, alpha = shop["buyer"], shop["alpha"]
    written = await buyer.post(f"/products/{kettle}/reviews", json={"rating": 5, "body": "Quiet and quick"})
    assert written.status_code == 201 and "buyer_id" not in written.json()
    [review] = (await client.get(f"/products/{kettle}/reviews")).json()["items"]
    assert "buyer_id" not in review and review["buyer_name"] == "Verified buyer"  # no display name chosen
    await buyer.patch("/me", json={"display_name": "Ann"})
    [review] = (await client.get(f"/products/{kettle}/reviews")).json()["items"]
    assert review["buyer_name"] == "Ann" and "buyer_id" not in review
    # The shop answering the review sees who wrote it, as it sees the buyer on its order.
    r = await alpha.post(f"/vendor/reviews/{review['id']}/reply", json={"body": "Thank you, Ann"})
    assert r.status_code == 201 and r.json()["buyer_id"] == buyer.id

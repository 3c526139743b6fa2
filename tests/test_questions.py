"""Pre-sale questions: a buyer asks the shop, the shop alone reads and answers it, the answer reaches the asker
live on the feed (and a new question the shop's), and only what the shop makes public shows on the product page."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.settings import Settings
from tests.conftest import Actor, sign_up
from tests.test_realtime import Live, live, nothing_more, open_feed, until
from tests.test_web_pages import csrf_of, sign_in

__all__ = ["live"]
pytestmark = pytest.mark.timeout(60)


async def ask(buyer: Actor, product_id: int, body: str = "Does it fit a 1.5 l jug?") -> Any:
    return await buyer.post(f"/products/{product_id}/questions", json={"body": body})


async def test_the_answer_is_pushed_to_the_asker_and_the_question_to_the_shop(shop: dict[str, Any], live: Live) -> None:
    alpha, buyer, kettle = shop["alpha"], shop["buyer"], shop["kettle"]
    shop_ws = await open_feed(live, alpha, [f"vendor:{alpha.vendor_id}"])
    buyer_ws = await open_feed(live, buyer, [f"user:{buyer.id}"])
    await until(shop_ws, "subscribed")
    await until(buyer_ws, "subscribed")

    r = await ask(buyer, kettle["id"])
    assert r.status_code == 201, r.text
    question = r.json()
    assert question["answer"] is None and question["is_public"] is False and question["product_title"] == "Kettle"
    asked = await until(shop_ws, "event")
    assert asked["type"] == "question.asked" and asked["data"]["question_id"] == question["id"]
    assert asked["data"]["product_id"] == kettle["id"]

    r = await alpha.post(f"/vendor/questions/{question['id']}/answer", json={"body": "Yes, up to 1.7 l."})
    assert r.status_code == 200, r.text
    assert r.json()["answer"] == "Yes, up to 1.7 l." and r.json()["buyer_id"] == buyer.id
    answered = await until(buyer_ws, "event")
    assert answered["type"] == "question.answered" and answered["topic"] == f"user:{buyer.id}"
    assert answered["data"] == {
        "question_id": question["id"],
        "product_id": kettle["id"],
        "product_title": "Kettle",
        "answer": "Yes, up to 1.7 l.",
        "is_public": False,
    }
    await nothing_more(shop_ws)  # the answer is the asker's news, not the shop's
    mine = (await buyer.get(f"/me/questions/{question['id']}")).json()
    assert mine["answer"] == "Yes, up to 1.7 l." and mine["answered_at"] is not None
    await shop_ws.close()
    await buyer_ws.close()


async def test_another_shop_and_another_buyer_cannot_read_or_answer_it(
    shop: dict[str, Any], client: AsyncTestClient[Litestar]
) -> None:
    alpha, beta, buyer, kettle = shop["alpha"], shop["beta"], shop["buyer"], shop["kettle"]
    question = (await ask(buyer, kettle["id"])).json()
    qid = question["id"]
    assert (await beta.get(f"/vendor/questions/{qid}")).status_code == 404
    assert (await beta.get("/vendor/questions")).json()["items"] == []
    assert (await beta.post(f"/vendor/questions/{qid}/answer", json={"body": "Mine now"})).status_code == 404
    assert (await beta.put(f"/vendor/questions/{qid}/public", json={"public": True})).status_code == 404
    other = await sign_up(client, "other@example.com")
    assert (await other.get(f"/me/questions/{qid}")).status_code == 404
    assert (await other.get("/me/questions")).json()["items"] == []
    assert (await buyer.get("/vendor/questions")).status_code == 403  # not a shop at all
    # Its own shop sees it, waiting, with the asker's display name only.
    waiting = (await alpha.get("/vendor/questions", params={"answered": "false"})).json()["items"]
    assert [q["id"] for q in waiting] == [qid] and waiting[0]["buyer_name"] == "A buyer"
    assert (await alpha.get("/vendor/questions", params={"answered": "true"})).json()["items"] == []
    assert (await alpha.get(f"/vendor/questions/{qid}")).json()["body"] == question["body"]


async def test_only_what_the_shop_makes_public_shows_on_the_product_page(shop: dict[str, Any]) -> None:
    alpha, buyer, kettle = shop["alpha"], shop["buyer"], shop["kettle"]
    public_url = f"/products/{kettle['id']}/questions"
    first = (await ask(buyer, kettle["id"], "Is the lid steel?")).json()
    second = (await ask(buyer, kettle["id"], "Does it whistle?")).json()
    r = await alpha.put(f"/vendor/questions/{first['id']}/public", json={"public": True})
    assert r.status_code == 409  # not answered yet
    assert (await buyer.client.get(public_url)).json() == {"items": [], "next_cursor": None}

    await alpha.post(f"/vendor/questions/{first['id']}/answer", json={"body": "Yes.", "public": True})
    await alpha.post(f"/vendor/questions/{second['id']}/answer", json={"body": "No."})  # answered, private
    items = (await buyer.client.get(public_url)).json()["items"]
    assert [(q["body"], q["answer"]) for q in items] == [("Is the lid steel?", "Yes.")]
    assert "buyer_id" not in items[0] and "buyer_name" not in items[0]  # the page never names the asker

    await alpha.put(f"/vendor/questions/{second['id']}/public", json={"public": True})
    page = (await buyer.client.get(public_url, params={"limit": 1})).json()
    assert [q["id"] for q in page["items"]] == [second["id"]] and page["next_cursor"] == second["id"]
    rest = (await buyer.client.get(public_url, params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [q["id"] for q in rest["items"]] == [first["id"]] and rest["next_cursor"] is None

    await alpha.put(f"/vendor/questions/{first['id']}/public", json={"public": False})
    assert [q["id"] for q in (await buyer.client.get(public_url)).json()["items"]] == [second["id"]]


async def test_two_answers_at_once_make_one_answer_and_one_push(shop: dict[str, Any], db: asyncpg.Connection) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    qid = (await ask(buyer, shop["kettle"]["id"])).json()["id"]
    first, second = await asyncio.gather(
        alpha.post(f"/vendor/questions/{qid}/answer", json={"body": "Answer one"}),
        alpha.post(f"/vendor/questions/{qid}/answer", json={"body": "Answer two"}),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner = (first if first.status_code == 200 else second).json()["answer"]
    assert (await buyer.get(f"/me/questions/{qid}")).json()["answer"] == winner
    pushed = await db.fetch("SELECT payload FROM events WHERE type = 'question.answered'")
    assert [row["payload"]["answer"] for row in pushed] == [winner]


async def test_bad_questions_are_refused_and_change_nothing(shop: dict[str, Any], db: asyncpg.Connection) -> None:
    alpha, buyer, kettle = shop["alpha"], shop["buyer"], shop["kettle"]
    assert (await ask(buyer, kettle["id"], "   ")).status_code == 422
    assert (await ask(buyer, kettle["id"], "x" * 2001)).status_code == 400
    assert (await ask(buyer, 999_999)).status_code == 404
    assert (await ask(alpha, kettle["id"])).status_code == 422  # a shop does not ask itself
    await db.execute("UPDATE products SET status = 'unlisted' WHERE id = $1", kettle["id"])
    assert (await ask(buyer, kettle["id"])).status_code == 404
    assert await db.fetchval("SELECT count(*) FROM product_questions") == 0
    assert await db.fetchval("SELECT count(*) FROM events WHERE type LIKE 'question.%'") == 0


async def test_asking_is_rate_limited_per_buyer(shop: dict[str, Any], settings: Settings) -> None:
    limited = msgspec.structs.replace(settings, question_rate_limit=2)
    async with AsyncTestClient(app=create_app(limited)) as client:
        buyer = Actor(client, {"id": shop["buyer"].id, "email": shop["buyer"].email}, shop["buyer"].tokens)
        assert [(await ask(buyer, shop["kettle"]["id"])).status_code for _ in range(3)] == [201, 201, 429]
        r = await ask(buyer, shop["hose"]["id"])  # across shops too
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


async def test_the_product_page_and_the_console_page_ask_answer_and_publish(
    shop: dict[str, Any], client: AsyncTestClient[Litestar]
) -> None:
    alpha, buyer, kettle = shop["alpha"], shop["buyer"], shop["kettle"]
    product_url = f"/shop/products/{kettle['id']}"
    anonymous = await client.get(product_url)
    assert "Questions and answers" in anonymous.text and "Sign in to ask the shop" in anonymous.text

    assert (await sign_in(client, buyer.email)).status_code == 303
    page = await client.get(product_url)
    assert f'action="/shop/products/{kettle["id"]}/questions"' in page.text
    r = await client.post(
        f"{product_url}/questions",
        data={"body": "Is it cordless?", "csrf_token": csrf_of(page.text)},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and "Is it cordless?" in r.text and "Waiting for the shop" in r.text
    assert (await client.get(f"/products/{kettle['id']}/questions")).json()["items"] == []  # not public

    await client.post("/logout", data={"csrf_token": csrf_of((await client.get("/")).text)})
    assert (await sign_in(client, alpha.email)).status_code == 303
    console = await client.get("/vendor/console/questions")
    assert console.status_code == 200 and "Is it cordless?" in console.text
    assert console.text.index("Waiting for your answer") < console.text.index("Is it cordless?")
    assert 'href="/vendor/console/questions" aria-current="page"' in console.text
    qid = (await alpha.get("/vendor/questions")).json()["items"][0]["id"]
    r = await client.post(
        f"/vendor/console/questions/{qid}/answer",
        data={"body": "Yes, with a base.", "public": "1", "csrf_token": csrf_of(console.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Yes, with a base." in (await client.get(product_url)).text  # public: everyone sees it now
    r = await client.post(
        f"/vendor/console/questions/{qid}/public", data={"public": "0", "csrf_token": csrf_of(console.text)}
    )
    assert r.status_code == 200 and "Make public" in r.text
    assert "Yes, with a base." not in (await client.get(product_url)).text


async def test_the_console_page_is_the_shops_alone(shop: dict[str, Any], client: AsyncTestClient[Litestar]) -> None:
    buyer, beta = shop["buyer"], shop["beta"]
    await ask(buyer, shop["kettle"]["id"], "Is the alpha kettle loud?")
    assert (await sign_in(client, buyer.email)).status_code == 303
    refused = await client.get("/vendor/console/questions")
    assert refused.status_code == 403 and "Is the alpha kettle loud?" not in refused.text
    await client.post("/logout", data={"csrf_token": csrf_of((await client.get("/")).text)})
    assert (await sign_in(client, beta.email)).status_code == 303
    console = await client.get("/vendor/console/questions")
    assert console.status_code == 200 and "Is the alpha kettle loud?" not in console.text
    assert "No question is waiting for you." in console.text

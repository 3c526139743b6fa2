"""Pre-sale question rules: a buyer asks about a listed product (rate-limited), only the shop selling it reads
and answers it (once), and only the shop makes an answered question public. The new question is pushed to the
shop's feed (`vendor:<id>`, `question.asked`) and the answer to the asker's (`user:<id>`, `question.answered`),
each in the transaction that makes the change."""

from __future__ import annotations

import asyncpg
from redis.asyncio import Redis

from marketplace.core import topics
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.events import append_event
from marketplace.core.paging import Page, fetch_page
from marketplace.core.ratelimit import hit
from marketplace.questions import queries as q
from marketplace.questions.schemas import QuestionOut, VendorQuestionOut
from marketplace.settings import Settings


def question_out(row: asyncpg.Record) -> QuestionOut:
    return QuestionOut(**{k: row[k] for k in QuestionOut.__struct_fields__})


def vendor_question_out(row: asyncpg.Record) -> VendorQuestionOut:
    return VendorQuestionOut(**{k: row[k] for k in VendorQuestionOut.__struct_fields__})


async def ask(
    db: asyncpg.Pool, redis: Redis, settings: Settings, buyer_id: int, product_id: int, body: str
) -> QuestionOut:
    text = body.strip()
    if not text:
        raise Unprocessable("write your question", field="body")
    product = await db.fetchrow(q.ASKABLE_PRODUCT, product_id)
    if product is None:
        raise NotFound("no such product on sale")
    if product["vendor_user_id"] == buyer_id:
        raise Unprocessable("this is your own shop's product")
    # Counted once the question can be asked, so asking about a missing product costs nothing.
    await hit(redis, f"questions:user:{buyer_id}", settings.question_rate_limit, settings.question_rate_window_seconds)
    async with db.acquire() as conn, conn.transaction():
        question_id = await conn.fetchval(q.INSERT_QUESTION, product_id, product["vendor_id"], buyer_id, text)
        payload = {"question_id": question_id, "product_id": product_id, "product_title": product["title"]}
        await append_event(conn, topics.vendor(product["vendor_id"]), "question.asked", payload)
        return question_out(await conn.fetchrow(q.GET_QUESTION, question_id))


async def public_of_product(db: asyncpg.Pool, product_id: int, cursor: int | None, limit: int) -> Page[QuestionOut]:
    """A product's public Q&A, newest first."""
    return await fetch_page(db, q.PUBLIC_QUESTIONS, product_id, cursor, limit=limit, convert=question_out)


async def of_buyer(
    db: asyncpg.Pool, buyer_id: int, product_id: int | None, cursor: int | None, limit: int
) -> Page[QuestionOut]:
    """The buyer's own questions (answered or not, public or not), newest first."""
    return await fetch_page(db, q.BUYER_QUESTIONS, buyer_id, product_id, cursor, limit=limit, convert=question_out)


async def get_own(db: asyncpg.Pool, buyer_id: int, question_id: int) -> QuestionOut:
    row = await db.fetchrow(q.BUYER_QUESTION, question_id, buyer_id)
    if row is None:
        raise NotFound("no such question of yours")
    return question_out(row)


async def of_vendor(
    db: asyncpg.Pool, vendor_id: int, answered: bool | None, product_id: int | None, cursor: int | None, limit: int
) -> Page[VendorQuestionOut]:
    """Questions about the shop's products, newest first; `answered=False` is what waits for the shop."""
    return await fetch_page(
        db, q.VENDOR_QUESTIONS, vendor_id, answered, product_id, cursor, limit=limit, convert=vendor_question_out
    )


async def unanswered_count(db: asyncpg.Pool, vendor_id: int) -> int:
    return await db.fetchval(q.UNANSWERED_COUNT, vendor_id)


async def get_for_vendor(db: asyncpg.Pool, vendor_id: int, question_id: int) -> VendorQuestionOut:
    row = await db.fetchrow(q.VENDOR_QUESTION, question_id, vendor_id)
    if row is None:
        raise NotFound("no such question about your products")
    return vendor_question_out(row)


async def answer(
    db: asyncpg.Pool, vendor_id: int, vendor_user_id: int, question_id: int, body: str, public: bool
) -> VendorQuestionOut:
    text = body.strip()
    if not text:
        raise Unprocessable("write your answer", field="body")
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.ANSWER, question_id, vendor_id, text, vendor_user_id, public)
        if row is None:
            await _missing_or_answered(conn, vendor_id, question_id)
        question = vendor_question_out(await conn.fetchrow(q.VENDOR_QUESTION, question_id, vendor_id))
        payload = {
            "question_id": question_id,
            "product_id": row["product_id"],
            "product_title": question.product_title,
            "answer": text,
            "is_public": public,
        }
        await append_event(conn, topics.user(row["buyer_id"]), "question.answered", payload)
        return question


async def set_public(db: asyncpg.Pool, vendor_id: int, question_id: int, public: bool) -> VendorQuestionOut:
    """Show an answered question on the product page, or take it off."""
    async with db.acquire() as conn, conn.transaction():
        if await conn.fetchval(q.SET_PUBLIC, question_id, vendor_id, public) is None:
            answered = await conn.fetchval(q.QUESTION_OF_VENDOR, question_id, vendor_id)
            if answered is None:
                raise NotFound("no such question about your products")
            raise Conflict("answer the question before making it public")
        return vendor_question_out(await conn.fetchrow(q.VENDOR_QUESTION, question_id, vendor_id))


async def _missing_or_answered(conn: asyncpg.Connection, vendor_id: int, question_id: int) -> None:
    if await conn.fetchval(q.QUESTION_OF_VENDOR, question_id, vendor_id) is None:
        raise NotFound("no such question about your products")
    raise Conflict("this question is answered already")

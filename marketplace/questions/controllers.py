"""HTTP routes of pre-sale questions: a product's public Q&A and asking, a buyer's own questions, and the shop's
side (reading, answering, making public)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.core.auth import AuthedRequest, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.questions import service
from marketplace.questions.schemas import AnswerIn, QuestionIn, QuestionOut, VendorQuestionOut, VisibilityIn


class ProductQuestionController(Controller):
    path = "/products/{product_id:int}/questions"
    tags = ["questions"]

    @get("/", exclude_from_auth=True, summary="A product's public questions and answers, newest first")
    async def public(
        self, state: AppState, product_id: FromPath[int], cursor: Cursor = None, limit: Limit = 20
    ) -> Page[QuestionOut]:
        return await service.public_of_product(state.db, product_id, cursor, limit)

    @post("/", summary="Ask the shop about a product (only you and the shop see it unless the shop makes it public)")
    async def ask(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[QuestionIn]
    ) -> QuestionOut:
        return await service.ask(state.db, state.redis, state.settings, request.user.id, product_id, data.body)


class MyQuestionsController(Controller):
    path = "/me/questions"
    tags = ["questions"]

    @get("/", summary="My questions to shops, newest first")
    async def mine(
        self,
        state: AppState,
        request: AuthedRequest,
        product_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[QuestionOut]:
        return await service.of_buyer(state.db, request.user.id, product_id, cursor, limit)

    @get("/{question_id:int}", summary="One of my questions, with the shop's answer once given")
    async def one(self, state: AppState, request: AuthedRequest, question_id: FromPath[int]) -> QuestionOut:
        return await service.get_own(state.db, request.user.id, question_id)


class VendorQuestionController(Controller):
    path = "/vendor/questions"
    tags = ["questions"]
    guards = [requires_active_vendor]

    @get("/", summary="Questions about my shop's products, newest first (answered=false: those waiting)")
    async def questions(
        self,
        state: AppState,
        request: AuthedRequest,
        answered: FromQuery[bool | None] = None,
        product_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[VendorQuestionOut]:
        vendor_id = request.user.vendor_id
        return await service.of_vendor(state.db, vendor_id, answered, product_id, cursor, limit)

    @get("/{question_id:int}", summary="A question about one of my products")
    async def one(self, state: AppState, request: AuthedRequest, question_id: FromPath[int]) -> VendorQuestionOut:
        return await service.get_for_vendor(state.db, request.user.vendor_id, question_id)

    @post("/{question_id:int}/answer", status_code=200, summary="Answer a question (once); pushed to the asker live")
    async def answer(
        self, state: AppState, request: AuthedRequest, question_id: FromPath[int], data: JSONBody[AnswerIn]
    ) -> VendorQuestionOut:
        user = request.user
        return await service.answer(state.db, user.vendor_id, user.id, question_id, data.body, data.public)

    @put("/{question_id:int}/public", summary="Show an answered question on the product page, or take it off")
    async def visibility(
        self, state: AppState, request: AuthedRequest, question_id: FromPath[int], data: JSONBody[VisibilityIn]
    ) -> VendorQuestionOut:
        return await service.set_public(state.db, request.user.vendor_id, question_id, data.public)

"""Pre-sale questions on the pages: the product page's Q&A section (public answers, the visitor's own questions and
an "ask the shop" form) and the vendor console's questions page (waiting ones first, an answer form and a public
toggle), all through `questions.service`.

The product page hears answers on the visitor's own topic (`user:<id>`, which every signed-in page follows) and
fetches its section afresh on `question.` events; the console page does the same on the shop's `vendor:<id>`."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from marketplace.core import topics
from marketplace.core.auth import CurrentUser
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError, NotFound
from marketplace.questions import service as questions
from marketplace.questions.schemas import AnswerIn, QuestionIn
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.pages.vendor import vendor_of
from marketplace.web.render import error_page, page
from marketplace.web.session import signed_in, visitor_of

CONSOLE = "/vendor/console/questions"
PUBLIC_PAGE = 10  # public Q&A on the product page, a page at a time
MINE = 20  # the visitor's own questions about the product
WAITING = 50  # unanswered questions on the console page
ANSWERED_PAGE = 20
Before = Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)]


async def section(state: AppState, product_id: int, user: CurrentUser | None, after: int | None) -> dict[str, Any]:
    """What `_questions.html` shows: a page of public Q&A, and the visitor's own questions that are not public."""
    public = await questions.public_of_product(state.db, product_id, after, PUBLIC_PAGE)
    mine = []
    if user is not None:
        own = await questions.of_buyer(state.db, user.id, product_id, None, MINE)
        mine = [q for q in own.items if not q.is_public]
    return {
        "qa_product_id": product_id,
        "public_questions": public.items,
        "more_questions": public.next_cursor,
        "my_questions": mine,
        "question_error": None,
        "question_notice": None,
        "question_text": "",
    }


@get("/shop/products/{product_id:int}/questions", name="product-questions")
async def questions_fragment(
    state: AppState,
    request: Request[Any, Any, Any],
    product_id: FromPath[int],
    questions_after: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
) -> Template:
    """The section alone: what the product page fetches when the feed says a question was answered."""
    shown = await section(state, product_id, visitor_of(request).user, questions_after)
    return await page(request, "_questions.html", **shown)


@post("/shop/products/{product_id:int}/questions", name="product-ask")
async def ask(state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]) -> Template | Redirect:
    user = signed_in(request)
    form = await form_of(request)
    text = form.get("body", "").strip()
    is_htmx = request.headers.get("hx-request") == "true"
    try:
        body = convert({"body": text}, QuestionIn).body
        await questions.ask(state.db, state.redis, state.settings, user.id, product_id, body)
    except (DomainError, msgspec.ValidationError) as exc:
        status = getattr(exc, "status_code", 400)
        if not is_htmx:
            return error_page(request, status, problem_text(exc))
        shown = await section(state, product_id, user, None)
        shown |= {"question_error": problem_text(exc), "question_text": text}
        return await page(request, "_questions.html", status=status, **shown)
    if not is_htmx:
        return Redirect(f"/shop/products/{product_id}#questions", status_code=303)
    shown = await section(state, product_id, user, None)
    shown["question_notice"] = "Your question was sent to the shop; its answer will appear here."
    return await page(request, "_questions.html", **shown)


# --- the vendor console ---


async def _console(state: AppState, vendor_id: int, before: int | None) -> dict[str, Any]:
    waiting = await questions.of_vendor(state.db, vendor_id, False, None, None, WAITING)
    answered = await questions.of_vendor(state.db, vendor_id, True, None, before, ANSWERED_PAGE)
    return {
        "waiting": waiting.items,
        "more_waiting": waiting.next_cursor is not None,
        "waiting_count": await questions.unanswered_count(state.db, vendor_id),
        "answered": answered.items,
        "older": answered.next_cursor,
    }


async def _console_page(
    state: AppState, request: Request[Any, Any, Any], before: int | None, status: int = 200, **shown: Any
) -> Template:
    _, vendor_id = vendor_of(request)
    return await page(
        request,
        "vendor_questions.html",
        status=status,
        title="Questions",
        topics=[topics.vendor(vendor_id)],
        **await _console(state, vendor_id, before),
        **({"error": None, "error_for": None, "text": ""} | shown),
    )


@get(CONSOLE, name="vendor-questions")
async def console_page(state: AppState, request: Request[Any, Any, Any], before: Before = None) -> Template:
    return await _console_page(state, request, before)


@get(f"{CONSOLE}/list", name="vendor-questions-live")
async def console_fragment(state: AppState, request: Request[Any, Any, Any]) -> Template:
    """The lists alone: fetched when the shop's feed says a question arrived."""
    _, vendor_id = vendor_of(request)
    context = {"error": None, "error_for": None, "text": ""}
    return await page(request, "_vendor_questions.html", **await _console(state, vendor_id, None), **context)


@post(f"{CONSOLE}/{{question_id:int}}/answer", name="vendor-question-answer")
async def answer(state: AppState, request: Request[Any, Any, Any], question_id: FromPath[int]) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    form = await form_of(request)
    text = form.get("body", "").strip()
    try:
        body = convert({"body": text, "public": bool(form.get("public"))}, AnswerIn)
        await questions.answer(state.db, vendor_id, user.id, question_id, body.body, body.public)
    except (DomainError, msgspec.ValidationError) as exc:
        if isinstance(exc, NotFound):
            raise
        status = getattr(exc, "status_code", 400)
        return await _console_page(state, request, None, status, error=problem_text(exc), error_for=question_id,
                                   text=text)  # fmt: skip
    return Redirect(f"{CONSOLE}#question-{question_id}", status_code=303)


@post(f"{CONSOLE}/{{question_id:int}}/public", name="vendor-question-public")
async def toggle_public(
    state: AppState, request: Request[Any, Any, Any], question_id: FromPath[int]
) -> Template | Redirect:
    _, vendor_id = vendor_of(request)
    form = await form_of(request)
    try:
        await questions.set_public(state.db, vendor_id, question_id, form.get("public") == "1")
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _console_page(state, request, None, exc.status_code, error=problem_text(exc),
                                   error_for=question_id)  # fmt: skip
    return Redirect(f"{CONSOLE}#question-{question_id}", status_code=303)


ROUTES = [questions_fragment, ask, console_page, console_fragment, answer, toggle_public]

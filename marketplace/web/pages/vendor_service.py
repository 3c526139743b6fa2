"""The vendor console's after-sales, reviews and money pages. Only an active vendor sees them (`vendor_of`:
anyone else signed in gets 403 and no data). After-sales calls `aftersales.service` as the order's vendor,
exactly as the API's VendorAftersalesController does, and offers the moves the after-sales state machine
(`TRANSITIONS.targets`) allows the vendor from the request's state; an open request follows the shop's
`vendor:<id>:aftersales` feed and fetches its thread afresh on `aftersales.` events. Reviews are
`reviews.service` (the shop's reviews, one reply each); money is `settlement.service` (balance, statement,
payouts) and the shop's sales chart, drawn by the same function as `GET /vendor/analytics/sales?format=png`
(that route takes bearer tokens only, so the page serves the PNG under its own session)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from analytics import sales as metrics
from analytics.exports import charts, frame_of
from analytics.sales import Period
from analytics.schemas import SalesPeriod
from marketplace.aftersales import TRANSITIONS, Kind, Status, reaches
from marketplace.aftersales import service as aftersales
from marketplace.aftersales.schemas import MessageIn, NoteIn, RefundIn, RequestOut, ShipmentIn
from marketplace.aftersales.service import ACTIONS, Party
from marketplace.core import topics
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError, NotFound, Unprocessable
from marketplace.core.money import DEFAULT_CURRENCY, parse_money
from marketplace.core.states import Actor
from marketplace.orders import read
from marketplace.reviews import service as reviews
from marketplace.reviews.schemas import ReplyIn
from marketplace.settlement import service as settlement
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.pages.shop import product_page_of
from marketplace.web.pages.vendor import vendor_of
from marketplace.web.render import NO_STORE, page

AFTERSALES = "/vendor/console/aftersales"
REVIEWS = "/vendor/console/reviews"
MONEY = "/vendor/console/money"
PAGE = 20  # requests, reviews and payouts a page
LEDGER = 50  # statement lines a page
Before = Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)]
# The vendor's moves, by the state they lead to: (action in ACTIONS, path of its form, button).
MOVES = {
    Status.APPROVED: ("approve", "approve", "Approve"),
    Status.REJECTED: ("reject", "reject", "Reject"),
    Status.RETURN_RECEIVED: ("received", "received", "Mark the return received"),
    Status.REFUNDED: ("refund", "refund", "Refund"),
    Status.REPLACEMENT_SHIPPED: ("ship_replacement", "ship-replacement", "Ship the replacement"),
}
BY_PATH = {path: action for action, path, _ in MOVES.values()}


def _party(request: Request[Any, Any, Any]) -> Party:
    user, vendor_id = vendor_of(request)
    return Party(user.id, Actor.VENDOR, vendor_id)


def moves_of(claim: RequestOut) -> list[tuple[str, str, str]]:
    """What the vendor may do from the request's state, in the state machine's order: (action, path, button)."""
    current = Status(claim.status)
    found = []
    for target in TRANSITIONS.targets(current, Actor.VENDOR):
        if target in MOVES and reaches(Kind(claim.kind), target):
            action = MOVES[target][0]
            if ACTIONS[action][0] in (None, current):
                found.append(MOVES[target])
    return found


# --- after-sales ---


@get(AFTERSALES, name="vendor-aftersales")
async def aftersales_page(
    state: AppState, request: Request[Any, Any, Any], status: FromQuery[str | None] = None, before: Before = None
) -> Template:
    party = _party(request)
    chosen = Status(status) if status in set(Status) else None
    claims = await aftersales.listing(state.db, party, chosen, before, PAGE)
    return await page(
        request,
        "vendor_aftersales.html",
        title="After-sales",
        claims=claims.items,
        older=claims.next_cursor,
        statuses=list(Status),
        chosen=chosen,
    )


async def _claim_context(state: AppState, request: Request[Any, Any, Any], request_id: int) -> dict[str, Any]:
    party = _party(request)
    claim = await aftersales.get(state.db, party, request_id)
    order = (await read.order_for(state.db, claim.order_id, vendor_id=party.vendor_id)).order
    return {"claim": claim, "currency": order.currency, "me": party.user_id, "moves": moves_of(claim)}


@get(f"{AFTERSALES}/{{request_id:int}}", name="vendor-claim")
async def claim_page(state: AppState, request: Request[Any, Any, Any], request_id: FromPath[int]) -> Template:
    _, vendor_id = vendor_of(request)
    context = await _claim_context(state, request, request_id)
    return await page(
        request,
        "vendor_claim.html",
        topics=[topics.vendor_aftersales(vendor_id)],
        title=f"Request #{request_id}",
        error=None,
        **context,
    )


@get(f"{AFTERSALES}/{{request_id:int}}/live", name="vendor-claim-live")
async def claim_panel(state: AppState, request: Request[Any, Any, Any], request_id: FromPath[int]) -> Template:
    """The request's thread and actions alone: what the page fetches when the feed says it changed."""
    return await page(request, "_vendor_claim.html", **await _claim_context(state, request, request_id))


def _amount(text: str, currency: str) -> int | None:
    """A refund amount typed in currency units ("25.50") as minor units; blank means everything."""
    if not text:
        return None
    try:
        return parse_money(text, currency)
    except ValueError as exc:
        raise Unprocessable(str(exc)) from None


@post(f"{AFTERSALES}/{{request_id:int}}/{{action:str}}", name="vendor-claim-act")
async def claim_act(
    state: AppState, request: Request[Any, Any, Any], request_id: FromPath[int], action: FromPath[str]
) -> Template | Redirect:
    """Write in the thread, or make one of the vendor's moves (the service checks it is allowed now)."""
    party, form = _party(request), await form_of(request)
    try:
        if action == "messages":
            body = convert({"body": form.get("body", "").strip()}, MessageIn).body
            await aftersales.post_message(state.db, party, request_id, body)
        elif action == "reject":
            note = convert({"note": form.get("note", "").strip()}, NoteIn).note
            await aftersales.act(state.db, party, request_id, "reject", note=note)
        elif action == "received":
            await aftersales.act(state.db, party, request_id, "received", restock=form.get("restock") == "1")
        elif action == "refund":
            claim = await aftersales.get(state.db, party, request_id)
            order = (await read.order_for(state.db, claim.order_id, vendor_id=party.vendor_id)).order
            amount = convert({"amount": _amount(form.get("amount", "").strip(), order.currency)}, RefundIn).amount
            await aftersales.act(state.db, party, request_id, "refund", amount=amount)
        elif action == "ship-replacement":
            sent = {key: form.get(key, "").strip() for key in ("carrier", "tracking_number")}
            shipment = convert(sent, ShipmentIn)
            await aftersales.act(state.db, party, request_id, "ship_replacement", tracking=shipment.tracking_number)
        elif action in BY_PATH:
            await aftersales.act(state.db, party, request_id, BY_PATH[action])
        else:
            raise NotFound("there is no such action")
    except (DomainError, msgspec.ValidationError) as exc:
        if isinstance(exc, NotFound):  # another shop's request, or no such action: the 404 page
            raise
        context = await _claim_context(state, request, request_id)
        status = getattr(exc, "status_code", 400)
        return await page(request, "vendor_claim.html", status=status, error=problem_text(exc), **context)
    return Redirect(f"{AFTERSALES}/{request_id}", status_code=303)


# --- reviews ---


async def _titles(state: AppState, product_ids: set[int]) -> dict[int, str]:
    titles = {}
    for product_id in product_ids:
        try:
            titles[product_id] = (await product_page_of(state, product_id)).title
        except NotFound:  # no longer listed
            titles[product_id] = f"Product #{product_id}"
    return titles


async def _reviews_page(
    state: AppState, request: Request[Any, Any, Any], before: int | None, status: int = 200, **shown: Any
) -> Template:
    _, vendor_id = vendor_of(request)
    found = await reviews.of_vendor(state.db, vendor_id, before, PAGE)
    return await page(
        request,
        "vendor_reviews.html",
        status=status,
        title="Reviews",
        reviews=found.items,
        older=found.next_cursor,
        titles=await _titles(state, {r.product_id for r in found.items}),
        **({"error": None, "error_for": None, "text": ""} | shown),
    )


@get(REVIEWS, name="vendor-reviews")
async def reviews_page(state: AppState, request: Request[Any, Any, Any], before: Before = None) -> Template:
    return await _reviews_page(state, request, before)


@post(f"{REVIEWS}/{{review_id:int}}/reply", name="vendor-review-reply")
async def reply(state: AppState, request: Request[Any, Any, Any], review_id: FromPath[int]) -> Template | Redirect:
    _, vendor_id = vendor_of(request)
    form = await form_of(request)
    text = form.get("body", "").strip()
    try:
        await reviews.reply(state.db, vendor_id, review_id, convert({"body": text}, ReplyIn).body)
    except (DomainError, msgspec.ValidationError) as exc:
        if isinstance(exc, NotFound):
            raise
        status = getattr(exc, "status_code", 400)
        return await _reviews_page(
            state, request, None, status, error=problem_text(exc), error_for=review_id, text=text
        )
    return Redirect(f"{REVIEWS}#review-{review_id}", status_code=303)


# --- money ---


@get(MONEY, name="vendor-money")
async def money_page(
    state: AppState, request: Request[Any, Any, Any], before: Before = None, payouts_before: Before = None
) -> Template:
    _, vendor_id = vendor_of(request)
    statement = await settlement.statement(state.db, vendor_id, before, LEDGER)
    paid = await settlement.payouts(state.db, vendor_id, payouts_before, PAGE)
    currencies = sorted({DEFAULT_CURRENCY} | {line.currency for line in statement.items})
    balances = [await settlement.balance(state.db, vendor_id, currency) for currency in currencies]
    return await page(
        request,
        "vendor_money.html",
        title="Money",
        balances=balances,
        statement=statement.items,
        older=statement.next_cursor,
        payouts=paid.items,
        older_payouts=paid.next_cursor,
        before=before,
    )


@get(f"{MONEY}/sales.png", name="vendor-sales-chart")
async def sales_chart(state: AppState, request: Request[Any, Any, Any]) -> Response[bytes]:
    """The shop's sales over the last 30 days: the chart `GET /vendor/analytics/sales?format=png` draws."""
    _, vendor_id = vendor_of(request)
    period = Period.of(None, None, "day")
    listed = await metrics.sales(state.db, period, vendor_id)
    image = charts().sales_trend(frame_of(listed, SalesPeriod), f"Sales by day, {period.start} to {period.end}")
    return Response(image, media_type="image/png", headers=NO_STORE)


ROUTES = [aftersales_page, claim_page, claim_panel, claim_act, reviews_page, reply, money_page, sales_chart]

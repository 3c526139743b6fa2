"""The customer-service console: a desk with the search, an order's whole story with the actions support may
take on it (cancel with a refund, lost in transit, extend the after-sales window, an internal note), and the
disputes queue (escalated first, with deadlines) with each dispute's thread and decision. Mounted at /support by
plugin.py with `page_router` (the JSON API's /support/... routes live beside it, so pages sit under
/support/desk/...); for the support and admin roles only. Every action calls the service or workflow the JSON
API calls, with the same bodies: a missing reason is refused by the same struct and changes nothing."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from marketplace.core.auth import CurrentUser
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError, Forbidden
from marketplace.core.money import parse_money
from marketplace.core.states import Actor
from marketplace.disputes import LIVE, DisputeStatus
from marketplace.disputes import service as disputes
from marketplace.disputes.schemas import DecisionIn, DisputeMessageIn
from marketplace.risk import AlertStatus
from marketplace.risk import service as risk
from marketplace.risk.schemas import AlertDecisionIn
from marketplace.support import service as support
from marketplace.support.schemas import ExtendWindowIn, LostIn, SupportCancelIn, SupportNoteIn
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.render import page
from marketplace.web.session import signed_in
from marketplace.workflows import support as actions

FOUND = 20
QUEUE = 25
STAFF = disputes.Party(0, Actor.ADMIN)
Failure = DomainError | msgspec.ValidationError
Query = Annotated[str, QueryParameter(max_length=200)]
PageNo = Annotated[int, QueryParameter(ge=1, le=10_000)]


def support_of(request: Request[Any, Any, Any]) -> CurrentUser:
    """The signed-in agent; anyone without the support or admin role gets a 403 and no data."""
    user = signed_in(request)
    if not (user.has("support") or user.has("admin")):
        raise Forbidden("The support desk is for customer-service staff only.")
    return user


def _status_of(exc: Exception) -> int:
    return getattr(exc, "status_code", 400)


def _with_reason(form: dict[str, str], **fields: Any) -> dict[str, Any]:
    """The form's fields for a body with a reason, blanks trimmed (a blank reason is then refused as missing)."""
    return {"reason": form.get("reason", "").strip(), **fields}


@get("/", name="support-desk")
async def desk(state: AppState, request: Request[Any, Any, Any], q: Query = "", page_no: PageNo = 1) -> Template:
    support_of(request)
    results = await support.search(state.db, q, page_no, FOUND)
    escalated = await disputes.queue(state.db, DisputeStatus.ESCALATED, 1, 1)
    waiting = await disputes.queue(state.db, None, 1, 1)
    return await page(
        request,
        "support_desk.html",
        title="Support desk",
        q=q,
        results=results,
        escalated=escalated.total,
        live=waiting.total,
    )


async def _order(
    state: AppState, request: Request[Any, Any, Any], order_id: int, status: int = 200, **shown: Any
) -> Template:
    settings = state.settings
    view = await support.order_view(state.db, order_id, settings.aftersales_window_days, settings.dispute_transit_days)
    context = {"error": None, "notice": None, "failed": None, "form": {}} | shown
    return await page(request, "support_order.html", status=status, title=f"Order #{order_id}", view=view, **context)


@get("/desk/orders/{order_id:int}", name="support-order")
async def order_page(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template:
    support_of(request)
    return await _order(state, request, order_id)


@post("/desk/orders/{order_id:int}/{action:str}", name="support-order-action")
async def order_action(
    state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int], action: FromPath[str]
) -> Template:
    agent = support_of(request)
    form = await form_of(request)
    settings = state.settings
    try:
        if action == "cancel":
            await actions.cancel_with_refund(
                state.db, agent.id, order_id, convert(_with_reason(form), SupportCancelIn).reason
            )
            notice = "The order is cancelled; what was paid is refunded."
        elif action == "lost":
            body = convert(_with_reason(form, remedy=form.get("remedy", "")), LostIn)
            await actions.mark_lost(state.db, agent.id, order_id, body.remedy, body.reason)
            notice = "Marked lost in transit: " + (
                "refunded." if body.remedy == "refund" else "the shop sends it again."
            )
        elif action == "window":
            body = convert(_with_reason(form, days=form.get("days", "")), ExtendWindowIn)
            window = settings.aftersales_window_days
            await support.extend_window(state.db, agent.id, order_id, body.days, body.reason, window)
            notice = f"The after-sales window is {body.days} days longer."
        elif action == "notes":
            note = convert({"body": form.get("body", "").strip()}, SupportNoteIn)
            await support.add_note(state.db, agent.id, order_id, note.body)
            notice = "Note added."
        else:
            raise msgspec.ValidationError("No such action.")
    except (DomainError, msgspec.ValidationError) as exc:
        return await _order(
            state, request, order_id, _status_of(exc), error=problem_text(exc), failed=action, form=dict(form)
        )
    return await _order(state, request, order_id, notice=notice)


@get("/desk/disputes", name="support-disputes")
async def queue_page(
    state: AppState,
    request: Request[Any, Any, Any],
    status: Annotated[str, QueryParameter(max_length=20)] = "",
    page_no: PageNo = 1,
) -> Template:
    support_of(request)
    wanted = DisputeStatus(status) if status in LIVE else None
    found = await disputes.queue(state.db, wanted, page_no, QUEUE)
    return await page(
        request,
        "support_disputes.html",
        title="Disputes",
        queue=found,
        showing=wanted.value if wanted else "",
        statuses=[s.value for s in LIVE],
    )


async def _dispute(
    state: AppState, request: Request[Any, Any, Any], dispute_id: int, status: int = 200, **shown: Any
) -> Template:
    dispute = await disputes.get(state.db, STAFF, dispute_id)
    context = {"error": None, "notice": None, "failed": None, "form": {}} | shown
    return await page(
        request, "support_dispute.html", status=status, title=f"Dispute #{dispute_id}", dispute=dispute, **context
    )


@get("/desk/disputes/{dispute_id:int}", name="support-dispute")
async def dispute_page(state: AppState, request: Request[Any, Any, Any], dispute_id: FromPath[int]) -> Template:
    support_of(request)
    return await _dispute(state, request, dispute_id)


@post("/desk/disputes/{dispute_id:int}/decide", name="support-decide")
async def decide(state: AppState, request: Request[Any, Any, Any], dispute_id: FromPath[int]) -> Template:
    agent = support_of(request)
    form = await form_of(request)
    try:
        amount = form.get("amount", "").strip()
        fields: dict[str, Any] = {"outcome": form.get("outcome", "")}
        if amount:
            fields["amount"] = _minor(amount, form.get("currency", "EUR"))
        body = convert(_with_reason(form, **fields), DecisionIn)
        decided = await actions.decide_dispute(state.db, agent.id, dispute_id, body)
    except (DomainError, msgspec.ValidationError) as exc:
        return await _dispute(state, request, dispute_id, _status_of(exc), error=problem_text(exc), form=dict(form))
    return await _dispute(state, request, dispute_id, notice=f"Decided: {decided.outcome}.")


@post("/desk/disputes/{dispute_id:int}/messages", name="support-dispute-message")
async def message(state: AppState, request: Request[Any, Any, Any], dispute_id: FromPath[int]) -> Template:
    agent = support_of(request)
    form = await form_of(request)
    try:
        body = convert({"body": form.get("body", "").strip()}, DisputeMessageIn)
        await disputes.post_message(state.db, disputes.Party(agent.id, Actor.ADMIN), dispute_id, body.body)
    except (DomainError, msgspec.ValidationError) as exc:
        return await _dispute(state, request, dispute_id, _status_of(exc), error=problem_text(exc), form=dict(form))
    return await _dispute(state, request, dispute_id, notice="Message sent to the buyer and the shop.")


def _minor(text: str, currency: str) -> int:
    try:
        return parse_money(text, currency)
    except ValueError as exc:
        raise msgspec.ValidationError(f"Check the amount: {exc}.") from None


# Risk alerts: what the anomaly rules raised, with their evidence, and support's decision on each.
ALERT_ACTIONS = {
    "acknowledge": AlertStatus.ACKNOWLEDGED,
    "confirm": AlertStatus.CONFIRMED,
    "dismiss": AlertStatus.DISMISSED,
}
ALERTS = 25


async def _alerts(
    state: AppState, request: Request[Any, Any, Any], status: str, cursor: int | None, code: int = 200, **shown: Any
) -> Template:
    wanted = AlertStatus(status) if status in set(AlertStatus) else None
    found = await risk.alerts(state.db, wanted, None, None, cursor, ALERTS)
    context = {"error": None, "notice": None, "failed": None, "form": {}} | shown
    return await page(
        request, "support_alerts.html", status=code, title="Risk alerts", alerts=found,
        showing=wanted.value if wanted else "", statuses=[s.value for s in AlertStatus], **context,
    )  # fmt: skip


@get("/desk/alerts", name="support-alerts")
async def alerts_page(
    state: AppState,
    request: Request[Any, Any, Any],
    status: Annotated[str, QueryParameter(max_length=20)] = "open",
    cursor: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> Template:
    support_of(request)
    return await _alerts(state, request, status, cursor)


@post("/desk/alerts/{alert_id:int}/{action:str}", name="support-alert-decide")
async def alert_decide(
    state: AppState, request: Request[Any, Any, Any], alert_id: FromPath[int], action: FromPath[str]
) -> Template:
    agent = support_of(request)
    form = await form_of(request)
    try:
        if action not in ALERT_ACTIONS:
            raise msgspec.ValidationError(f"Unknown decision {action!r}.")
        body = convert(_with_reason(form), AlertDecisionIn)
        decided = await risk.decide(state.db, agent.id, alert_id, ALERT_ACTIONS[action], body.reason)
    except (DomainError, msgspec.ValidationError) as exc:
        failed = {"error": problem_text(exc), "failed": f"alert-{alert_id}", "form": dict(form)}
        return await _alerts(state, request, form.get("showing", ""), None, _status_of(exc), **failed)
    notice = f"Alert #{alert_id} is {decided.status}" + (
        " and its payouts are released." if action == "dismiss" else "."
    )
    return await _alerts(state, request, form.get("showing", ""), None, notice=notice)


ROUTES = [desk, order_page, order_action, queue_page, dispute_page, decide, message, alerts_page, alert_decide]

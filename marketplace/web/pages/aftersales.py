"""After a delivery: returns, exchanges and refund-only requests with their message threads
(aftersales.service, as the buyer), and reviews of what was delivered (reviews.service)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from marketplace.aftersales import Kind
from marketplace.aftersales import service as aftersales
from marketplace.aftersales.schemas import MessageIn, RequestIn, ShipmentIn
from marketplace.aftersales.service import Party
from marketplace.core import topics
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError, NotFound
from marketplace.core.states import Actor
from marketplace.orders import read
from marketplace.reviews import service as reviews
from marketplace.reviews.schemas import ReviewIn
from marketplace.search.schemas import PublicSku
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.pages.orders import order_page_with, shop_names
from marketplace.web.pages.shop import product_page_of
from marketplace.web.render import page
from marketplace.web.session import signed_in

PAGE = 20
KINDS = [
    (Kind.RETURN, "Return it for a refund", "Send the item back; you are refunded what you paid for it."),
    (Kind.EXCHANGE, "Exchange it", "Send it back and get another option of the same product."),
    (Kind.REFUND_ONLY, "Refund without a return", "For an item that arrived damaged or never arrived."),
]


def _party(request: Request[Any, Any, Any]) -> Party:
    return Party(signed_in(request).id, Actor.BUYER)


async def _variants(state: AppState, product_ids: set[int]) -> dict[int, list[PublicSku]]:
    """Each product's options, for an exchange (a product no longer listed offers none)."""
    found: dict[int, list[PublicSku]] = {}
    for product_id in product_ids:
        try:
            found[product_id] = (await product_page_of(state, product_id)).skus
        except NotFound:
            found[product_id] = []
    return found


async def _claim_form(
    state: AppState, request: Request[Any, Any, Any], order_id: int, status: int = 200, **shown: Any
) -> Template:
    user = signed_in(request)
    detail = await read.order_for(state.db, order_id, buyer_id=user.id)
    variants = await _variants(state, {line.product_id for line in detail.order.lines})
    context = {"error": None, "kind": "return", "reason": "", "message": ""} | shown
    return await page(
        request,
        "claim.html",
        status=status,
        order=detail.order,
        kinds=KINDS,
        variants=variants,
        window_days=state.settings.aftersales_window_days,
        title=f"Return or refund: order #{order_id}",
        **context,
    )


@get("/shop/orders/{order_id:int}/returns/new", name="claim")
async def claim_page(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template:
    return await _claim_form(state, request, order_id)


@post("/shop/orders/{order_id:int}/returns", name="claim-open")
async def open_claim(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template | Redirect:
    user = signed_in(request)
    form = await form_of(request)
    shown = {k: form.get(k, "") for k in ("kind", "reason", "message")}
    lines = []
    for key, value in form.items():
        if key.startswith("qty-") and value.strip() not in ("", "0"):
            line_id = key.removeprefix("qty-")
            replacement = form.get(f"replacement-{line_id}") or None
            lines.append({"order_line_id": line_id, "quantity": value.strip(), "replacement_sku_id": replacement})
    if not lines:
        return await _claim_form(state, request, order_id, 400, error="Choose how many of which item.", **shown)
    try:
        body = convert(
            {"kind": shown["kind"], "reason": shown["reason"].strip(), "lines": lines,
             "message": shown["message"].strip() or None},
            RequestIn,
        )  # fmt: skip
        opened = await aftersales.open_request(state.db, user.id, order_id, body, state.settings.aftersales_window_days)
    except (DomainError, msgspec.ValidationError) as exc:
        status = getattr(exc, "status_code", 400)
        return await _claim_form(state, request, order_id, status, error=problem_text(exc), **shown)
    return Redirect(f"/shop/returns/{opened.id}", status_code=303)


@get("/shop/returns", name="claims")
async def claims_page(
    state: AppState, request: Request[Any, Any, Any], before: Annotated[int | None, QueryParameter(ge=1)] = None
) -> Template:
    claims = await aftersales.listing(state.db, _party(request), None, before, PAGE)
    names = await shop_names(state, {c.vendor_id for c in claims.items})
    return await page(
        request, "claims.html", claims=claims.items, names=names, older=claims.next_cursor, title="Returns and refunds"
    )


async def _claim_context(state: AppState, request: Request[Any, Any, Any], request_id: int) -> dict[str, Any]:
    me = signed_in(request).id
    claim = await aftersales.get(state.db, _party(request), request_id)
    names = await shop_names(state, {claim.vendor_id})
    currency = (await read.order_for(state.db, claim.order_id, buyer_id=me)).order.currency
    return {"claim": claim, "shop": names[claim.vendor_id], "me": me, "currency": currency}


@get("/shop/returns/{request_id:int}", name="claim-page")
async def claim_detail(state: AppState, request: Request[Any, Any, Any], request_id: FromPath[int]) -> Template:
    context = await _claim_context(state, request, request_id)
    user = signed_in(request)
    return await page(
        request,
        "claim_detail.html",
        topics=[topics.user_orders(user.id)],
        error=None,
        title=f"Request #{request_id}",
        **context,
    )


@get("/shop/returns/{request_id:int}/live", name="claim-live")
async def claim_panel(state: AppState, request: Request[Any, Any, Any], request_id: FromPath[int]) -> Template:
    return await page(request, "_claim.html", **await _claim_context(state, request, request_id))


@post("/shop/returns/{request_id:int}/{action:str}", name="claim-act")
async def claim_act(
    state: AppState, request: Request[Any, Any, Any], request_id: FromPath[int], action: FromPath[str]
) -> Template | Redirect:
    """Write in the thread, say the goods were sent back, or withdraw the request."""
    party, form = _party(request), await form_of(request)
    try:
        if action == "messages":
            body = convert({"body": form.get("body", "").strip()}, MessageIn).body
            await aftersales.post_message(state.db, party, request_id, body)
        elif action == "return-shipped":
            sent = {key: form.get(key, "").strip() for key in ("carrier", "tracking_number")}
            shipment = convert(sent, ShipmentIn)
            carrier, tracking = shipment.carrier, shipment.tracking_number
            await aftersales.act(state.db, party, request_id, "return_shipped", carrier=carrier, tracking=tracking)
        elif action == "withdraw":
            await aftersales.act(state.db, party, request_id, "withdraw")
        else:
            raise NotFound("there is no such action")
    except (DomainError, msgspec.ValidationError) as exc:
        context = await _claim_context(state, request, request_id)
        status = getattr(exc, "status_code", 400)
        return await page(request, "claim_detail.html", status=status, error=problem_text(exc), **context)
    return Redirect(f"/shop/returns/{request_id}", status_code=303)


@post("/shop/orders/{order_id:int}/reviews", name="review")
async def write_review(
    state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]
) -> Template | Redirect:
    user = signed_in(request)
    form = await form_of(request)
    try:
        product_id = int(form.get("product_id", "0"))
        body = convert({"rating": form.get("rating", ""), "body": form.get("body", "").strip()}, ReviewIn)
        await reviews.write(state.db, user.id, product_id, body)
    except (DomainError, msgspec.ValidationError, ValueError) as exc:
        return await order_page_with(state, request, order_id, getattr(exc, "status_code", 400), problem_text(exc))
    return Redirect(f"/shop/products/{product_id}#reviews", status_code=303)


ROUTES = [claim_page, open_claim, claims_page, claim_detail, claim_panel, claim_act, write_review]

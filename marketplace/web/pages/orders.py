"""A buyer's orders: the list and each order's page, whose status, tracking and history follow the buyer's
`user:<id>:orders` feed without a reload (the page's script asks for the fresh panel when an event about
this order arrives). Cancelling and confirming receipt go through orders' one transition function."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from marketplace.core import topics
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError, NotFound
from marketplace.core.states import Actor
from marketplace.logistics import service as logistics
from marketplace.orders import OrderStatus, read
from marketplace.orders.actions import ORDER_MOVES
from marketplace.orders.read import OrderDetail
from marketplace.orders.schemas import CancelIn
from marketplace.vendors import service as vendors
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.render import page
from marketplace.web.session import signed_in
from marketplace.workflows.order_moves import transition

PAGE = 20
# The progress bar's steps: the way through the state machine (for cash on delivery, from confirmed).
STEPS = {
    False: ORDER_MOVES.path(OrderStatus.PENDING_PAYMENT, OrderStatus.COMPLETED),
    True: ORDER_MOVES.path(OrderStatus.CONFIRMED, OrderStatus.COMPLETED),
}


def may_buyer(status: str, target: OrderStatus) -> bool:
    """Whether the transition table lets the buyer move an order from `status` to `target` (no rule of ours)."""
    return ORDER_MOVES.allows(OrderStatus(status), target, Actor.BUYER)


async def shop_names(state: AppState, vendor_ids: set[int]) -> dict[int, str]:
    names = {}
    for vendor_id in vendor_ids:
        try:
            names[vendor_id] = (await vendors.public_vendor(state.db, vendor_id)).shop_name
        except NotFound:  # suspended since: the order stays readable
            names[vendor_id] = "a shop no longer trading"
    return names


def _order_context(detail: OrderDetail, shop: str) -> dict[str, Any]:
    order = detail.order
    steps = STEPS[order.cash_on_delivery]
    reached = steps.index(order.status) if order.status in steps else -1
    return {
        "order": order,
        "history": detail.history,
        "shop": shop,
        "steps": steps,
        "reached": reached,
        "can_cancel": may_buyer(order.status, OrderStatus.CANCELLED),
        "can_confirm": may_buyer(order.status, OrderStatus.COMPLETED),
        "can_claim": order.status in ("delivered", "completed"),
    }


@get("/shop/orders", name="orders")
async def orders_page(
    state: AppState,
    request: Request[Any, Any, Any],
    before: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> Template:
    user = signed_in(request)
    listed = await read.buyer_orders(state.db, user.id, None, before, PAGE)
    orders = listed.items
    names = await shop_names(state, {o.vendor_id for o in orders})
    return await page(
        request,
        "orders.html",
        orders=orders,
        names=names,
        older=listed.next_cursor,
        topics=[topics.user_orders(user.id)],
        title="Your orders",
    )


@get("/shop/orders/list", name="orders-live")
async def orders_fragment(state: AppState, request: Request[Any, Any, Any]) -> Template:
    """The first page of the list alone, for the live refresh."""
    user = signed_in(request)
    orders = (await read.buyer_orders(state.db, user.id, None, None, PAGE)).items
    names = await shop_names(state, {o.vendor_id for o in orders})
    return await page(request, "_orders.html", orders=orders, names=names)


async def _detail(state: AppState, request: Request[Any, Any, Any], order_id: int) -> dict[str, Any]:
    user = signed_in(request)
    detail = await read.order_for(state.db, order_id, buyer_id=user.id)
    names = await shop_names(state, {detail.order.vendor_id})
    return _order_context(detail, names[detail.order.vendor_id])


async def order_page_with(
    state: AppState, request: Request[Any, Any, Any], order_id: int, status: int = 200, error: str | None = None
) -> Template:
    """The order's page, with what went wrong when a form on it was refused."""
    user = signed_in(request)
    context = await _detail(state, request, order_id)
    products = {line.product_id: line.title for line in context["order"].lines}
    return await page(
        request,
        "order.html",
        status=status,
        topics=[topics.user_orders(user.id)],
        title=f"Order #{order_id}",
        error=error,
        products=products,
        tracking=await logistics.tracking_of(state.db, order_id, buyer_id=user.id),
        **context,
    )


@get("/shop/orders/{order_id:int}", name="order")
async def order_page(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template:
    return await order_page_with(state, request, order_id)


@get("/shop/orders/{order_id:int}/live", name="order-live")
async def order_panel(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template:
    """The order's status panel alone: what the page's script swaps in when the feed says the order moved."""
    return await page(request, "_order_status.html", **await _detail(state, request, order_id))


@get("/shop/orders/{order_id:int}/tracking", name="order-tracking")
async def order_tracking(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template:
    """The parcel's tracking timeline alone: what the page's script swaps in when a carrier event arrives."""
    tracking = await logistics.tracking_of(state.db, order_id, buyer_id=signed_in(request).id)
    return await page(request, "_order_tracking.html", tracking=tracking)


@post("/shop/orders/{order_id:int}/confirm-receipt", name="order-confirm")
async def confirm_receipt(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Redirect:
    user = signed_in(request)
    await transition(state.db, order_id, OrderStatus.COMPLETED, actor_id=user.id, buyer_id=user.id)
    return Redirect(f"/shop/orders/{order_id}", status_code=303)


@post("/shop/orders/{order_id:int}/cancel", name="order-cancel")
async def cancel(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template | Redirect:
    user = signed_in(request)
    form = await form_of(request)
    try:
        reason = convert({"reason": form.get("reason", "").strip()}, CancelIn).reason
        await transition(state.db, order_id, OrderStatus.CANCELLED, actor_id=user.id, buyer_id=user.id, reason=reason)
    except (DomainError, msgspec.ValidationError) as exc:
        status = getattr(exc, "status_code", 400)
        error = "Say in a few words why you are cancelling." if not isinstance(exc, DomainError) else problem_text(exc)
        return await order_page_with(state, request, order_id, status, error)
    return Redirect(f"/shop/orders/{order_id}", status_code=303)


ROUTES = [orders_page, orders_fragment, order_page, order_panel, order_tracking, confirm_receipt, cancel]

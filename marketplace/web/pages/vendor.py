"""The vendor console's first pages: the live order board and the stock page. Only an active vendor (the API's
rule, `CurrentUser.active_vendor_id`) sees them; anyone else signed in gets 403 and no data. The board follows
the shop's `vendor:<id>:orders` feed (its region asks for fresh HTML on `order.` events) and its actions call
orders' one transition function exactly as the API's VendorOrderController does; the stock page shows
`inventory.service.stock_levels`, sets on hand through `inventory.service.adjust`, and follows
`vendor:<id>:stock` for low-stock alerts."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from marketplace.core import topics
from marketplace.core.auth import CurrentUser
from marketplace.core.deps import AppState
from marketplace.core.errors import Forbidden
from marketplace.inventory import service as inventory
from marketplace.inventory.schemas import StockAdjustment
from marketplace.orders import OrderStatus, read
from marketplace.orders.actions import Shipment
from marketplace.orders.read import OrderOut
from marketplace.orders.schemas import CancelIn, ShipIn
from marketplace.web.forms import convert, form_of
from marketplace.web.render import page
from marketplace.web.session import signed_in
from marketplace.workflows.order_moves import transition

BOARD = "/vendor"
STOCK = "/vendor/console/stock"
RECENT = 100  # orders on the board
SKUS = 500  # SKUs on the stock page
COLUMNS = [  # (heading, statuses)
    ("To accept", ("paid", "confirmed")),
    ("Accepted", ("accepted",)),
    ("Shipped", ("shipped",)),
    ("Delivered", ("delivered", "completed")),
]


def vendor_of(request: Request[Any, Any, Any]) -> tuple[CurrentUser, int]:
    """The caller and the shop it may act for; a visitor is sent to sign in, anyone else is refused."""
    user = signed_in(request)
    vendor_id = user.active_vendor_id
    if vendor_id is None:
        raise Forbidden("only an active vendor can open the vendor console")
    return user, vendor_id


async def _board(state: AppState, vendor_id: int) -> dict[str, Any]:
    orders = (await read.vendor_orders(state.db, vendor_id, None, None, None, None, RECENT)).items
    columns: list[tuple[str, list[OrderOut]]] = [
        (heading, [o for o in orders if o.status in statuses]) for heading, statuses in COLUMNS
    ]
    accepted = [o.id for o in orders if o.status == OrderStatus.ACCEPTED]
    return {"columns": columns, "ship_to": await read.ship_to_accepted(state.db, vendor_id, accepted)}


@get(BOARD, name="vendor-board")
async def board_page(state: AppState, request: Request[Any, Any, Any]) -> Template:
    _, vendor_id = vendor_of(request)
    return await page(
        request,
        "vendor_board.html",
        topics=[topics.vendor_orders(vendor_id)],
        title="Order board",
        **await _board(state, vendor_id),
    )


@get("/vendor/console/board", name="vendor-board-live")
async def board_fragment(state: AppState, request: Request[Any, Any, Any]) -> Template:
    """The board's columns alone: what the page fetches when the feed says an order arrived or moved."""
    _, vendor_id = vendor_of(request)
    return await page(request, "_vendor_board.html", **await _board(state, vendor_id))


async def _moved(state: AppState, request: Request[Any, Any, Any], vendor_id: int) -> Template | Redirect:
    if request.headers.get("hx-request") == "true":
        return await page(request, "_vendor_board.html", **await _board(state, vendor_id))
    return Redirect(BOARD, status_code=303)


@post("/vendor/console/orders/{order_id:int}/accept", name="vendor-accept")
async def accept(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    await transition(state.db, order_id, OrderStatus.ACCEPTED, actor_id=user.id, vendor_id=vendor_id)
    return await _moved(state, request, vendor_id)


@post("/vendor/console/orders/{order_id:int}/ship", name="vendor-ship")
async def ship(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    form = await form_of(request)
    data = convert(
        {"carrier": form.get("carrier", "").strip(), "tracking_number": form.get("tracking_number", "").strip()},
        ShipIn,
    )
    shipment = Shipment(data.carrier, data.tracking_number, data.estimated_arrival)
    await transition(state.db, order_id, OrderStatus.SHIPPED, actor_id=user.id, vendor_id=vendor_id, shipment=shipment)
    return await _moved(state, request, vendor_id)


@post("/vendor/console/orders/{order_id:int}/reject", name="vendor-reject")
async def reject(state: AppState, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    form = await form_of(request)
    reason = convert({"reason": form.get("reason", "").strip()}, CancelIn).reason
    await transition(state.db, order_id, OrderStatus.CANCELLED, actor_id=user.id, vendor_id=vendor_id, reason=reason)
    return await _moved(state, request, vendor_id)


async def _stock(state: AppState, vendor_id: int) -> dict[str, Any]:
    return {"levels": (await inventory.stock_levels(state.db, vendor_id, False, None, SKUS)).items}


@get(STOCK, name="vendor-stock")
async def stock_page(state: AppState, request: Request[Any, Any, Any]) -> Template:
    _, vendor_id = vendor_of(request)
    return await page(
        request,
        "vendor_stock.html",
        topics=[topics.vendor_stock(vendor_id)],
        title="Stock",
        **await _stock(state, vendor_id),
    )


@get(f"{STOCK}/list", name="vendor-stock-live")
async def stock_fragment(state: AppState, request: Request[Any, Any, Any]) -> Template:
    _, vendor_id = vendor_of(request)
    return await page(request, "_vendor_stock.html", **await _stock(state, vendor_id))


@post(f"{STOCK}/{{sku_id:int}}", name="vendor-stock-set")
async def set_on_hand(state: AppState, request: Request[Any, Any, Any], sku_id: FromPath[int]) -> Redirect:
    user, vendor_id = vendor_of(request)
    form = await form_of(request)
    body = convert({"set": form.get("on_hand", "").strip(), "reason": "set in the vendor console"}, StockAdjustment)
    await inventory.adjust(state.db, vendor_id, user.id, sku_id, body)
    return Redirect(STOCK, status_code=303)


ROUTES = [board_page, board_fragment, accept, ship, reject, stock_page, stock_fragment, set_on_hand]

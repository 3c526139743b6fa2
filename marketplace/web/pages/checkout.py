"""The cart, checkout and paying: cart.service, orders' place_checkout (through the same idempotency keys as
POST /checkouts, one per checkout form, so a double submit places one checkout), payments.service, and the
sandbox gateway's approve/decline page (mounted with SANDBOX_GATEWAY only, as its API routes are)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Response, Template

from marketplace.accounts import service as accounts
from marketplace.cart import service as cart
from marketplace.cart.schemas import QuantityIn
from marketplace.core import topics
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError, Unprocessable
from marketplace.core.idempotency import run_once
from marketplace.interactions import Kind
from marketplace.orders import read
from marketplace.orders.place_checkout import place_checkout
from marketplace.orders.schemas import CheckoutIn, CheckoutOut
from marketplace.payments import PaymentMethod
from marketplace.payments import service as payments
from marketplace.payments.schemas import PaymentIn, PaymentStarted
from marketplace.promotions import service as promotions
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.pages.account import local
from marketplace.web.render import page
from marketplace.web.session import signed_in

_CHECKOUT = msgspec.json.Decoder(CheckoutOut)
_STARTED = msgspec.json.Decoder(PaymentStarted)


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


async def _cart_page(state: AppState, request: Request[Any, Any, Any], status: int = 200, **context: Any) -> Template:
    user = signed_in(request)
    basket = await cart.get_cart(state.db, user.id)
    groups: dict[str, list[Any]] = {}
    for line in basket.lines:
        groups.setdefault(line.vendor_name, []).append(line)
    return await page(request, "cart.html", status=status, cart=basket, groups=groups, title="Your cart", **context)


@get("/shop/cart", name="cart")
async def cart_page(state: AppState, request: Request[Any, Any, Any]) -> Template:
    return await _cart_page(state, request)


@post("/shop/cart/items", name="cart-add")
async def add_to_cart(state: AppState, request: Request[Any, Any, Any]) -> Template | Redirect:
    """Adds the quantity chosen on a product page to what the cart already holds of that option."""
    user = signed_in(request)
    form = await form_of(request)
    try:
        sku_id = int(form.get("sku_id", ""))
        wanted = int(form.get("quantity", "1") or 1)
    except ValueError:
        raise Unprocessable("choose an option first") from None
    held = next((line.quantity for line in (await cart.get_cart(state.db, user.id)).lines if line.sku_id == sku_id), 0)
    quantity = convert({"quantity": held + wanted}, QuantityIn).quantity
    basket, product_id = await cart.set_quantity(state.db, user.id, sku_id, quantity)
    state.recorder.record(Kind.CART, user_id=user.id, product_id=product_id, quantity=quantity)
    if not _is_htmx(request):
        return Redirect("/shop/cart", status_code=303)
    notice = f"Added to your cart ({held + wanted} of this option in it now)."
    return await page(request, "_added.html", notice=notice, cart_count=basket.item_count)


@post("/shop/cart/items/{sku_id:int}", name="cart-set")
async def set_quantity(state: AppState, request: Request[Any, Any, Any], sku_id: FromPath[int]) -> Template | Redirect:
    user = signed_in(request)
    form = await form_of(request)
    try:
        if form.get("remove") or form.get("quantity") == "0":
            await cart.remove(state.db, user.id, sku_id)
        else:
            quantity = convert({"quantity": form.get("quantity", "")}, QuantityIn).quantity
            _, product_id = await cart.set_quantity(state.db, user.id, sku_id, quantity)
            state.recorder.record(Kind.CART, user_id=user.id, product_id=product_id, quantity=quantity)
    except (DomainError, msgspec.ValidationError) as exc:
        return await _cart_page(state, request, status=getattr(exc, "status_code", 400), error=problem_text(exc))
    return Redirect("/shop/cart", status_code=303)


async def _checkout_page(state: AppState, request: Request[Any, Any, Any], status: int = 200, **shown: Any) -> Template:
    user = signed_in(request)
    basket = await cart.get_cart(state.db, user.id)
    addresses = await accounts.list_addresses(state.db, user.id)
    wallet = [c for c in await promotions.wallet(state.db, user.id) if c.usable]
    loyalty = await promotions.loyalty(state.db, user.id, None, 1)
    context = {"coupon_code": "", "points": "", "address_id": None, "error": None} | shown
    return await page(
        request,
        "checkout.html",
        status=status,
        cart=basket,
        addresses=addresses,
        wallet=wallet,
        loyalty=loyalty,
        idempotency_key=uuid.uuid4().hex,
        title="Checkout",
        **context,
    )


@get("/shop/checkout", name="checkout")
async def checkout_page(state: AppState, request: Request[Any, Any, Any]) -> Template:
    return await _checkout_page(state, request)


@post("/shop/checkout", name="checkout-place")
async def place(state: AppState, request: Request[Any, Any, Any]) -> Template | Redirect:
    user = signed_in(request)
    form = await form_of(request)
    shown = {"coupon_code": form.get("coupon_code", ""), "points": form.get("points", "")}
    try:
        data = convert(
            {
                "address_id": form.get("address_id") or 0,
                "coupon_code": form.get("coupon_code", "").strip() or None,
                "points": form.get("points", "").strip() or 0,
            },
            CheckoutIn,
        )
    except msgspec.ValidationError as exc:
        text = "Choose a delivery address." if "address_id" in str(exc) else problem_text(exc)
        return await _checkout_page(state, request, status=400, error=text, **shown)
    shown["address_id"] = data.address_id

    async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
        minutes = state.settings.checkout_payment_minutes
        placed = await place_checkout(conn, user.id, data.address_id, minutes, data.coupon_code, data.points)
        return 201, msgspec.json.encode(placed)

    key = form.get("idempotency_key") or None
    try:
        response = await run_once(state.db, user.id, "POST /checkouts", key, msgspec.json.encode(data), work)
    except DomainError as exc:
        return await _checkout_page(state, request, status=exc.status_code, error=problem_text(exc), **shown)
    placed = _CHECKOUT.decode(response.content)
    return Redirect(f"/shop/checkouts/{placed.id}", status_code=303)


@get("/shop/checkouts/{checkout_id:int}", name="checkout-pay")
async def pay_page(state: AppState, request: Request[Any, Any, Any], checkout_id: FromPath[int]) -> Template:
    return await _pay_page(state, request, checkout_id)


async def _pay_page(
    state: AppState, request: Request[Any, Any, Any], checkout_id: int, status: int = 200, error: str | None = None
) -> Template:
    user = signed_in(request)
    placed = await read.buyer_checkout(state.db, user.id, checkout_id)
    paid = await payments.payments_of(state.db, user.id, checkout_id)
    live = next((p for p in paid if p.status not in ("failed", "refunded")), None)
    return await page(
        request,
        "pay.html",
        status=status,
        checkout=placed,
        payments=paid,
        payment=live,
        iban=payments.PLATFORM_IBAN,
        transfer_days=payments.TRANSFER_DAYS,
        cash_limit=state.settings.cash_on_delivery_limit,
        idempotency_key=uuid.uuid4().hex,
        error=error,
        topics=[topics.user_orders(user.id)],
        title="Pay for your order",
    )


@post("/shop/checkouts/{checkout_id:int}/pay", name="checkout-pay-submit")
async def pay(state: AppState, request: Request[Any, Any, Any], checkout_id: FromPath[int]) -> Template | Redirect:
    user = signed_in(request)
    form = await form_of(request)
    try:
        data = convert({"method": form.get("method", "")}, PaymentIn)
    except msgspec.ValidationError:
        return await _pay_page(state, request, checkout_id, 400, "Choose how you want to pay.")
    if data.method == PaymentMethod.SANDBOX and not state.settings.sandbox_gateway:
        return await _pay_page(state, request, checkout_id, 422, "Card payments are not offered here.")

    async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
        started = await payments.start_payment(
            conn, state.gateway, user.id, checkout_id, data.method, state.settings.cash_on_delivery_limit
        )
        return 201, msgspec.json.encode(started)

    route, key = f"POST /checkouts/{checkout_id}/payments", form.get("idempotency_key") or None
    try:
        response = await run_once(state.db, user.id, route, key, msgspec.json.encode(data), work)
    except DomainError as exc:
        return await _pay_page(state, request, checkout_id, exc.status_code, problem_text(exc))
    started = _STARTED.decode(response.content)
    if started.next_action.type == "redirect":
        back = f"/shop/checkouts/{checkout_id}"
        return Redirect(f"{started.next_action.url}?return={back}", status_code=303)
    return Redirect(f"/shop/checkouts/{checkout_id}", status_code=303)


# The sandbox gateway's page: in production this is the card gateway's own site.

Back = Annotated[str | None, QueryParameter(name="return", max_length=300)]


@get("/sandbox-gateway/{ref:str}", name="sandbox-gateway")
async def gateway_page(
    state: AppState, request: Request[Any, Any, Any], ref: FromPath[str], back: Back = None
) -> Template:
    amount, currency = await payments.sandbox_payment(state.db, ref)
    return await page(
        request, "gateway.html", ref=ref, amount=amount, currency=currency, back=local(back), title="Sandbox gateway"
    )


@post("/sandbox-gateway/{ref:str}", name="sandbox-gateway-answer")
async def gateway_answer(state: AppState, request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    approved = form.get("decision") == "approve"
    await payments.answer_sandbox(state.db, state.gateway, state.callbacks, ref, approved)
    return Redirect(local(form.get("return")), status_code=303)


ROUTES = [cart_page, add_to_cart, set_quantity, checkout_page, place, pay_page, pay]
SANDBOX_ROUTES = [gateway_page, gateway_answer]

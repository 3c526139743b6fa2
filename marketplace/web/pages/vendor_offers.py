"""The vendor console's offers: flash sales (a live sold counter, schedule, cancel) and coupons (list, create,
disable). Only an active vendor sees them (`vendor_of`); every form calls the service the JSON API's
VendorFlashSaleController and VendorCouponController call, with the same structs, and a refusal is shown in the
page with the form as it was sent (helpers shared with vendor_catalog.py)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from marketplace.catalog import service as catalog
from marketplace.core import topics
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError
from marketplace.core.money import DEFAULT_CURRENCY
from marketplace.flash_sales import service as flash_sales
from marketplace.flash_sales.schemas import FlashSaleIn
from marketplace.promotions import service as promotions
from marketplace.promotions.schemas import CouponIn
from marketplace.web.forms import basis_points, convert, form_of, problem_text
from marketplace.web.pages.vendor import vendor_of
from marketplace.web.pages.vendor_catalog import (
    COUPONS,
    PER_PAGE,
    PICKER,
    SALES,
    Failure,
    PageCursor,
    Sent,
    _instant,
    _minor,
    _optional,
    _status_of,
)
from marketplace.web.render import page

# Flash sales


async def _skus(state: AppState, vendor_id: int) -> list[dict[str, Any]]:
    """The shop's SKUs for a picker: product, code, options, list price and currency."""
    products = (await catalog.vendor_products(state.db, vendor_id, None, None, PICKER)).items
    return [
        {"id": s.id, "product": p, "sku": s, "options": ", ".join(f"{k}: {v}" for k, v in s.attributes.items())}
        for p in products
        for s in p.skus
    ]


async def _sales(
    state: AppState,
    request: Request[Any, Any, Any],
    vendor_id: int,
    cursor: int | None = None,
    status: int = 200,
    **shown: Any,
) -> Template:
    listed = await flash_sales.vendor_listing(state.db, vendor_id, cursor, PER_PAGE)
    running = sorted({s.product_id for s in listed.items if s.status in ("live", "scheduled", "sold_out")})
    context = {"error": None, "notice": None, "form": Sent()} | shown
    return await page(
        request,
        "vendor_flash_sales.html",
        status=status,
        topics=[topics.product_stock(p) for p in running],
        title="Flash sales",
        sales=listed.items,
        next_cursor=listed.next_cursor,
        skus=await _skus(state, vendor_id),
        **context,
    )


@get(SALES, name="vendor-flash-sales")
async def sales_page(state: AppState, request: Request[Any, Any, Any], cursor: PageCursor = None) -> Template:
    _, vendor_id = vendor_of(request)
    return await _sales(state, request, vendor_id, cursor)


@post(SALES, name="vendor-flash-sale-create")
async def create_sale(state: AppState, request: Request[Any, Any, Any]) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    form = await form_of(request)
    sku_id = form.get("sku_id") or 0
    currencies = {s["id"]: s["product"].currency for s in await _skus(state, vendor_id)}
    currency = currencies.get(int(sku_id) if str(sku_id).isdigit() else 0, DEFAULT_CURRENCY)
    try:
        body = convert(
            {
                "sku_id": sku_id,
                "sale_price": _minor(form.get("sale_price", ""), currency),
                "units": form.get("units", "").strip(),
                "starts_at": _instant(form.get("starts_at", "")),
                "ends_at": _instant(form.get("ends_at", "")),
                "per_buyer_limit": form.get("per_buyer_limit", "").strip() or 1,
            },
            FlashSaleIn,
        )
        sale = await flash_sales.create(state.db, state.gate, user.id, body, vendor_id)
    except Failure as exc:
        return await _sales(state, request, vendor_id, status=_status_of(exc), error=problem_text(exc), form=Sent(form))
    return Redirect(f"{SALES}#sale-{sale.id}", status_code=303)


@post(f"{SALES}/{{sale_id:int}}/cancel", name="vendor-flash-sale-cancel")
async def cancel_sale(state: AppState, request: Request[Any, Any, Any], sale_id: FromPath[int]) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    try:
        await flash_sales.cancel(state.db, state.gate, user.id, sale_id, vendor_id)
    except DomainError as exc:
        return await _sales(state, request, vendor_id, status=exc.status_code, error=problem_text(exc))
    return Redirect(SALES, status_code=303)


# Coupons


async def _coupons(
    state: AppState,
    request: Request[Any, Any, Any],
    vendor_id: int,
    cursor: int | None = None,
    status: int = 200,
    **shown: Any,
) -> Template:
    listed = await promotions.listing(state.db, vendor_id, cursor, PER_PAGE)
    products = (await catalog.vendor_products(state.db, vendor_id, None, None, PICKER)).items
    context = {"error": None, "form": Sent(), "chosen": []} | shown
    return await page(
        request,
        "vendor_coupons.html",
        status=status,
        title="Coupons",
        coupons=listed.items,
        next_cursor=listed.next_cursor,
        products=products,
        currency=DEFAULT_CURRENCY,
        **context,
    )


@get(COUPONS, name="vendor-coupons")
async def coupons_page(state: AppState, request: Request[Any, Any, Any], cursor: PageCursor = None) -> Template:
    _, vendor_id = vendor_of(request)
    return await _coupons(state, request, vendor_id, cursor)


def _percent_bp(text: str) -> int | str:
    """A percentage typed as people do ("15" or "12.5") in basis points, as the struct takes it."""
    try:
        return basis_points(text)
    except ValueError:
        return text


@post(COUPONS, name="vendor-coupon-create")
async def create_coupon(state: AppState, request: Request[Any, Any, Any]) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    form = await form_of(request)
    scope = form.get("scope", "vendor")
    chosen = form.all("product_ids")
    money = lambda name: _minor(form.get(name, "") or "0", DEFAULT_CURRENCY)  # noqa: E731
    try:
        body = convert(
            {
                "name": form.get("name", "").strip(),
                "kind": form.get("kind", ""),
                "audience": form.get("audience", ""),
                "code": _optional(form.get("code")),
                "scope": scope,
                "scope_ids": [vendor_id] if scope == "vendor" else chosen,
                "amount_off": money("amount_off"),
                "percent_bp": _percent_bp(form.get("percent", "")),
                "max_discount": money("max_discount") if _optional(form.get("max_discount")) else None,
                "min_spend": money("min_spend"),
                "buy_quantity": form.get("buy_quantity", "").strip() or 0,
                "free_quantity": form.get("free_quantity", "").strip() or 0,
                "min_tier": form.get("min_tier", "") or "member",
                "starts_at": _instant(form.get("starts_at", "")),
                "ends_at": _instant(form.get("ends_at", "")),
                "total_limit": _optional(form.get("total_limit")),
                "per_buyer_limit": form.get("per_buyer_limit", "").strip() or 1,
            },
            CouponIn,
        )
        coupon = await promotions.create(state.db, user.id, body, vendor_id)
    except Failure as exc:
        return await _coupons(
            state, request, vendor_id, status=_status_of(exc), error=problem_text(exc), form=Sent(form), chosen=chosen
        )
    return Redirect(f"{COUPONS}#coupon-{coupon.id}", status_code=303)


@post(f"{COUPONS}/{{coupon_id:int}}/disable", name="vendor-coupon-disable")
async def disable_coupon(
    state: AppState, request: Request[Any, Any, Any], coupon_id: FromPath[int]
) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    try:
        await promotions.disable(state.db, user.id, coupon_id, vendor_id)
    except DomainError as exc:
        return await _coupons(state, request, vendor_id, status=exc.status_code, error=problem_text(exc))
    return Redirect(f"{COUPONS}#coupon-{coupon_id}", status_code=303)


ROUTES = [sales_page, create_sale, cancel_sale, coupons_page, create_coupon, disable_coupon]

"""Points, tier and the coupon wallet (promotions.service): what the buyer holds and why a coupon cannot be used
now, and claiming a coupon by its code."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError
from marketplace.core.money import DEFAULT_CURRENCY
from marketplace.promotions import service as promotions
from marketplace.promotions.schemas import ClaimIn
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.render import page
from marketplace.web.session import signed_in

HISTORY = 20


async def _rewards(
    state: AppState, request: Request[Any, Any, Any], before: int | None = None, status: int = 200, **shown: Any
) -> Template:
    user = signed_in(request)
    loyalty = await promotions.loyalty(state.db, user.id, before, HISTORY + 1)
    history = loyalty.history[:HISTORY]
    older = history[-1].id if len(loyalty.history) > HISTORY else None
    wallet = await promotions.wallet(state.db, user.id)
    context = {"error": None, "notice": None, "code": ""} | shown
    return await page(
        request,
        "rewards.html",
        status=status,
        loyalty=loyalty,
        history=history,
        older=older,
        wallet=wallet,
        currency=DEFAULT_CURRENCY,
        title="Points and coupons",
        **context,
    )


@get("/shop/rewards", name="rewards")
async def rewards_page(
    state: AppState, request: Request[Any, Any, Any], before: Annotated[int | None, QueryParameter(ge=1)] = None
) -> Template:
    return await _rewards(state, request, before)


@post("/shop/rewards/claim", name="coupon-claim")
async def claim_coupon(state: AppState, request: Request[Any, Any, Any]) -> Template:
    user = signed_in(request)
    code = (await form_of(request)).get("code", "").strip()
    try:
        claimed = await promotions.claim(state.db, user.id, convert({"code": code}, ClaimIn).code)
    except (DomainError, msgspec.ValidationError) as exc:
        status = getattr(exc, "status_code", 400)
        return await _rewards(state, request, status=status, error=problem_text(exc), code=code)
    return await _rewards(state, request, notice=f"“{claimed.coupon.name}” is in your wallet.")


ROUTES = [rewards_page, claim_coupon]

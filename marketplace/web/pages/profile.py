"""The buyer's account: profile, address book and two-factor sign-in, through accounts.service (the two-factor
routes with the same rate limits as the API's)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from marketplace.accounts import service as accounts
from marketplace.accounts import sessions
from marketplace.accounts.schemas import AddressIn, AddressPatch, ProfileUpdate, TotpCodeIn
from marketplace.core.auth import token_family
from marketplace.core.deps import AppState, client_ip
from marketplace.core.errors import DomainError
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.pages.account import local
from marketplace.web.render import page
from marketplace.web.session import signed_in, visitor_of

Next = Annotated[str | None, QueryParameter(name="next", max_length=300)]
ADDRESS_FIELDS = ("recipient", "phone", "line1", "line2", "city", "region", "postal_code", "country")


async def _account(state: AppState, request: Request[Any, Any, Any], status: int = 200, **shown: Any) -> Template:
    user = signed_in(request)
    me = await accounts.get_user(state.db, user.id)
    family = token_family(visitor_of(request).token) if visitor_of(request).token else None
    live = await sessions.list_sessions(state.db, user.id, family)  # the security panel (account_security.py)
    context = {"error": None, "notice": None, "enrolment": None, "sessions": live} | shown
    return await page(request, "account.html", status=status, me=me, title="Your account", **context)


@get("/shop/account", name="account")
async def account_page(state: AppState, request: Request[Any, Any, Any]) -> Template:
    return await _account(state, request)


@post("/shop/account", name="account-profile")
async def update_profile(state: AppState, request: Request[Any, Any, Any]) -> Template:
    user = signed_in(request)
    form = await form_of(request)
    try:
        name = convert({"display_name": form.get("display_name", "").strip()}, ProfileUpdate).display_name
        await accounts.update_profile(state.db, user.id, name)  # type: ignore[arg-type]
    except (DomainError, msgspec.ValidationError) as exc:
        return await _account(state, request, status=getattr(exc, "status_code", 400), error=problem_text(exc))
    return await _account(state, request, notice="Your name is saved.")


@post("/shop/account/two-factor/start", name="totp-start")
async def totp_start(state: AppState, request: Request[Any, Any, Any]) -> Template:
    user = signed_in(request)
    try:
        enrolment = await accounts.enrol_totp(state.db, state.redis, state.settings, user.id, client_ip(request))
    except DomainError as exc:
        return await _account(state, request, status=exc.status_code, error=problem_text(exc))
    return await _account(state, request, enrolment=enrolment)


@post("/shop/account/two-factor/{action:str}", name="totp-confirm-or-disable")
async def totp_code(state: AppState, request: Request[Any, Any, Any], action: FromPath[str]) -> Template:
    user = signed_in(request)
    form = await form_of(request)
    change = {"confirm": accounts.confirm_totp, "disable": accounts.disable_totp}.get(action)
    if change is None:
        return await _account(state, request, status=404, error="There is no such two-factor action.")
    try:
        code = convert({"code": form.get("code", "").strip()}, TotpCodeIn).code
        await change(state.db, state.redis, state.settings, user.id, code, client_ip(request))
    except (DomainError, msgspec.ValidationError) as exc:
        return await _account(state, request, status=getattr(exc, "status_code", 400), error=problem_text(exc))
    notice = "Two-factor sign-in is on." if action == "confirm" else "Two-factor sign-in is off."
    return await _account(state, request, notice=notice)


async def _addresses(
    state: AppState, request: Request[Any, Any, Any], next_path: str | None, status: int = 200, **shown: Any
) -> Template:
    user = signed_in(request)
    book = await accounts.list_addresses(state.db, user.id)
    context = {"error": None, "form": {}} | shown
    return await page(
        request, "addresses.html", status=status, addresses=book, next=local(next_path) if next_path else "", **context
    )


@get("/shop/account/addresses", name="addresses")
async def addresses_page(state: AppState, request: Request[Any, Any, Any], next_path: Next = None) -> Template:
    return await _addresses(state, request, next_path)


@post("/shop/account/addresses", name="address-add")
async def add_address(state: AppState, request: Request[Any, Any, Any]) -> Template | Redirect:
    user = signed_in(request)
    form = await form_of(request)
    fields = {k: form.get(k, "").strip() for k in ADDRESS_FIELDS}
    fields["country"] = fields["country"].upper()
    try:
        body = convert({**fields, "is_default": bool(form.get("is_default"))}, AddressIn)
        await accounts.add_address(state.db, user.id, body)
    except (DomainError, msgspec.ValidationError) as exc:
        status = getattr(exc, "status_code", 400)
        return await _addresses(state, request, form.get("next"), status, error=problem_text(exc), form=fields)
    return Redirect(local(form.get("next")) if form.get("next") else "/shop/account/addresses", status_code=303)


@post("/shop/account/addresses/{address_id:int}", name="address-change")
async def change_address(
    state: AppState, request: Request[Any, Any, Any], address_id: FromPath[int]
) -> Template | Redirect:
    """Make an address the default, or delete it."""
    user = signed_in(request)
    form = await form_of(request)
    try:
        if form.get("delete"):
            await accounts.delete_address(state.db, user.id, address_id)
        else:
            await accounts.update_address(state.db, user.id, address_id, AddressPatch(is_default=True))
    except DomainError as exc:
        return await _addresses(state, request, None, exc.status_code, error=problem_text(exc))
    return Redirect("/shop/account/addresses", status_code=303)


ROUTES = [account_page, update_profile, totp_start, totp_code, addresses_page, add_address, change_address]

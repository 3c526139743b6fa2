"""Signing in and out, and registering: the same login as POST /auth/login (accounts.service, with its rate
limits and two-factor check), its tokens kept in the page session's cookies."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from marketplace.accounts import service as accounts
from marketplace.accounts import sessions
from marketplace.accounts.passwords import MIN_LENGTH
from marketplace.accounts.schemas import LoginIn, RegisterIn
from marketplace.core.auth import token_family
from marketplace.core.deps import AppState, client_ip
from marketplace.core.errors import DomainError, RetryLater, Unauthorized
from marketplace.web.forms import form_of, problem_text
from marketplace.web.render import page
from marketplace.web.session import REFRESH_COOKIE, sign_in, sign_out, visitor_of

Next = Annotated[str | None, QueryParameter(max_length=500)]


def local(path: str | None) -> str:
    """Where to go after signing in: a path on this site only (never `//elsewhere`)."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    return path


@get("/login", name="login")
async def login_form(
    request: Request[Any, Any, Any], next_path: Annotated[Next, QueryParameter(name="next")] = None
) -> Template | Redirect:
    if visitor_of(request).user is not None:
        return Redirect(local(next_path), status_code=303)
    return await page(request, "login.html", next=local(next_path), identifier="", totp=False, error=None)


@post("/login", name="login-submit")
async def login(state: AppState, request: Request[Any, Any, Any]) -> Template | Redirect:
    form = await form_of(request)
    identifier, password = form.get("identifier", "").strip(), form.get("password", "")
    code = form.get("totp_code", "").strip() or None
    target = local(form.get("next"))
    shown = {"next": target, "identifier": identifier, "totp": code is not None}
    try:
        body = msgspec.convert({"identifier": identifier, "password": password, "totp_code": code}, LoginIn)
    except msgspec.ValidationError:
        error = "Enter your email or phone number and your password."
        return await page(request, "login.html", status=400, error=error, **shown)
    try:
        pair = await accounts.login(state.db, state.redis, state.settings, body, client_ip(request))
    except Unauthorized as exc:
        if exc.extra.get("totp_required"):
            error = None if code is None else problem_text(exc)
            # The password goes back into its field so the code is all the buyer types now.
            return await page(
                request, "login.html", status=401, error=error, password=password, **shown | {"totp": True}
            )
        return await page(request, "login.html", status=401, error="Wrong email, phone or password.", **shown)
    except RetryLater as exc:
        error = f"Too many attempts. Wait {exc.retry_after} seconds, then try again."
        return await page(request, "login.html", status=exc.status_code, error=error, **shown)
    agent = request.headers.get("user-agent", "")
    await sessions.record_client(state.db, pair.refresh_token, agent, client_ip(request))  # for the sessions list
    sign_in(visitor_of(request), pair, state)
    return Redirect(target, status_code=303)


@post("/logout", name="logout")
async def logout(state: AppState, request: Request[Any, Any, Any]) -> Redirect:
    """Ends the login session everywhere (its refresh family, so its access tokens and open sockets too)."""
    visitor = visitor_of(request)
    if visitor.user is not None and visitor.token is not None:
        refresh = request.cookies.get(REFRESH_COOKIE)
        await accounts.logout(state.db, visitor.user.id, token_family(visitor.token), refresh)
    sign_out(visitor)
    return Redirect("/", status_code=303)


@get("/register", name="register")
async def register_form(
    request: Request[Any, Any, Any], next_path: Annotated[Next, QueryParameter(name="next")] = None
) -> Template | Redirect:
    if visitor_of(request).user is not None:
        return Redirect("/", status_code=303)
    shown = {"next": local(next_path), "email": "", "display_name": "", "min_password": MIN_LENGTH}
    return await page(request, "register.html", error=None, **shown)


@post("/register", name="register-submit")
async def register(state: AppState, request: Request[Any, Any, Any]) -> Template | Redirect:
    form = await form_of(request)
    email, name, password = (
        form.get("email", "").strip(),
        form.get("display_name", "").strip(),
        form.get("password", ""),
    )
    target = local(form.get("next"))
    shown = {"next": target, "email": email, "display_name": name, "min_password": MIN_LENGTH}
    try:
        body = msgspec.convert({"email": email or None, "password": password, "display_name": name}, RegisterIn)
        await accounts.register(state.db, state.redis, state.settings, body, client_ip(request))
        login = LoginIn(identifier=email, password=password)
        pair = await accounts.login(state.db, state.redis, state.settings, login, client_ip(request))
    except msgspec.ValidationError as exc:
        return await page(request, "register.html", status=400, error=problem_text(exc), **shown)
    except DomainError as exc:
        return await page(request, "register.html", status=exc.status_code, error=problem_text(exc), **shown)
    agent = request.headers.get("user-agent", "")
    await sessions.record_client(state.db, pair.refresh_token, agent, client_ip(request))  # for the sessions list
    sign_in(visitor_of(request), pair, state)
    return Redirect(target, status_code=303)


@get("/shop/session", name="session")
async def session(request: Request[Any, Any, Any]) -> Response[bytes]:
    """`{"signed_in": ...}`, renewing the access token cookie if it had expired: the live feed's script asks
    before it reconnects a socket that closed for an expired token or an ended session."""
    signed_in = visitor_of(request).user is not None
    return Response(b'{"signed_in": %s}' % (b"true" if signed_in else b"false"), media_type="application/json")


ROUTES = [login_form, login, logout, register_form, register, session]

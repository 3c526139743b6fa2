"""The account page's security panel: change the password, see and end sessions, change the email address, and
the page a mailed email-change link opens. Everything goes through `accounts.sessions` and
`accounts.email_change`, as the API's /me/password, /me/sessions and /me/email do; the page session is an
ordinary login session, so changing the password here keeps it and ends every other."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from marketplace.accounts import email_change, sessions
from marketplace.accounts.schemas import EmailChangeConfirmIn, EmailChangeIn, PasswordChangeIn
from marketplace.core.auth import token_family
from marketplace.core.deps import AppState, client_ip
from marketplace.core.errors import DomainError
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.pages.profile import _account as account_page_with
from marketplace.web.render import page
from marketplace.web.session import sign_out, signed_in, visitor_of

Token = Annotated[str | None, QueryParameter(max_length=200)]


def _session_of(request: Request[Any, Any, Any]) -> uuid.UUID | None:
    token = visitor_of(request).token
    return token_family(token) if token is not None else None


@post("/shop/account/password", name="account-password")
async def change_password(state: AppState, request: Request[Any, Any, Any]) -> Template:
    user = signed_in(request)
    form = await form_of(request)
    new = form.get("new_password", "")
    if new != form.get("new_password_again", new):
        return await account_page_with(state, request, status=400, error="The two new passwords differ.")
    try:
        body = convert({"current_password": form.get("current_password", ""), "new_password": new}, PasswordChangeIn)
        ended = await sessions.change_password(
            state.db, state.redis, state.settings, user.id, _session_of(request),
            body.current_password, body.new_password, client_ip(request),
        )  # fmt: skip
    except (DomainError, msgspec.ValidationError) as exc:
        status = getattr(exc, "status_code", 400)
        return await account_page_with(state, request, status=status, error=problem_text(exc))
    others = f" {ended} other session{'' if ended == 1 else 's'} signed out." if ended else ""
    return await account_page_with(state, request, notice=f"Your password is changed.{others}")


@post("/shop/account/sessions/{session_id:uuid}/end", name="account-session-end")
async def end_session(
    state: AppState, request: Request[Any, Any, Any], session_id: FromPath[uuid.UUID]
) -> Template | Redirect:
    user = signed_in(request)
    try:
        await sessions.end_session(state.db, user.id, session_id)
    except DomainError as exc:
        return await account_page_with(state, request, status=exc.status_code, error=problem_text(exc))
    if session_id == _session_of(request):  # this browser's own session: signed out here
        sign_out(visitor_of(request))
        return Redirect("/", status_code=303)
    return await account_page_with(state, request, notice="That session is signed out.")


@post("/shop/account/sessions/end-others", name="account-sessions-end-others")
async def end_other_sessions(state: AppState, request: Request[Any, Any, Any]) -> Template:
    user = signed_in(request)
    ended = await sessions.end_other_sessions(state.db, user.id, _session_of(request))
    notice = f"{ended} other session{'' if ended == 1 else 's'} signed out." if ended else "No other session was open."
    return await account_page_with(state, request, notice=notice)


@post("/shop/account/email", name="account-email")
async def request_email_change(state: AppState, request: Request[Any, Any, Any]) -> Template:
    user = signed_in(request)
    form = await form_of(request)
    try:
        body = convert({"new_email": form.get("new_email", "").strip(), "password": form.get("password", "")},
                       EmailChangeIn)  # fmt: skip
        await email_change.request_change(
            state.db, state.redis, state.settings, user.id, body.new_email, body.password, client_ip(request)
        )
    except (DomainError, msgspec.ValidationError) as exc:
        status = getattr(exc, "status_code", 400)
        return await account_page_with(state, request, status=status, error=problem_text(exc))
    notice = f"We sent a link to {body.new_email}. Your address changes when you open it."
    return await account_page_with(state, request, notice=notice)


@get("/shop/account/email/confirm", name="account-email-confirm")
async def confirm_form(request: Request[Any, Any, Any], token: Token = None) -> Template:
    """What the mailed link opens: a button, since mail scanners follow links and a link must not spend itself."""
    return await page(request, "email_confirm.html", token=token or "", done=False, error=None,
                      title="Confirm your email address")  # fmt: skip


@post("/shop/account/email/confirm", name="account-email-confirm-submit")
async def confirm(state: AppState, request: Request[Any, Any, Any]) -> Template:
    form = await form_of(request)
    token = form.get("token", "")
    try:
        body = convert({"token": token}, EmailChangeConfirmIn)
        await email_change.confirm_change(state.db, state.redis, state.settings, body.token, client_ip(request))
    except (DomainError, msgspec.ValidationError) as exc:
        status = getattr(exc, "status_code", 400)
        return await page(request, "email_confirm.html", status=status, token=token, done=False,
                          error=problem_text(exc), title="Confirm your email address")  # fmt: skip
    return await page(request, "email_confirm.html", token="", done=True, error=None, title="Email address changed")


ROUTES = [change_password, end_session, end_other_sessions, request_email_change, confirm_form, confirm]

"""`WebPlugin`: mounts the web layer on the app in one step (`plugins=[WebPlugin(settings)]` in app.py).

It adds one router holding every page, with what pages share and the JSON API does not: the cookie session
(session.py) instead of the bearer-token middleware (the router is excluded from it), the CSRF guard
(csrf.py), and error pages instead of problem documents. Static files are served under /static with a long
cache lifetime (their URLs carry a content hash). A later console (vendor, marketer, admin) adds its pages
to `PAGES` or mounts its own router with the same session, guard and error pages (`page_router`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, Router
from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException
from litestar.openapi.plugins import OpenAPIRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.plugins import InitPluginProtocol
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from marketplace.core.errors import DATABASE_DOWN, DomainError, RetryLater, Unauthorized
from marketplace.settings import Settings
from marketplace.web.csrf import csrf_guard
from marketplace.web.forms import problem_text
from marketplace.web.pages import PAGES, SANDBOX_PAGES, admin, admin_ops, marketing, support
from marketplace.web.render import STATIC, STATIC_PATH, error_page, static_url, template_config
from marketplace.web.session import session_middleware

log = logging.getLogger(__name__)
WEB_OPT = {"exclude_from_auth": True, "web_page": True}  # the bearer middleware skips pages


def _sign_in_first(request: Request[Any, Any, Any]) -> Response[Any]:
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"/login?next={quote(back)}" if request.method == "GET" else "/login"
    if request.headers.get("hx-request") == "true":
        return Response(b"", status_code=204, headers={"HX-Redirect": target, "Cache-Control": "no-store"})
    return Redirect(target, status_code=303)


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    if isinstance(exc, Unauthorized):
        return _sign_in_first(request)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryLater) else None
    return error_page(request, exc.status_code, problem_text(exc), headers)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code == 401:
        return _sign_in_first(request)
    message = "This page does not exist." if exc.status_code == 404 else problem_text(exc)
    if exc.status_code == 400:
        message = "This address has a value the page cannot use; go back and try again."
    return error_page(request, exc.status_code, message, exc.headers)


def _invalid_form(request: Request[Any, Any, Any], exc: msgspec.ValidationError) -> Response[Any]:
    return error_page(request, 400, problem_text(exc))


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("page %s unavailable: %s: %s", request.url.path, type(exc).__name__, exc)
    return error_page(request, 503, "The shop is briefly unavailable. Try again in a moment.", {"Retry-After": "2"})


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("page %s %s failed", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500, "Something went wrong on our side; it has been logged. Please try again.")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: _domain_error,
    HTTPException: _http_error,
    msgspec.ValidationError: _invalid_form,
    RedisConnectionError: _unavailable,
    RedisTimeoutError: _unavailable,
    **dict.fromkeys(DATABASE_DOWN, _unavailable),
    Exception: _unexpected,
}


def page_router(path: str, handlers: Sequence[ControllerRouterHandler]) -> Router:
    """A router of pages: cookie session, CSRF guard on unsafe methods, error pages, no OpenAPI entries."""
    return Router(
        path=path,
        route_handlers=list(handlers),
        middleware=[session_middleware],
        guards=[csrf_guard],
        exception_handlers=EXCEPTION_HANDLERS,
        opt=WEB_OPT,
        include_in_schema=False,
    )


class WebPlugin(InitPluginProtocol):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        pages = [*PAGES, *(SANDBOX_PAGES if self.settings.sandbox_gateway else [])]
        static = create_static_files_router(
            path=STATIC_PATH,
            directories=[STATIC],
            cache_control=CacheControlHeader(max_age=86_400 * 30, public=True),
            opt={"exclude_from_auth": True},
            include_in_schema=False,
        )
        admin_desk = page_router("/admin", [*admin.ROUTES, *admin_ops.ROUTES])  # pages/admin*.py, admins only
        marketing_console = page_router("/marketing", marketing.ROUTES)  # pages/marketing.py: marketers, admins
        support_desk = page_router("/support", support.ROUTES)  # pages/support.py: support staff, admins
        consoles = [admin_desk, marketing_console, support_desk]
        app_config.route_handlers = [*app_config.route_handlers, page_router("/", pages), *consoles, static]
        app_config.template_config = template_config()
        return app_config


def api_docs_plugins() -> list[OpenAPIRenderPlugin]:
    """The API documentation pages (/schema: Scalar, /schema/swagger: Swagger UI) with their scripts and styles
    served from this app (static/vendor/), so the docs work with no internet and no CDN in the CSP."""
    favicon = f"<link rel='icon' type='image/svg+xml' href='{static_url('img/favicon.svg')}'>"
    return [
        ScalarRenderPlugin(
            js_url=static_url("vendor/scalar/standalone.js"), css_url=static_url("css/docs.css"), favicon=favicon
        ),
        SwaggerRenderPlugin(
            path="/swagger",
            js_url=static_url("vendor/swagger-ui/swagger-ui-bundle.js"),
            css_url=static_url("vendor/swagger-ui/swagger-ui.css"),
            standalone_preset_js_url=static_url("vendor/swagger-ui/swagger-ui-standalone-preset.js"),
            favicon=favicon,
        ),
    ]

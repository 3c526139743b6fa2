"""Templates and what every page shares: the Jinja environment with its filters (money in each currency's
own decimals through `core.money`, dates), static file URLs that change with their content, and `page()`,
which renders a template with the visitor, its CSRF token and the page's live-feed topics."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from marketplace.cart import service as cart
from marketplace.core import topics as feed_topics
from marketplace.core.money import format_money
from marketplace.web.session import visitor_of

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PATH = "/static"
NO_STORE = {"Cache-Control": "no-store"}  # pages carry the visitor's session: never kept in a shared cache


@cache
def static_url(name: str) -> str:
    """`/static/<name>?v=<content hash>`: served with a long cache lifetime, fetched again when it changes."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PATH}/{name}?v={digest}"


def money(amount: int | None, currency: str | None) -> str:
    """Integer minor units as people read them: `money(16150, "EUR")` is "161.50 EUR"."""
    if amount is None or currency is None:
        return ""
    return format_money(amount, currency)


def when(value: datetime | date | None, with_time: bool = True) -> str:
    """A date, or a date and time in UTC (what the database stores), as people read them."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if not with_time:
            return value.strftime("%-d %b %Y")
        return (
            value.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")
            if value.tzinfo
            else value.strftime("%-d %b %Y, %H:%M")
        )
    return value.strftime("%-d %b %Y")


def label(value: str | None) -> str:
    """A status or kind as words: "return_shipped" → "Return shipped"."""
    return (value or "").replace("_", " ").capitalize()


def url_with(base: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters changed (None drops one); lists repeat their name."""
    merged = {**base, **changes}
    pairs: list[tuple[str, Any]] = []
    for key, value in merged.items():
        if value is None or value == "" or value is False:
            continue
        if isinstance(value, list | tuple):
            pairs += [(key, v) for v in value]
        else:
            pairs.append((key, value))
    return "?" + urlencode(pairs) if pairs else "?"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(money=money, when=when, label=label)
    env.globals.update(static=static_url, url_with=url_with)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def _shared(request: Request[Any, Any, Any], topics: list[str], title: str, notices: bool = True) -> dict[str, Any]:
    visitor = visitor_of(request)
    state = request.app.state
    is_htmx = request.headers.get("hx-request") == "true"
    if notices and visitor.user is not None and not is_htmx:
        # Every page of a signed-in visitor hears their own notices: an offer or a coupon arrives wherever they are.
        topics = [*topics, feed_topics.user(visitor.user.id)]
    return {
        "visitor": visitor,
        "user": visitor.user,
        "csrf": visitor.csrf,
        "feed_topics": " ".join(topics),
        "feed_last_id": (state.hub.last_id if topics else 0) or "",
        "title": title,
        "path": request.url.path,
        "is_htmx": is_htmx,
        "cart_count": 0,
        "sandbox_gateway": state.settings.sandbox_gateway,
    }


async def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status: int = 200,
    topics: Iterable[str] = (),
    title: str = "",
    **context: Any,
) -> Template:
    """A page (or an htmx fragment) for this visitor. `topics` are the live-feed topics the page's script
    subscribes to, resuming from the feed position at render time so nothing between render and connect is
    missed."""
    shared = _shared(request, list(topics), title)
    user = shared["user"]
    if user is not None and not shared["is_htmx"]:
        shared["cart_count"] = (await cart.get_cart(request.app.state.db, user.id)).item_count
    return Template(template_name=template, context={**shared, **context}, status_code=status, headers=NO_STORE)


def error_page(
    request: Request[Any, Any, Any], status: int, message: str, headers: dict[str, str] | None = None
) -> Template:
    """What went wrong, in words, and what to do (exception handlers are synchronous: no cart count here).
    An htmx request gets the message alone, put in the page's message area."""
    shared = _shared(request, [], "Something went wrong" if status >= 500 else "Sorry", notices=False)
    headers = {**NO_STORE, **(headers or {})}
    if shared["is_htmx"]:
        headers |= {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return Template(
            template_name="_flash.html", context={**shared, "error": message}, status_code=status, headers=headers
        )
    return Template(
        template_name="error.html",
        context={**shared, "status": status, "message": message},
        status_code=status,
        headers=headers,
    )

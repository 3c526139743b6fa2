"""Security headers on every response.

A `before_send` hook rather than route middleware: Litestar runs route middleware only for requests that
matched a route, and a 404 for an unknown path or a 405 must carry the headers too. It runs on every
response, so it only appends a few constant headers after one pass over the response's own.

- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (and `frame-ancestors 'none'` in every policy),
  `Referrer-Policy: strict-origin-when-cross-origin`.
- `Content-Security-Policy`, unless the route set its own: JSON and everything else the API sends may load
  nothing (`default-src 'none'`); HTML pages of our own load from this origin only (`default-src 'self'`);
  the OpenAPI pages under /schema get what their render plugins load (DOCS_POLICY).
- `Cache-Control: no-store` on the answers to requests carrying a token, unless the route set its own
  caching: what a signed-in caller reads must not stay in a shared cache or the browser's.
- `Strict-Transport-Security` on answers served over TLS (`serve --ssl-certfile`, or a balancer that
  terminates TLS and says so in X-Forwarded-Proto from an address uvicorn trusts): browsers then refuse
  plain HTTP to this host for a year. Never over plain HTTP, where it would be ignored or pin a test host.
"""

from __future__ import annotations

from litestar.types import Message, Scope

API_POLICY = b"default-src 'none'; frame-ancestors 'none'"
PAGE_POLICY = b"default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

# What Litestar's Scalar (/schema, /schema/scalar) and Swagger UI (/schema/swagger) pages load: their bundles,
# stylesheets and favicon, vendored under /static (marketplace/web/static/vendor, so the docs work offline),
# icons as data: images, injected styles and style attributes, and the schema and "try it" requests from this
# origin. Scalar's calls elsewhere (its fonts, api.scalar.com) are left blocked: the reference works without.
_DOCS = (
    "default-src 'none'; script-src 'self'{inline}; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
    " font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DOCS_POLICY = _DOCS.format(inline="").encode()
# Swagger UI's page starts it with an inline script that carries the whole schema (the plugin has no
# nonce); the page shows nothing anyone but us wrote. Its OAuth redirect page is an inline script too.
SWAGGER_POLICY = _DOCS.format(inline=" 'unsafe-inline'").encode()
DOCS_PREFIX = "/schema"
SWAGGER_PATHS = ("/schema/swagger", "/schema/oauth2-redirect.html")

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
_NO_STORE = (b"cache-control", b"no-store")
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_OURS = frozenset([*(name for name, _ in _ALWAYS), b"content-security-policy", b"cache-control"])


def _policy(path: str, content_type: bytes) -> bytes:
    if not content_type.startswith(b"text/html"):
        return API_POLICY
    if path.startswith(DOCS_PREFIX):
        return SWAGGER_POLICY if path.startswith(SWAGGER_PATHS) else DOCS_POLICY
    return PAGE_POLICY


def _carries_token(scope: Scope) -> bool:
    for name, _ in scope["headers"]:  # noqa: SIM110 - a loop costs less than any() over a generator
        if name == b"authorization":
            return True
    return False


async def security_headers(message: Message, scope: Scope) -> None:
    """Litestar `before_send` hook: adds the headers to the start of every HTTP response (header names
    are lower case in ASGI messages). Plain loops: this runs for every response."""
    if message["type"] != "http.response.start":
        return
    headers = message.get("headers") or []
    content_type = b""
    own = False  # the route set one of our headers itself
    for name, value in headers:
        if name == b"content-type":
            content_type = value
        elif name in _OURS:
            own = True
    if not own:
        headers = [*headers, *_ALWAYS, (b"content-security-policy", _policy(scope["path"], content_type))]
        if _carries_token(scope):
            headers.append(_NO_STORE)
    else:
        present = {name for name, _ in headers}
        headers = [*headers, *(header for header in _ALWAYS if header[0] not in present)]
        if b"content-security-policy" not in present:
            headers.append((b"content-security-policy", _policy(scope["path"], content_type)))
        if b"cache-control" not in present and _carries_token(scope):
            headers.append(_NO_STORE)
    if scope.get("scheme") == "https":
        headers.append(_HSTS)
    message["headers"] = headers

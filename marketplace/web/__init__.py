"""The web layer: server-rendered pages (Jinja2 + htmx) for people in a browser, another edge beside the JSON
API's controllers. Pages call the same services the API calls and add no rules of their own.

- `session.py`: who is browsing, from HttpOnly cookies that carry the same access and refresh tokens as the API
  (a login through a page is an ordinary login session); the access token is renewed from the refresh token.
- `csrf.py`: a per-session token every unsafe page request must carry (hidden field or `X-CSRF-Token`).
- `render.py`: templates, their filters (money per currency, dates) and the page helper.
- `plugin.py`: `WebPlugin`, which mounts all of it on the app (pages, static files, templates).
- `pages/`: the routes, one module per area; `templates/`, `static/` (our CSS and two small scripts, and the
  vendored front-end libraries under `static/vendor/`, with their versions and licences).

Paths: `/` (home), `/login`, `/logout`, `/register`, everything else under `/shop/`; docs/web.md lists them.
This package's `__init__` imports nothing, so `realtime.feed` can read the cookie names from `session.py`
without pulling in the pages."""

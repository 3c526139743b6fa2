"""Security headers on every response (core/headers.py), a content security policy that fits each kind of
response, no caching of what a signed-in caller reads, and no server version on the wire."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from loadtest.server import Server, free_port
from marketplace.core.headers import API_POLICY
from marketplace.settings import Settings
from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor
from tests.test_catalog import png_bytes

ROOT = Path(__file__).resolve().parent.parent
ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def assert_protected(response: httpx.Response) -> None:
    for name, value in ALWAYS.items():
        assert response.headers.get_list(name) == [value], (response.request.url, name)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_every_response_carries_the_security_headers(client: AsyncTestClient[Litestar], buyer: Actor) -> None:
    answers = [
        await client.get("/products"),
        await client.get("/no-such-route"),  # answered by the router, before any route middleware
        await client.delete("/products"),  # 405
        await client.post("/auth/login", json={"identifier": "nobody@example.com", "password": "x" * 12}),
        await buyer.get("/me"),
        await client.get("/schema/openapi.json"),
    ]
    assert [r.status_code for r in answers] == [200, 404, 405, 401, 200, 200]
    for r in answers:
        assert_protected(r)
        assert r.headers["content-security-policy"] == API_POLICY.decode()


async def test_what_a_signed_in_caller_reads_is_not_stored(
    client: AsyncTestClient[Litestar], admin: Actor, buyer: Actor
) -> None:
    assert (await buyer.get("/me")).headers["cache-control"] == "no-store"
    assert (await buyer.get("/products")).headers["cache-control"] == "no-store"
    assert (await client.get("/no-such-route", headers=buyer.headers)).headers["cache-control"] == "no-store"
    assert "cache-control" not in (await client.get("/products")).headers  # nobody's: caches may keep it
    # A route that sets its own caching keeps it, token or not.
    vendor = await approved_vendor(client, admin, "v@example.com", "Images")
    made = await product(vendor, (await category_tree(admin))["Kettles"], "Kettle")
    r = await vendor.post(f"/vendor/products/{made['id']}/images", files={"file": ("k.png", png_bytes(), "image/png")})
    assert r.status_code == 201, r.text
    served = await client.get(r.json()["url"], headers=buyer.headers)
    assert served.headers.get_list("cache-control") == ["public, max-age=31536000, immutable"]
    assert_protected(served)


class _Loads(HTMLParser):
    """What a page loads: (directive, url) for scripts, stylesheets and icons; and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str]] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.loads.append(("script-src", a["src"] or ""))
        elif tag == "script":
            self._in_script = True
        elif tag == "link" and a.get("href"):
            self.loads.append(("style-src" if a.get("rel") == "stylesheet" else "img-src", a["href"] or ""))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}


@pytest.mark.parametrize("path", ["/schema", "/schema/scalar", "/schema/swagger"])
async def test_docs_pages_may_load_exactly_what_they_load(client: AsyncTestClient[Litestar], path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert_protected(r)
    policy = directives(r.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"] and policy["connect-src"] == ["'self'"]  # the schema, "try it"
    page = _Loads()
    page.feed(r.text)
    assert page.loads
    for directive, url in page.loads:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url)) if urlsplit(url).netloc else "'self'"
        assert origin in policy[directive], (directive, url)
    allowed_origins = {s for sources in policy.values() for s in sources if s.startswith("https://")}
    loaded_origins = {"{0.scheme}://{0.netloc}".format(urlsplit(url)) for _, url in page.loads}
    assert allowed_origins - loaded_origins == set()  # nothing from elsewhere: the docs work offline
    # Inline scripts run only where a page needs one (Swagger UI starts from one carrying the schema).
    assert ("'unsafe-inline'" in policy["script-src"]) == bool(page.inline_scripts)


def _get_products(port: int, process: subprocess.Popen[str] | None = None) -> httpx.Response:
    """GET /products once the server at `port` answers (within a minute, while `process` runs)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/products", timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline or (process is not None and process.poll() is not None):
                raise
            time.sleep(0.2)


def test_servers_started_by_the_cli_and_the_load_tests_do_not_name_themselves(
    settings: Settings, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url, "DATA_DIR": str(tmp_path)}
    with Server("marketplace.app:create_app", env, factory=True) as served:
        r = _get_products(served.port)
    assert r.status_code == 200 and "server" not in r.headers
    assert_protected(r)

    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "marketplace", "--data-dir", str(tmp_path), "serve", "--port", str(port)],
        env={**os.environ, **env, "SECRET_KEY": settings.secret_key},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        r = _get_products(port, serve)
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
    assert r.status_code == 200 and "server" not in r.headers, err


async def test_answers_over_tls_pin_https_and_plain_http_ones_do_not() -> None:
    from marketplace.core.headers import security_headers

    sent = {}
    for scheme in ("https", "http"):
        message = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
        await security_headers(message, {"type": "http", "scheme": scheme, "path": "/products", "headers": []})
        sent[scheme] = dict(message["headers"])
    assert sent["https"][b"strict-transport-security"] == b"max-age=31536000; includeSubDomains"
    assert b"strict-transport-security" not in sent["http"]


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as an operator's own CA would issue."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_serve_over_tls_answers_https_with_hsts(settings: Settings, tmp_path: Path) -> None:
    import ssl

    cert, key = self_signed(tmp_path)
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url, "DATA_DIR": str(tmp_path)}
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "marketplace", "--data-dir", str(tmp_path), "serve", "--port", str(port),
         "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
        env={**os.environ, **env, "SECRET_KEY": settings.secret_key}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/products", timeout=5, verify=trusted)
                break
            except httpx.TransportError:
                if serve.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        with pytest.raises(httpx.TransportError):  # nothing answers plain HTTP on that port
            httpx.get(f"http://127.0.0.1:{port}/products", timeout=5)
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
    assert r.status_code == 200, err
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert_protected(r)

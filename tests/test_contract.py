"""The OpenAPI document is a contract the app keeps.

Schemathesis generates schema-valid requests for every operation of /schema/openapi.json and sends them to
the real app (real PostgreSQL and Redis, a small seeded shop so that ids exist), signed in as a buyer, a
vendor and an admin in turn. Every response must be documented: no server error, no undocumented status or
content type, bodies matching their schema, and no schema-valid request refused as invalid (400): a request
the schema allows may still be refused for who asks (401, 403), what exists (404), the state things are in
(409), a rule the schema cannot express (422) or pace (429), never as malformed.

The other tests pin what the document says about statuses, security and content types, and the problem
types errors carry."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import hypothesis
import pytest
import schemathesis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from marketplace.app import create_app
from marketplace.core.db import with_database
from marketplace.core.errors import PROBLEM_TYPES, Conflict
from marketplace.core.types import MAX_BIGINT, MIN_BIGINT
from marketplace.payments.sandbox import SIGNATURE_HEADER, SandboxGateway
from marketplace.settings import Settings, load_settings
from tests.catalog_helpers import category_tree, product
from tests.conftest import ADDRESS, DATA_DIR, Actor, approved_vendor, sign_up

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("buyer", "vendor", "admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20260501,
        "generation": {
            "mode": "positive",
            "max-examples": 12,  # per operation and role: about a minute for all 453 runs on two cores
            "no-shrink": True,
            "with-security-parameters": False,  # each role sends its own token
        },
        # Random schema-valid examples only: the coverage phase enumerates every boundary and negative case
        # (minutes per run), and stateful links are not in the document.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "checks": {
            # Schema-valid requests refused for who asks, what exists, the state of things, a rule the
            # schema cannot express or pace; never 400 (malformed).
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}
        },
    }
)


# --- a shop with one of everything, shared by the module ---------------------------------------------------


@pytest.fixture(scope="module")
async def contract_settings(server_urls: tuple[str, str], template_url: str) -> AsyncIterator[Settings]:
    name = f"contract_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(with_database(server_urls[0], "postgres"))
    redis = Redis.from_url(server_urls[1])
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE marketplace_template")
        await redis.flushdb()
        yield load_settings(
            database_url=with_database(server_urls[0], name),
            redis_url=server_urls[1],
            data_dir=str(DATA_DIR),
            secret_key="test-secret-key-that-is-long-enough-for-hs256",
            auth_rate_limit=1000,
            sandbox_gateway=True,
            password_hash_memory_kib=1024,
            password_hash_time_cost=1,
        )
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await redis.aclose()
        await admin.close()


@pytest.fixture(scope="module")
async def tokens(contract_settings: Settings) -> dict[str, str]:
    """A marketplace with a vendor, a buyer with a paid and a delivered order, a flash sale and a coupon;
    the access tokens of its buyer, vendor and admin."""
    async with AsyncTestClient(app=create_app(contract_settings)) as client:
        conn = await asyncpg.connect(contract_settings.database_url)
        try:
            admin = await sign_up(client, "admin@example.com")
            await conn.execute("UPDATE users SET roles = '{buyer,admin}' WHERE id = $1", admin.id)
            vendor = await approved_vendor(client, admin, "vendor@example.com", "Alpha")
            buyer = await sign_up(client, "buyer@example.com")
            await seed_shop(client, contract_settings, admin, vendor, buyer)
        finally:
            await conn.close()
        return {role: actor.tokens["access_token"] for role, actor in zip(ROLES, (buyer, vendor, admin), strict=True)}


async def seed_shop(
    client: AsyncTestClient[Litestar], settings: Settings, admin: Actor, vendor: Actor, buyer: Actor
) -> None:
    cats = await category_tree(admin)
    kettle = await product(vendor, cats["Kettles"], "Kettle", 3000, stock=50)
    await product(vendor, cats["Garden"], "Hose", 6000, stock=50)
    address = (await buyer.post("/me/addresses", json=ADDRESS)).json()
    sku = kettle["skus"][0]["id"]

    async def checkout(paid: bool) -> dict[str, Any]:
        assert (await buyer.put(f"/cart/items/{sku}", json={"quantity": 1})).status_code == 200
        placed = (await buyer.post("/checkouts", json={"address_id": address["id"]})).json()
        if paid:
            payment = (await buyer.post(f"/checkouts/{placed['id']}/payments", json={})).json()["payment"]
            body, signature = SandboxGateway(settings.webhook_secret).callback(
                payment["provider_ref"], payment["amount"], "EUR"
            )
            r = await client.post(
                "/payments/webhooks/sandbox",
                content=body,
                headers={SIGNATURE_HEADER: signature, "content-type": "application/json"},
            )
            assert r.json() == {"outcome": "applied"}, r.text
        return placed["orders"][0]

    delivered = await checkout(paid=True)
    shipment = {"carrier": "DHL", "tracking_number": "TRACK123"}
    for step, body in (("accept", None), ("ship", shipment), ("deliver", None)):
        r = await vendor.post(f"/vendor/orders/{delivered['id']}/{step}", json=body)
        assert r.status_code == 200, r.text
    await checkout(paid=True)
    await checkout(paid=False)
    r = await buyer.post(f"/products/{kettle['id']}/reviews", json={"rating": 5, "body": "Boils fast."})
    assert r.status_code == 201, r.text
    now = datetime.now(UTC)
    sale = {
        "sku_id": sku,
        "sale_price": 2000,
        "units": 10,
        "per_buyer_limit": 2,
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
    }
    r = await vendor.post("/vendor/flash-sales", json=sale)
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def contract_app(contract_settings: Settings, tokens: dict[str, str]) -> Iterator[Litestar]:
    """The app under test, which Schemathesis calls in-process, running its lifespan on an event loop of its
    own. Its pytest plugin ends that lifespan after every test; here one app (pools, relay, hub) serves the
    whole module, as one server would, and is stopped before the database is dropped."""
    shutdown = asgi.shutdown_lifespans
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asgi, "shutdown_lifespans", lambda: None)
        yield create_app(contract_settings)
    shutdown()


def _document() -> dict[str, Any]:
    """The OpenAPI document as /schema/openapi.json serves it (test_the_served_document_is_the_contract),
    built without servers so that tests can be generated from it when the module is collected."""
    unused = load_settings(
        database_url="postgresql://unused/unused", redis_url="redis://unused", secret_key="x" * 32, sandbox_gateway=True
    )
    return create_app(unused).openapi_schema.to_schema()


DOCUMENT = _document()
# Every operation of the document but one. (The live feed, GET /feed, is a WebSocket: not in the document.)
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=CONFIG).exclude(  # it edits what it gets
    # Logging out would end the session the run signs in with: every later request would be a 401.
    path="/auth/logout",
)


# Schemathesis reads bounds as doubles, so the document's maximum 2^63-1 becomes 2^63 and it sometimes sends
# one more than the schema allows (which the edge refuses, rightly). Such cases are dropped, not sent.
def _within_bigint(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_within_bigint(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_within_bigint(v) for v in value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return MIN_BIGINT <= value <= MAX_BIGINT
    return True


@schema.hook
def filter_body(context: Any, body: Any) -> bool:
    return _within_bigint(body)


@schema.hook
def filter_query(context: Any, query: Any) -> bool:
    return _within_bigint(query)


@schema.hook
def filter_path_parameters(context: Any, path_parameters: Any) -> bool:
    return _within_bigint(path_parameters)


@pytest.fixture(params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    return request.param


@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck), derandomize=True)
def test_every_operation_keeps_its_documented_contract(
    case: Any, role: str, tokens: dict[str, str], contract_app: Litestar
) -> None:
    case.call_and_validate(app=contract_app, headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)


# --- what the document and the problems say ----------------------------------------------------------------


async def test_the_served_document_is_the_contract(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    assert r.json() == json.loads(json.dumps(DOCUMENT))


def _operation(method: str, path: str) -> dict[str, Any]:
    return DOCUMENT["paths"][path][method]


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("get", "/categories", {"200", "503"}),
        ("get", "/me", {"200", "401", "404", "503"}),
        ("get", "/admin/users", {"200", "400", "401", "403", "503"}),
        ("post", "/checkouts", {"201", "400", "401", "404", "409", "413", "415", "422", "503"}),
        (
            "post",
            "/flash-sales/{sale_id}/purchase",
            {"201", "400", "401", "404", "409", "413", "415", "422", "429", "503"},
        ),
        ("post", "/auth/login", {"200", "400", "401", "413", "415", "429", "503"}),
        ("get", "/analytics/sales", {"200", "400", "401", "403", "422", "503"}),
        (
            "post",
            "/vendor/products/{product_id}/images",
            {"201", "400", "401", "403", "404", "413", "415", "422", "503"},
        ),
    ],
)
def test_each_operation_documents_the_statuses_it_can_answer(method: str, path: str, statuses: set[str]) -> None:
    responses = _operation(method, path)["responses"]
    assert set(responses) == statuses
    for status, response in responses.items():
        if status[0] in "45":
            assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (status, response)


def test_every_error_response_in_the_document_is_a_problem() -> None:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45" and path != "/health":  # /health's 503 is its own report
                    assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (
                        method, path, status)  # fmt: skip


def test_public_operations_need_no_token_and_the_rest_the_bearer_scheme() -> None:
    assert "security" not in DOCUMENT
    bearer = [{"BearerToken": []}]
    assert _operation("get", "/products")["security"] == []
    assert _operation("get", "/categories")["security"] == []
    assert _operation("post", "/auth/login")["security"] == []
    assert _operation("get", "/me")["security"] == bearer
    assert _operation("get", "/admin/users")["security"] == bearer
    # Excluded from the auth middleware, the purchase checks the token itself (after the gate).
    assert _operation("post", "/flash-sales/{sale_id}/purchase")["security"] == bearer
    assert all("security" in op for item in DOCUMENT["paths"].values() for op in item.values())


def test_responses_document_what_is_returned() -> None:
    purchase = _operation("post", "/flash-sales/{sale_id}/purchase")["responses"]["201"]["content"]
    assert purchase == {"application/json": {"schema": {"$ref": "#/components/schemas/CheckoutOut"}}}
    sales = _operation("get", "/analytics/sales")["responses"]["200"]["content"]
    assert sales["application/json"]["schema"] == {
        "items": {"$ref": "#/components/schemas/SalesPeriod"},
        "type": "array",
    }
    assert set(sales) == {"application/json", "text/csv", "image/png"}
    report = _operation("get", "/marketing/campaigns/{campaign_id}/report")["responses"]["200"]["content"]
    assert report["application/json"]["schema"] == {"$ref": "#/components/schemas/CampaignReport"}
    assert set(report) == {"application/json", "text/csv", "image/png"}
    assert set(_operation("get", "/analytics/sales/top")["responses"]["200"]["content"]) == {
        "application/json", "text/csv"}  # fmt: skip
    assert set(_operation("get", "/images/{file_name}")["responses"]["200"]["content"]) == {
        "image/jpeg", "image/png", "image/webp"}  # fmt: skip


def test_the_document_states_the_bounds_the_edge_enforces() -> None:
    (address_id,) = _operation("get", "/me/addresses/{address_id}")["parameters"]
    assert (address_id["schema"]["minimum"], address_id["schema"]["maximum"]) == (1, MAX_BIGINT)
    checkout = DOCUMENT["components"]["schemas"]["CheckoutIn"]
    assert checkout["properties"]["address_id"]["maximum"] == MAX_BIGINT
    assert checkout["additionalProperties"] is False
    assert checkout["properties"]["coupon_code"]["anyOf"][0]["pattern"]  # text: no NUL, or a stated shape
    assert DOCUMENT["components"]["schemas"]["IssueIn"]["properties"]["buyer_ids"]["items"]["minimum"] == 1
    assert DOCUMENT["components"]["schemas"]["AddressPatch"]["minProperties"] == 1
    patterns = set(_patterns(DOCUMENT))
    assert len(patterns) > 5
    for pattern in patterns:  # the edge refuses NUL anywhere, so no documented shape may admit it
        assert not any(re.search(pattern, text) for text in ("a\x00a", "a\x00", "\x00", "ab\x00cd.ef")), pattern


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


async def test_problems_carry_a_stable_code_and_a_type_documented_by_the_app(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    buyer, kettle = shop["buyer"], shop["kettle"]
    address = (await buyer.get("/me/addresses")).json()[0]
    await buyer.put(f"/cart/items/{kettle['skus'][0]['id']}", json={"quantity": 11})  # 10 on the shelf
    r = await buyer.post("/checkouts", json={"address_id": address["id"]})
    problem = r.json()
    assert (r.status_code, problem["code"], problem["type"]) == (409, "out-of-stock", "/problems/out-of-stock")
    assert problem["available"] == 10
    r = await buyer.get("/orders/424242")
    assert (r.json()["code"], r.json()["type"]) == ("not-found", "/problems/not-found")
    r = await client.get("/me")
    assert (r.json()["code"], r.json()["type"]) == ("unauthorized", "/problems/unauthorized")

    documented = await client.get("/problems/out-of-stock")
    assert documented.status_code == 200
    assert documented.json()["status"] == 409 and documented.json()["type"] == "/problems/out-of-stock"
    listed = (await client.get("/problems")).json()
    assert [p["code"] for p in listed] == list(PROBLEM_TYPES)
    assert (await client.get("/problems/no-such-code")).json()["code"] == "not-found"


def test_every_problem_code_is_in_docs_errors_md() -> None:
    documented = re.findall(r"^\| `([a-z-]+)` \|", (ROOT / "docs" / "errors.md").read_text(), re.MULTILINE)
    assert documented == list(PROBLEM_TYPES)


def test_a_code_no_one_documented_cannot_be_raised() -> None:
    with pytest.raises(ValueError, match="unknown problem code"):
        Conflict("taken", code="already-taken")
    used = set()
    for source in ROOT.glob("**/*.py"):
        if ".venv" not in source.parts and ".data" not in source.parts:
            used |= set(re.findall(r"\bcode=\"([a-z-]+)\"", source.read_text()))
    assert used - {"already-taken"} <= set(PROBLEM_TYPES)


async def test_csv_answers_name_their_charset_once(admin: Actor) -> None:
    for path in ("/analytics/sales", "/analytics/sales/top", "/analytics/cohorts", "/marketing/segments"):
        r = await admin.get(path, params={"format": "csv"})
        assert r.status_code == 200, r.text
        assert r.headers.get_list("content-type") == ["text/csv; charset=utf-8"], (path, r.headers)


async def test_a_campaigns_holdout_share_comes_back_as_given(
    client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection
) -> None:
    buyers = [await sign_up(client, f"member{i}@example.com") for i in range(4)]
    run = await db.fetchval("INSERT INTO segment_runs (status, trigger) VALUES ('done', 'schedule') RETURNING id")
    segment = await db.fetchval(
        "INSERT INTO segments (run_id, kind, key, name, description, members, monetary)"
        " VALUES ($1, 'rfm', 'champions', 'Champions', 'best', 4, 0) RETURNING id",
        run,
    )
    await db.executemany(
        "INSERT INTO segment_members (segment_id, buyer_id, recency_days, frequency, monetary, r, f, m)"
        " VALUES ($1, $2, 12.3, 1, 100, 5, 5, 5)",
        [(segment, b.id) for b in buyers],
    )
    now = datetime.now(UTC)
    coupon = {"name": "Thanks: 5 off", "kind": "fixed", "audience": "issued", "amount_off": 500,
              "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=30)).isoformat()}  # fmt: skip
    r = await admin.post("/marketing/coupons", json=coupon)
    assert r.status_code == 201, r.text
    body = {
        "name": "Thanks",
        "segment_id": segment,
        "coupon_id": r.json()["id"],
        "message": "5 off",
        "holdout_share": 0.3,
    }
    launched = await admin.post("/marketing/campaigns", json=body)
    assert launched.status_code == 201, launched.text
    assert launched.json()["holdout_share"] == 0.3
    assert (await admin.get(f"/marketing/campaigns/{launched.json()['id']}")).json()["holdout_share"] == 0.3
    members = (await admin.get(f"/marketing/segments/{segment}/members")).json()["items"]
    assert {m["recency_days"] for m in members} == {12.3}


async def test_flash_sale_refusals_carry_their_code_and_a_purchase_is_the_documented_checkout(
    shop: dict[str, Any],
) -> None:
    alpha, buyer, sku = shop["alpha"], shop["buyer"], shop["kettle"]["skus"][0]["id"]
    now = datetime.now(UTC)
    sale = {"sku_id": sku, "sale_price": 2000, "units": 1, "per_buyer_limit": 1, "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat()}  # fmt: skip
    created = await alpha.post("/vendor/flash-sales", json=sale)
    assert created.status_code == 201, created.text
    address = (await buyer.get("/me/addresses")).json()[0]["id"]
    path = f"/flash-sales/{created.json()['id']}/purchase"
    bought = await buyer.post(path, json={"address_id": address})
    assert bought.status_code == 201, bought.text
    documented = DOCUMENT["components"]["schemas"]["CheckoutOut"]
    assert isinstance(bought.json(), dict) and set(documented["required"]) <= set(bought.json())
    refused = (await buyer.post(path, json={"address_id": address})).json()
    assert (refused["status"], refused["reason"], refused["code"]) == (409, "limit_reached", "limit-reached")
    assert refused["type"] == "/problems/limit-reached"

"""Bad input never gets past the door: malformed JSON, wrong types, missing and unknown fields, oversize
bodies, unknown enum values, duplicates, NUL bytes, huge integers and bad path ids each get a clear 4xx
problem response (`application/problem+json` with `status` and `detail`), never a 500, and write nothing.
SQL metacharacters are ordinary text: stored literally, searched literally."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import ADDRESS, PASSWORD, SHOP, Actor, sign_up

TABLES = ("users", "refresh_tokens", "addresses", "vendor_applications", "vendors", "audit_log", "events")


APPLICATION = {**SHOP, "shop_name": "Red Teapot"}  # SHOP's name is taken by the scene's pending application
REFRESH_TOKEN = "<the buyer's refresh token>"  # placeholder, filled in per test
BOBBY = "Robert'); DROP TABLE users;--"
SQL_STRINGS = [
    BOBBY,
    "' OR '1'='1",
    "'; DELETE FROM addresses WHERE '1'='1",
    '" OR ""="',
    "1; SELECT pg_sleep(10)--",
    "admin@example.com'--",
    "\\'; TRUNCATE audit_log; --",
    "$$; DROP TABLE users; $$ /* */",
]
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000  # 200 KB, well under the body limit
OVERSIZE_JSON = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'  # just over 1 MiB
HUGE_ID = "99999999999999999999"  # beyond bigint


@dataclass
class Scene:
    """A buyer with one address, another user with a pending vendor application, and an admin."""

    client: AsyncTestClient[Litestar]
    buyer: Actor
    admin: Actor
    applicant: Actor
    address_id: int
    application_id: int

    async def send(self, who: str, method: str, path: str, **kw: Any) -> Any:
        headers = {} if who == "anon" else getattr(self, who).headers
        path = path.format(address_id=self.address_id, application_id=self.application_id, user_id=self.buyer.id)
        if isinstance(kw.get("json"), dict):
            kw["json"] = {
                k: self.buyer.tokens["refresh_token"] if v == REFRESH_TOKEN else v for k, v in kw["json"].items()
            }
        if "content" in kw:
            headers = {**headers, "Content-Type": "application/json"}
        return await self.client.request(method, path, headers=headers, **kw)


@pytest.fixture
async def scene(client: AsyncTestClient[Litestar], buyer: Actor, admin: Actor) -> Scene:
    r = await buyer.post("/me/addresses", json=ADDRESS)
    assert r.status_code == 201, r.text
    address_id = r.json()["id"]
    applicant = await sign_up(client, "applicant@example.com")
    r = await applicant.post("/vendor-applications", json=SHOP)
    assert r.status_code == 201, r.text
    return Scene(client, buyer, admin, applicant, address_id, r.json()["id"])


async def snapshot(db: asyncpg.Connection) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every table, so inserts, updates and deletes all show."""
    state = {}
    for table in TABLES:
        row = await db.fetchrow(
            f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t"
        )
        state[table] = (row[0], row[1])
    return state


def assert_problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    body = r.json()
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# Every endpoint that takes a body: who calls it, how, and a body it accepts.
ENDPOINTS: dict[str, tuple[str, str, str, dict[str, Any], int]] = {
    "register": ("anon", "POST", "/auth/register", {"email": "new@example.com", "password": PASSWORD}, 201),
    "login": ("anon", "POST", "/auth/login", {"identifier": "buyer@example.com", "password": PASSWORD}, 200),
    "refresh": ("anon", "POST", "/auth/refresh", {"refresh_token": REFRESH_TOKEN}, 200),
    "profile": ("buyer", "PATCH", "/me", {"display_name": "Ann"}, 200),
    "add-address": ("buyer", "POST", "/me/addresses", ADDRESS, 201),
    "edit-address": ("buyer", "PATCH", "/me/addresses/{address_id}", {"city": "Hamburg"}, 200),
    "apply": ("buyer", "POST", "/vendor-applications", APPLICATION, 201),
    "reject": (
        "admin",
        "POST",
        "/admin/vendor-applications/{application_id}/reject",
        {"reason": "licence not in the registry"},
        200,
    ),
    "set-roles": ("admin", "PUT", "/admin/users/{user_id}/roles", {"roles": ["marketer"]}, 200),
}
REQUIRED_FIELDS = ["register", "login", "refresh", "add-address", "apply", "reject", "set-roles"]


def _first(valid: dict[str, Any], value: Any) -> dict[str, Any]:
    """The valid body with its first field replaced."""
    return {**valid, next(iter(valid)): value}


def _body_cases() -> list[Any]:
    cases = []
    for name, (_, _, _, valid, _) in ENDPOINTS.items():
        variants: list[tuple[str, dict[str, Any], int, tuple[Any, ...]]] = [
            ("malformed-json", {"content": b'{"' + next(iter(valid)).encode() + b'": '}, 400, ()),
            ("trailing-garbage", {"content": b"{} }"}, 400, ()),
            ("array-not-object", {"json": [valid]}, 400, ()),
            ("null-body", {"content": b"null"}, 400, ()),
            ("unknown-field", {"json": {**valid, "is_admin": True}}, 400, ()),
            ("wrong-type", {"json": _first(valid, 12345)}, 400, ()),
            ("operator-object", {"json": _first(valid, {"$ne": None})}, 400, ()),
            ("huge-integer", {"json": _first(valid, 10**40)}, 400, ()),
            ("oversize-body", {"content": OVERSIZE_JSON}, 413, ()),
            ("invalid-utf8", {"content": b'{"x": "\xff\xfe"}'}, 400, ()),
            ("deeply-nested", {"content": DEEP_JSON}, 400, ()),
        ]
        if name in REQUIRED_FIELDS:
            variants.append(("missing-fields", {"json": {}}, 400, ()))
        for label, kw, status, marks in variants:
            cases.append(pytest.param(name, kw, status, marks=marks, id=f"{name}-{label}"))
    return cases


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_each_endpoint_accepts_its_valid_body(scene: Scene, endpoint: str) -> None:
    """The baseline for the bad-body tests: their 4xx comes from the bad input, nothing else."""
    who, method, path, valid, status = ENDPOINTS[endpoint]
    r = await scene.send(who, method, path, json=valid)
    assert r.status_code == status, r.text


@pytest.mark.parametrize(("endpoint", "request_kw", "status"), _body_cases())
async def test_malformed_bodies_get_a_problem_and_write_nothing(
    scene: Scene, db: asyncpg.Connection, endpoint: str, request_kw: dict[str, Any], status: int
) -> None:
    who, method, path, _, _ = ENDPOINTS[endpoint]
    before = await snapshot(db)
    r = await scene.send(who, method, path, **request_kw)
    assert_problem(r, status)
    assert await snapshot(db) == before


NUL = "a\x00b"
FIELD_CASES = [
    # registration
    ("register", {"email": "not-an-email", "password": PASSWORD}, 400),
    ("register", {"email": "a@b.c", "password": PASSWORD, "phone": "015112345678"}, 400),
    ("register", {"email": "new@example.com", "password": PASSWORD, "display_name": "x" * 121}, 400),
    ("register", {"email": "new@example.com", "password": "short"}, 422),
    ("register", {"email": "new@example.com", "password": "x" * 129}, 400),
    ("register", {"password": PASSWORD}, 422),
    ("register", {"email": "new@example.com", "password": PASSWORD, "email_verified": True}, 400),
    ("register", {"email": "buyer@example.com", "password": PASSWORD}, 409),
    ("register", {"email": "BUYER@Example.COM", "password": PASSWORD}, 409),
    ("register", {"email": f"new{NUL}@example.com", "password": PASSWORD}, 400),
    ("register", {"email": "new@example.com", "password": PASSWORD, "display_name": NUL}, 400),
    # login: nothing is issued
    ("login", {"identifier": "ab", "password": PASSWORD}, 400),
    ("login", {"identifier": "buyer@example.com", "password": PASSWORD, "totp_code": "12ab56"}, 400),
    ("login", {"identifier": "buyer@example.com", "password": ""}, 400),
    ("login", {"identifier": f"buyer{NUL}@example.com", "password": PASSWORD}, 400),
    ("login", {"identifier": "buyer@example.com", "password": "wrong password!"}, 401),
    # refresh: nothing is rotated
    ("refresh", {"refresh_token": "short"}, 400),
    ("refresh", {"refresh_token": "x" * 201}, 400),
    ("refresh", {"refresh_token": f"{NUL}cdefghijkl"}, 400),
    ("refresh", {"refresh_token": REFRESH_TOKEN, "user_id": 1}, 400),
    # profile
    ("profile", {"display_name": None}, 400),
    ("profile", {"display_name": "x" * 121}, 400),
    ("profile", {"display_name": NUL}, 400),
    ("profile", {"display_name": "Ann", "roles": ["admin"]}, 400),
    # addresses
    ("add-address", {**ADDRESS, "country": "Germany"}, 400),
    ("add-address", {**ADDRESS, "country": "de"}, 400),
    ("add-address", {**ADDRESS, "postal_code": "10115'; --"}, 400),
    ("add-address", {**ADDRESS, "phone": "12345"}, 400),
    ("add-address", {**ADDRESS, "recipient": ""}, 400),
    ("add-address", {**ADDRESS, "is_default": "yes"}, 400),
    ("add-address", {**ADDRESS, "line1": NUL}, 400),
    ("add-address", {**ADDRESS, "user_id": 1}, 400),
    ("edit-address", {}, 400),
    ("edit-address", {"is_default": False}, 422),
    ("edit-address", {"country": "XYZ"}, 400),
    ("edit-address", {"city": None}, 400),
    ("edit-address", {"city": NUL}, 400),
    # vendor applications
    ("apply", {**APPLICATION, "shop_name": " Padded "}, 400),
    ("apply", {**APPLICATION, "shop_name": "x"}, 400),
    ("apply", {**APPLICATION, "licence_number": "LIC'; DROP TABLE vendors;--"}, 400),
    ("apply", {**APPLICATION, "contact_email": "shop"}, 400),
    ("apply", {**APPLICATION, "description": "x" * 4001}, 400),
    ("apply", {**APPLICATION, "status": "approved"}, 400),
    ("apply", {**APPLICATION, "shop_name": NUL}, 400),
    ("apply", {**APPLICATION, "description": NUL}, 400),
    ("apply", SHOP, 409),  # the applicant's pending application uses this name
    # admin: reject and roles
    ("reject", {"reason": "no"}, 400),
    ("reject", {"reason": "x" * 1001}, 400),
    ("reject", {"reason": NUL + " licence"}, 400),
    ("set-roles", {"roles": []}, 400),
    ("set-roles", {"roles": ["superuser"]}, 400),
    ("set-roles", {"roles": ["admin\x00"]}, 400),
    ("set-roles", {"roles": "admin"}, 400),
    ("set-roles", {"roles": ["admin", "buyer", "marketer", "admin", "buyer"]}, 400),
    ("set-roles", {"roles": ["vendor"]}, 422),
]


def _field_case_id(endpoint: str, body: dict[str, Any]) -> str:
    """`endpoint-field=value` for the fields that differ from the endpoint's valid body."""
    valid = ENDPOINTS[endpoint][3]
    changed = [f"{k}={v!r:.20}" for k, v in body.items() if valid.get(k) != v]
    changed += [f"no-{k}" for k in valid if k not in body]
    return f"{endpoint}-{','.join(changed) or 'as-valid'}"


@pytest.mark.parametrize(
    ("endpoint", "body", "status"),
    [pytest.param(*case, id=_field_case_id(*case[:2])) for case in FIELD_CASES],
)
async def test_invalid_fields_get_a_problem_and_write_nothing(
    scene: Scene, db: asyncpg.Connection, endpoint: str, body: dict[str, Any], status: int
) -> None:
    who, method, path, _, _ = ENDPOINTS[endpoint]
    before = await snapshot(db)
    r = await scene.send(who, method, path, json=body)
    assert_problem(r, status)
    assert await snapshot(db) == before


async def test_empty_profile_patch_is_refused_and_writes_nothing(scene: Scene, db: asyncpg.Connection) -> None:
    before = await snapshot(db)
    assert_problem(await scene.send("buyer", "PATCH", "/me", json={}), 400)
    assert await snapshot(db) == before


# Non-integers match no route; ids no row can have, beyond bigint too, are not found.
BAD_IDS = [("abc", 404), ("1.5", 404), ("0x1", 404), ("%00", 404), ("-1", 404), ("0", 404), (HUGE_ID, 404)]
ID_ROUTES = [
    ("buyer", "GET", "/me/addresses/{id}", None),
    ("buyer", "PATCH", "/me/addresses/{id}", {"city": "Hamburg"}),
    ("buyer", "DELETE", "/me/addresses/{id}", None),
    ("admin", "GET", "/admin/users/{id}", None),
    ("admin", "PUT", "/admin/users/{id}/roles", {"roles": ["marketer"]}),
    ("admin", "POST", "/admin/vendor-applications/{id}/approve", None),
    ("admin", "POST", "/admin/vendor-applications/{id}/reject", {"reason": "licence not found"}),
    ("admin", "GET", "/admin/vendors/{id}", None),
    ("admin", "POST", "/admin/vendors/{id}/suspend", {"reason": "too many complaints"}),
    ("admin", "POST", "/admin/vendors/{id}/reinstate", None),
    ("anon", "GET", "/vendors/{id}", None),
]


@pytest.mark.parametrize(("who", "method", "path", "body"), ID_ROUTES, ids=[f"{r[1]} {r[2]}" for r in ID_ROUTES])
async def test_bad_path_ids_get_a_problem_and_write_nothing(
    scene: Scene, db: asyncpg.Connection, who: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = await snapshot(db)
    for bad_id, status in BAD_IDS:
        r = await scene.send(who, method, path.replace("{id}", bad_id), json=body)
        assert r.status_code == status, f"{method} {path} with id {bad_id}: {r.text}"
        assert_problem(r, status)
    assert await snapshot(db) == before


PAGING = [
    ({"limit": "0"}, 400),
    ({"limit": "101"}, 400),
    ({"limit": "1000"}, 400),
    ({"limit": "ten"}, 400),
    ({"limit": ""}, 400),
    ({"cursor": "-1"}, 400),
    ({"cursor": "0"}, 400),
    ({"cursor": "abc"}, 400),
    ({"cursor": HUGE_ID}, 400),
]
QUERY_CASES = {
    "/admin/users": [
        *PAGING,
        ({"role": "bogus"}, 400),
        ({"role": "ADMIN"}, 400),
        ({"q": "x" * 101}, 400),
        ({"q": NUL}, 400),
    ],
    "/admin/vendor-applications": [*PAGING, ({"status": "bogus"}, 400), ({"status": ""}, 400)],
    "/admin/vendors": [*PAGING, ({"status": "bogus"}, 400), ({"status": "ACTIVE"}, 400)],
    "/admin/audit": [
        *PAGING,
        ({"actor_id": "0"}, 400),
        ({"actor_id": "abc"}, 400),
        ({"actor_id": HUGE_ID}, 400),
        ({"action": "x" * 101}, 400),
        ({"object_type": NUL}, 400),
    ],
}


@pytest.mark.parametrize("path", QUERY_CASES)
async def test_bad_query_params_on_list_endpoints_get_a_problem(
    scene: Scene, db: asyncpg.Connection, path: str
) -> None:
    before = await snapshot(db)
    for params, status in QUERY_CASES[path]:
        r = await scene.admin.get(path, params=params)
        assert r.status_code == status, f"{path} {params}: {r.text}"
        assert_problem(r, status)
    assert await snapshot(db) == before


async def test_sql_metacharacters_in_fields_are_stored_literally(scene: Scene, db: asyncpg.Connection) -> None:
    r = await scene.client.post(
        "/auth/register", json={"email": "bobby@example.com", "password": PASSWORD, "display_name": BOBBY}
    )
    assert r.status_code == 201, r.text
    assert r.json()["display_name"] == BOBBY
    for text in SQL_STRINGS:
        r = await scene.buyer.patch("/me", json={"display_name": text})
        assert r.status_code == 200 and r.json()["display_name"] == text
        assert await db.fetchval("SELECT display_name FROM users WHERE id = $1", scene.buyer.id) == text
    r = await scene.buyer.post("/me/addresses", json={**ADDRESS, "line1": SQL_STRINGS[2], "line2": BOBBY})
    assert r.status_code == 201 and (r.json()["line1"], r.json()["line2"]) == (SQL_STRINGS[2], BOBBY)
    r = await scene.buyer.post(
        "/vendor-applications", json={**SHOP, "shop_name": "O'Reilly's; --", "description": BOBBY}
    )
    assert r.status_code == 201 and r.json()["shop_name"] == "O'Reilly's; --"
    path = f"/admin/vendor-applications/{scene.application_id}/reject"
    r = await scene.admin.post(path, json={"reason": SQL_STRINGS[1]})
    assert r.status_code == 200 and r.json()["reason"] == SQL_STRINGS[1]

    assert all([await db.fetchval("SELECT to_regclass($1)", t) for t in TABLES])
    assert await db.fetchval("SELECT count(*) FROM users") == 4
    assert await db.fetchval("SELECT count(*) FROM addresses") == 2
    assert await db.fetchval("SELECT count(*) FROM vendor_applications") == 2
    assert await db.fetchval("SELECT description FROM vendor_applications WHERE user_id = $1", scene.buyer.id) == (
        BOBBY
    )


@pytest.mark.parametrize("text", SQL_STRINGS)
async def test_sql_metacharacters_in_login_do_not_get_anyone_in(
    scene: Scene, db: asyncpg.Connection, text: str
) -> None:
    before = await snapshot(db)
    for body in (
        {"identifier": text, "password": text},
        {"identifier": "buyer@example.com", "password": text},
    ):
        assert_problem(await scene.client.post("/auth/login", json=body), 401)
    assert await snapshot(db) == before


@pytest.mark.parametrize("text", SQL_STRINGS)
async def test_sql_metacharacters_in_search_params_just_filter(scene: Scene, db: asyncpg.Connection, text: str) -> None:
    r = await scene.client.post(
        "/auth/register", json={"email": "bobby@example.com", "password": PASSWORD, "display_name": text}
    )
    assert r.status_code == 201, r.text
    before = await snapshot(db)
    r = await scene.admin.get("/admin/users", params={"q": text})
    assert r.status_code == 200, r.text
    assert [u["email"] for u in r.json()["items"]] == ["bobby@example.com"]
    for param in ("object_type", "object_id", "action"):
        r = await scene.admin.get("/admin/audit", params={param: text})
        assert r.status_code == 200 and r.json()["items"] == [], r.text
    assert await snapshot(db) == before
    assert await db.fetchval("SELECT count(*) FROM users") == 4


@pytest.mark.parametrize(("q", "name"), [("%", "50% off"), ("_", "snake_case"), ("\\", "C:\\temp")])
async def test_like_metacharacters_in_user_search_match_literally(scene: Scene, q: str, name: str) -> None:
    for i, display_name in enumerate(["50% off", "snake_case", "C:\\temp"]):
        r = await scene.client.post(
            "/auth/register",
            json={"email": f"like{i}@example.com", "password": PASSWORD, "display_name": display_name},
        )
        assert r.status_code == 201, r.text
    r = await scene.admin.get("/admin/users", params={"q": q})
    assert r.status_code == 200, r.text
    assert [u["display_name"] for u in r.json()["items"]] == [name]

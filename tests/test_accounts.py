"""Registration, login, tokens, two-factor, profile and addresses."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pyotp
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send
from msgspec import structs

from marketplace.app import create_app
from marketplace.settings import Settings
from tests.conftest import ADDRESS, PASSWORD, Actor, relogin, sign_up


async def test_register_then_login_returns_working_tokens(client: AsyncTestClient[Litestar]) -> None:
    r = await client.post("/auth/register", json={"email": "Ann@Example.com", "password": PASSWORD})
    assert r.status_code == 201
    user = r.json()
    assert user["roles"] == ["buyer"] and "password" not in str(user)
    r = await client.post("/auth/login", json={"identifier": "ann@example.com", "password": PASSWORD})
    assert r.status_code == 200
    tokens = r.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60
    me = await client.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["id"] == user["id"]


async def test_register_with_phone_only(client: AsyncTestClient[Litestar]) -> None:
    r = await client.post("/auth/register", json={"phone": "+4915112345678", "password": PASSWORD})
    assert r.status_code == 201
    r = await client.post("/auth/login", json={"identifier": "+4915112345678", "password": PASSWORD})
    assert r.status_code == 200


async def test_password_is_stored_as_argon2id(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> None:
    await sign_up(client, "hash@example.com")
    stored = await db.fetchval("SELECT password_hash FROM users WHERE email = 'hash@example.com'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_a_second_app_leaves_the_first_apps_password_cost_alone(
    client: AsyncTestClient[Litestar], settings: Settings, db: asyncpg.Connection
) -> None:
    # The cost comes from each app's own settings (accounts/passwords.py), not from whichever app was built last.
    create_app(structs.replace(settings, password_hash_memory_kib=2048, password_hash_time_cost=2))
    await sign_up(client, "cost@example.com")
    stored = await db.fetchval("SELECT password_hash FROM users WHERE email = 'cost@example.com'")
    assert "$m=1024,t=1," in stored


async def test_weak_or_common_passwords_are_refused(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> None:
    for password in ["short", "password123", "qwertyuiop", "aaaaaaaaaaaa", "weakling@example.com!"]:
        r = await client.post("/auth/register", json={"email": "weakling@example.com", "password": password})
        assert r.status_code == 422, password
        assert r.headers["content-type"].startswith("application/problem+json")
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_duplicate_email_is_a_conflict_regardless_of_case(client: AsyncTestClient[Litestar]) -> None:
    await sign_up(client, "dup@example.com")
    r = await client.post("/auth/register", json={"email": "DUP@example.com", "password": PASSWORD})
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"]


async def test_wrong_password_and_unknown_account_look_the_same(client: AsyncTestClient[Litestar]) -> None:
    await sign_up(client, "known@example.com")
    wrong = await client.post("/auth/login", json={"identifier": "known@example.com", "password": "nope-nope-nope"})
    unknown = await client.post("/auth/login", json={"identifier": "who@example.com", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_requests_without_or_with_forged_tokens_are_unauthorized(
    client: AsyncTestClient[Litestar],
) -> None:
    assert (await client.get("/me")).status_code == 401
    assert (await client.get("/me", headers={"Authorization": "Bearer not.a.jwt"})).status_code == 401
    forged = pyotp.random_base32()  # any string signed with another key
    from marketplace.accounts.tokens import access_token

    other_key = access_token(1, forged * 2, 5)
    assert (await client.get("/me", headers={"Authorization": f"Bearer {other_key}"})).status_code == 401


async def test_expired_access_token_is_refused(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    import jwt

    ann = await sign_up(client, "exp@example.com")
    expired = jwt.encode({"sub": str(ann.id), "exp": 1_000_000_000, "jti": "x"}, settings.secret_key, "HS256")
    assert (await client.get("/me", headers={"Authorization": f"Bearer {expired}"})).status_code == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(client: AsyncTestClient[Litestar]) -> None:
    ann = await sign_up(client, "rot@example.com")
    first = ann.tokens["refresh_token"]
    r = await client.post("/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200
    second = r.json()["refresh_token"]
    assert second != first
    # The old token again: treated as stolen, the whole chain dies.
    assert (await client.post("/auth/refresh", json={"refresh_token": first})).status_code == 401
    assert (await client.post("/auth/refresh", json={"refresh_token": second})).status_code == 401


async def test_concurrent_refreshes_with_one_token_yield_one_new_pair(
    client: AsyncTestClient[Litestar],
) -> None:
    ann = await sign_up(client, "race@example.com")
    body = {"refresh_token": ann.tokens["refresh_token"]}
    results = await asyncio.gather(*(client.post("/auth/refresh", json=body) for _ in range(5)))
    assert sorted(r.status_code for r in results) == [200, 401, 401, 401, 401]


async def test_logout_revokes_access_and_refresh_tokens_across_workers(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    ann = await sign_up(client, "out@example.com")
    r = await ann.post("/auth/logout", json={"refresh_token": ann.tokens["refresh_token"]})
    assert r.status_code == 204
    assert (await ann.get("/me")).status_code == 401
    assert (await client.post("/auth/refresh", json={"refresh_token": ann.tokens["refresh_token"]})).status_code == 401
    # A second app process (another worker) shares the revocation through Redis.
    async with AsyncTestClient(app=create_app(settings)) as other_worker:
        assert (await other_worker.get("/me", headers=ann.headers)).status_code == 401


async def test_disabled_account_cannot_log_in_or_use_its_token(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection
) -> None:
    ann = await sign_up(client, "dis@example.com")
    await db.execute("UPDATE users SET status = 'disabled' WHERE id = $1", ann.id)
    assert (await ann.get("/me")).status_code == 401
    r = await client.post("/auth/login", json={"identifier": "dis@example.com", "password": PASSWORD})
    assert r.status_code == 401


def client_ips(app: Litestar) -> ASGIApp:
    """The app seeing a request come from the address in its `X-Test-Client` header, if any (Litestar's test
    client always says 'testclient')."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        ip = dict(scope.get("headers", [])).get(b"x-test-client")
        await app({**scope, "client": (ip.decode(), 50000)} if ip else scope, receive, send)  # type: ignore[misc]

    return wrapped


ELSEWHERE = {"X-Test-Client": "198.51.100.20"}  # another address than the test client's


async def test_login_is_rate_limited_per_ip_across_accounts(settings: Settings) -> None:
    async with AsyncTestClient(app=client_ips(create_app(structs.replace(settings, auth_rate_limit=3)))) as client:
        await client.post("/auth/register", json={"email": "rl@example.com", "password": PASSWORD})
        wrong = [{"identifier": f"guess{n}@example.com", "password": "wrong-wrong-1"} for n in range(4)]
        assert [(await client.post("/auth/login", json=body)).status_code for body in wrong] == [401, 401, 401, 429]
        owner = {"identifier": "rl@example.com", "password": PASSWORD}
        r = await client.post("/auth/login", json=owner)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # The limit is this address's: the account's owner elsewhere is not affected.
        assert (await client.post("/auth/login", json=owner, headers=ELSEWHERE)).status_code == 200


async def test_a_stranger_guessing_a_password_cannot_lock_its_owner_out(settings: Settings) -> None:
    app = create_app(structs.replace(settings, auth_rate_limit=10, login_free_failures=3))
    async with AsyncTestClient(app=client_ips(app)) as stranger:
        await stranger.post("/auth/register", json={"email": "victim@example.com", "password": PASSWORD})
        guess = {"identifier": "victim@example.com", "password": "guess-guess-1"}
        codes = [(await stranger.post("/auth/login", json=guess)).status_code for _ in range(10)]
        # Ten failures on the account, all from one stranger: the owner, at another address, still logs in ...
        owner = {"identifier": "victim@example.com", "password": PASSWORD}
        r = await stranger.post("/auth/login", json=owner, headers=ELSEWHERE)
        assert r.status_code == 200, r.text
        # ... while the stranger waits after three failures, even with the right password now.
        assert codes == [401] * 3 + [429] * 7
        r = await stranger.post("/auth/login", json=guess | {"password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


async def test_failures_from_one_address_wait_a_delay_that_doubles(settings: Settings) -> None:
    app = create_app(structs.replace(settings, login_free_failures=2, login_delay_seconds=1))
    async with AsyncTestClient(app=app) as client:
        await client.post("/auth/register", json={"email": "slow@example.com", "password": PASSWORD})
        guess = {"identifier": "slow@example.com", "password": "guess-guess-1"}
        right = guess | {"password": PASSWORD}
        assert [(await client.post("/auth/login", json=guess)).status_code for _ in range(2)] == [401, 401]
        r = await client.post("/auth/login", json=right)
        assert (r.status_code, r.headers["retry-after"]) == (429, "1")
        await asyncio.sleep(1.05)
        assert (await client.post("/auth/login", json=guess)).status_code == 401  # tried after the delay: wrong
        r = await client.post("/auth/login", json=right)
        assert (r.status_code, r.headers["retry-after"]) == (429, "2")
        await asyncio.sleep(2.05)
        assert (await client.post("/auth/login", json=right)).status_code == 200
        # A success forgets the failures: the next mistakes are answered at once again.
        assert [(await client.post("/auth/login", json=guess)).status_code for _ in range(2)] == [401, 401]


async def test_concurrent_guesses_cannot_slip_past_the_failure_count(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(structs.replace(settings, login_free_failures=3))) as client:
        await client.post("/auth/register", json={"email": "burst@example.com", "password": PASSWORD})
        guess = {"identifier": "burst@example.com", "password": "guess-guess-1"}
        replies = await asyncio.gather(*(client.post("/auth/login", json=guess) for _ in range(10)))
        assert sorted(r.status_code for r in replies) == [401] * 3 + [429] * 7


async def test_two_factor_routes_are_rate_limited_like_login(settings: Settings) -> None:
    async with AsyncTestClient(app=client_ips(create_app(structs.replace(settings, auth_rate_limit=3)))) as client:
        ann = await sign_up(client, "limits@example.com")
        assert (await ann.post("/auth/totp/enrol")).status_code == 201
        codes = [(await ann.post("/auth/totp/confirm", json={"code": "000000"})).status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        r = await ann.post("/auth/totp/disable", json={"code": "000000"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # They need the account's token, so the account's own limit holds from any address.
        r = await client.post("/auth/totp/confirm", json={"code": "000000"}, headers=ann.headers | ELSEWHERE)
        assert r.status_code == 429


async def test_wrong_two_factor_codes_at_login_count_as_failures(settings: Settings) -> None:
    app = create_app(structs.replace(settings, login_free_failures=2))
    async with AsyncTestClient(app=app) as client:
        ann = await sign_up(client, "codes@example.com")
        totp = pyotp.TOTP((await ann.post("/auth/totp/enrol")).json()["secret"])
        assert (await ann.post("/auth/totp/confirm", json={"code": totp.now()})).status_code == 200
        wrong = f"{(int(totp.now()) + 500_000) % 1_000_000:06d}"
        creds = {"identifier": "codes@example.com", "password": PASSWORD, "totp_code": wrong}
        codes = [(await client.post("/auth/login", json=creds)).status_code for _ in range(3)]
        assert codes == [401, 401, 429]


async def test_two_factor_enrol_confirm_and_require_at_login(client: AsyncTestClient[Litestar]) -> None:
    ann = await sign_up(client, "totp@example.com")
    r = await ann.post("/auth/totp/enrol")
    assert r.status_code == 201
    enrolment = r.json()
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/Marketplace:totp%40example.com")
    totp = pyotp.TOTP(enrolment["secret"])
    assert (await ann.post("/auth/totp/confirm", json={"code": "000000"})).status_code in (401,)
    r = await ann.post("/auth/totp/confirm", json={"code": totp.now()})
    assert r.status_code == 200 and r.json()["totp_enabled"] is True

    creds = {"identifier": "totp@example.com", "password": PASSWORD}
    r = await client.post("/auth/login", json=creds)
    assert r.status_code == 401 and r.json()["totp_required"] is True
    # The confirming code was used once already; the next time step's code works.
    code = totp.at(time.time() + totp.interval)
    r = await client.post("/auth/login", json={**creds, "totp_code": code})
    assert r.status_code == 200
    r = await client.post("/auth/login", json={**creds, "totp_code": code})
    assert r.status_code == 401, "a code must not work twice"


async def test_profile_update(buyer: Actor) -> None:
    r = await buyer.patch("/me", json={"display_name": "Ann"})
    assert r.status_code == 200 and r.json()["display_name"] == "Ann"


async def test_address_book_keeps_exactly_one_default(buyer: Actor) -> None:
    first = (await buyer.post("/me/addresses", json=ADDRESS)).json()
    assert first["is_default"] is True
    second = (await buyer.post("/me/addresses", json={**ADDRESS, "line1": "2 Market St", "is_default": True})).json()
    listed = (await buyer.get("/me/addresses")).json()
    assert [a["id"] for a in listed if a["is_default"]] == [second["id"]]
    r = await buyer.patch(f"/me/addresses/{first['id']}", json={"is_default": True, "city": "Hamburg"})
    assert r.json()["is_default"] and r.json()["city"] == "Hamburg"
    assert (await buyer.delete(f"/me/addresses/{first['id']}")).status_code == 204
    listed = (await buyer.get("/me/addresses")).json()
    assert [a["id"] for a in listed] == [second["id"]] and listed[0]["is_default"]


async def test_concurrent_default_changes_keep_one_default(buyer: Actor) -> None:
    ids = [(await buyer.post("/me/addresses", json=ADDRESS)).json()["id"] for _ in range(5)]
    await asyncio.gather(*(buyer.patch(f"/me/addresses/{i}", json={"is_default": True}) for i in ids))
    listed = (await buyer.get("/me/addresses")).json()
    assert sum(a["is_default"] for a in listed) == 1


async def test_buyer_cannot_read_or_change_another_users_addresses(
    client: AsyncTestClient[Litestar], buyer: Actor
) -> None:
    mine = (await buyer.post("/me/addresses", json=ADDRESS)).json()
    eve = await sign_up(client, "eve@example.com")
    assert (await eve.get(f"/me/addresses/{mine['id']}")).status_code == 404
    assert (await eve.patch(f"/me/addresses/{mine['id']}", json={"city": "Nowhere"})).status_code == 404
    assert (await eve.delete(f"/me/addresses/{mine['id']}")).status_code == 404
    assert (await eve.get("/me/addresses")).json() == []
    assert (await buyer.get(f"/me/addresses/{mine['id']}")).json()["city"] == "Berlin"


async def test_buyer_cannot_read_other_profiles_or_admin_routes(buyer: Actor, admin: Actor) -> None:
    assert (await buyer.get(f"/admin/users/{admin.id}")).status_code == 403
    assert (await buyer.get("/admin/users")).status_code == 403
    assert (await buyer.put(f"/admin/users/{buyer.id}/roles", json={"roles": ["admin"]})).status_code == 403


async def test_admin_manages_roles_and_it_is_audited(admin: Actor, buyer: Actor) -> None:
    r = await admin.put(f"/admin/users/{buyer.id}/roles", json={"roles": ["marketer"]})
    assert r.status_code == 200 and r.json()["roles"] == ["buyer", "marketer"]
    audit = (await admin.get("/admin/audit", params={"action": "user.roles_changed"})).json()["items"]
    assert audit[0]["actor_id"] == admin.id and audit[0]["after"] == {"roles": ["buyer", "marketer"]}
    # vendor is granted by approval only; an admin cannot demote themself
    assert (await admin.put(f"/admin/users/{buyer.id}/roles", json={"roles": ["vendor"]})).status_code == 422
    assert (await admin.put(f"/admin/users/{admin.id}/roles", json={"roles": ["buyer"]})).status_code == 422


async def test_role_removal_takes_effect_on_the_next_request(admin: Actor, client: AsyncTestClient[Litestar]) -> None:
    other = await sign_up(client, "admin2@example.com")
    await admin.put(f"/admin/users/{other.id}/roles", json={"roles": ["admin"]})
    assert (await other.get("/admin/users")).status_code == 200
    await admin.put(f"/admin/users/{other.id}/roles", json={"roles": ["buyer"]})
    assert (await other.get("/admin/users")).status_code == 403


async def test_admin_user_list_pages_and_filters(admin: Actor, client: AsyncTestClient[Litestar]) -> None:
    for i in range(5):
        await sign_up(client, f"page{i}@example.com")
    first = (await admin.get("/admin/users", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (await admin.get("/admin/users", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert not {u["id"] for u in first["items"]} & {u["id"] for u in second["items"]}
    found = (await admin.get("/admin/users", params={"q": "page3"})).json()["items"]
    assert [u["email"] for u in found] == ["page3@example.com"]
    admins = (await admin.get("/admin/users", params={"role": "admin"})).json()["items"]
    assert [u["id"] for u in admins] == [admin.id]


async def test_relogin_helper_gives_new_tokens(buyer: Actor) -> None:
    again = await relogin(buyer)
    assert again.tokens["access_token"] != buyer.tokens["access_token"]

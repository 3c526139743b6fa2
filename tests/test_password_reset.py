"""Password reset and email verification by mailed single-use tokens, read from a real SMTP server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import PASSWORD, sign_up
from tests.mail_fixtures import Mailbox, mailbox, settings, text_of

__all__ = ["mailbox", "settings"]
pytestmark = pytest.mark.timeout(60)
NEW_PASSWORD = "a whole new passphrase"


def token_in(text: str) -> str:
    found = re.search(r"Token: (\S+)", text)
    assert found, text
    return found.group(1)


async def test_a_mailed_reset_token_sets_a_new_password_once_and_ends_every_session(
    client: AsyncTestClient[Litestar], mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    ann = await sign_up(client, "ann@example.com")
    r = await client.post("/auth/password-reset", json={"email": "ANN@example.com"})
    assert r.status_code == 202, r.text
    mail = await mailbox.wait_for("ann@example.com", "Reset your password")
    token = token_in(text_of(mail))
    assert token in text_of(mail, "html") and "List-Unsubscribe" not in mail  # account mail: no unsubscribe
    # Stored hashed, not as mailed; and the queued mail forgets the token once sent.
    assert await db.fetchval("SELECT count(*) FROM account_tokens WHERE token_hash = $1", token.encode()) == 0
    assert await db.fetchval("SELECT data FROM notifications WHERE kind = 'password_reset'") == {}

    r = await client.post("/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    assert (await ann.get("/me")).status_code == 401  # the old session ended
    old = await client.post("/auth/login", json={"identifier": ann.email, "password": PASSWORD})
    assert old.status_code == 401
    new = await client.post("/auth/login", json={"identifier": ann.email, "password": NEW_PASSWORD})
    assert new.status_code == 200
    again = await client.post("/auth/password-reset/confirm", json={"token": token, "password": "yet another phrase"})
    assert again.status_code == 422 and "invalid, used or expired" in again.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'user.password_reset'") == 1


async def test_a_reset_request_never_tells_whether_the_account_exists(
    client: AsyncTestClient[Litestar], mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    await sign_up(client, "ann@example.com")
    known = await client.post("/auth/password-reset", json={"email": "ann@example.com"})
    unknown = await client.post("/auth/password-reset", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202 and known.content == unknown.content
    await mailbox.wait_for("ann@example.com", "Reset your password")
    assert mailbox.messages("nobody@example.com") == []
    assert (await client.post("/auth/password-reset", json={"email": "not an email"})).status_code == 400
    bad = await client.post("/auth/password-reset/confirm", json={"token": "x" * 43, "password": NEW_PASSWORD})
    assert bad.status_code == 422


async def test_reset_requests_are_rate_limited_per_address(client: AsyncTestClient[Litestar], mailbox: Mailbox) -> None:
    for _ in range(3):
        assert (await client.post("/auth/password-reset", json={"email": "ann@example.com"})).status_code == 202
    r = await client.post("/auth/password-reset", json={"email": "Ann@Example.com"})
    assert r.status_code == 429 and "retry-after" in r.headers


async def test_an_expired_or_superseded_reset_token_is_refused(
    client: AsyncTestClient[Litestar], mailbox: Mailbox, db: asyncpg.Connection
) -> None:
    await sign_up(client, "ann@example.com")
    await client.post("/auth/password-reset", json={"email": "ann@example.com"})
    first = token_in(text_of(await mailbox.wait_for("ann@example.com", "Reset your password")))
    await db.execute("UPDATE account_tokens SET expires_at = $1 WHERE purpose = 'password_reset'", datetime.now(UTC))
    r = await client.post("/auth/password-reset/confirm", json={"token": first, "password": NEW_PASSWORD})
    assert r.status_code == 422
    await db.execute("UPDATE account_tokens SET expires_at = $1", datetime.now(UTC) + timedelta(minutes=5))
    await client.post("/auth/password-reset", json={"email": "ann@example.com"})  # a newer link replaces it
    r = await client.post("/auth/password-reset/confirm", json={"token": first, "password": NEW_PASSWORD})
    assert r.status_code == 422
    weak = [m for m in mailbox.messages("ann@example.com") if "Reset" in m["Subject"]]
    while len(weak) < 2:
        await mailbox.wait_for("ann@example.com", "Reset your password")
        weak = [m for m in mailbox.messages("ann@example.com") if "Reset" in m["Subject"]]
    second = token_in(text_of(weak[1]))
    r = await client.post("/auth/password-reset/confirm", json={"token": second, "password": "password"})
    assert r.status_code == 422  # too weak: refused, and the token stays good
    r = await client.post("/auth/password-reset/confirm", json={"token": second, "password": NEW_PASSWORD})
    assert r.status_code == 204


async def test_registration_mails_a_verification_link_that_confirms_the_address(
    client: AsyncTestClient[Litestar], mailbox: Mailbox
) -> None:
    ann = await sign_up(client, "ann@example.com")
    assert (await ann.get("/me")).json()["email_verified_at"] is None  # may sign in and browse meanwhile
    token = token_in(text_of(await mailbox.wait_for("ann@example.com", "Confirm your email address")))
    r = await client.post("/auth/verify-email", json={"token": token})
    assert r.status_code == 200 and r.json()["email_verified_at"] is not None
    assert (await client.post("/auth/verify-email", json={"token": token})).status_code == 422
    assert (await ann.post("/auth/verify-email/resend")).status_code == 409

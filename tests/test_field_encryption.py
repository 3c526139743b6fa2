"""Personal data and secrets sealed at rest (marketplace/core/fields.py): a dump holds none of them in clear, a
phone still logs in, a ciphertext moved to another field does not open, rotation mid-traffic loses nothing, and
vendors see a buyer's address only while they may need it."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pyotp
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.backup import pg_program
from marketplace.core import fields
from marketplace.privacy import rotation
from marketplace.rotate_keys import add_key
from marketplace.seed.loader import seed
from marketplace.settings import Settings
from tests.conftest import ADDRESS, PASSWORD, SHOP, Actor, sign_up

PHONE = "+4917098765432"
PAYOUT = "DE89370400440532013000"


async def phone_buyer(client: AsyncTestClient[Litestar]) -> Actor:
    r = await client.post("/auth/register", json={"phone": PHONE, "password": PASSWORD, "display_name": "Phone"})
    assert r.status_code == 201, r.text
    r = await client.post("/auth/login", json={"identifier": PHONE, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return Actor(client, {"id": 0, "email": PHONE}, r.json())


async def test_a_dump_of_the_demo_holds_no_phone_address_licence_or_totp_secret_in_clear(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, database_url: str, admin: Actor
) -> None:
    await seed(db, "tiny", 3, quiet=True)
    buyer = await phone_buyer(client)
    secret = (await buyer.post("/auth/totp/enrol")).json()["secret"]
    assert (await buyer.post("/auth/totp/confirm", json={"code": pyotp.TOTP(secret).now()})).status_code == 200
    assert (await buyer.post("/me/addresses", json=ADDRESS)).status_code == 201
    vendor = await sign_up(client, "sealed-shop@example.com")
    r = await vendor.post("/vendor-applications", json={**SHOP, "contact_phone": "+4930123456789"})
    assert (await admin.post(f"/admin/vendor-applications/{r.json()['id']}/approve")).status_code == 200
    vendor = Actor(
        client,
        {"id": vendor.id, "email": vendor.email},
        (await client.post("/auth/login", json={"identifier": vendor.email, "password": PASSWORD})).json(),
    )
    r = await vendor.patch("/vendor/shop", json={"payout_account": PAYOUT})
    assert r.status_code == 200, r.text
    assert r.json()["payout_account"] == "•••• 3000" and r.json()["licence_number"] == SHOP["licence_number"]

    dumped = await asyncio.create_subprocess_exec(
        pg_program("pg_dump"), "--data-only", database_url, stdout=asyncio.subprocess.PIPE
    )
    dump = (await dumped.communicate())[0].decode()
    assert "COPY public.users" in dump and "fe1." in dump  # the dump is real and holds sealed values
    for clear in (
        PHONE,
        secret,
        ADDRESS["recipient"],
        ADDRESS["line1"],
        ADDRESS["phone"],
        SHOP["licence_number"],
        "+4930123456789",
        PAYOUT,
        "DEMO-1000",
        "1 Demo Street",
        "+4915100000000",
    ):
        assert clear not in dump, f"{clear} is in the dump in clear"

    # What the owner reads back is what they gave.
    me = (await buyer.get("/me")).json()
    assert me["phone"] == PHONE
    assert (await buyer.get("/me/addresses")).json()[0]["line1"] == ADDRESS["line1"]


async def test_a_phone_logs_in_is_unique_and_is_found_whole_by_an_admin(
    client: AsyncTestClient[Litestar], admin: Actor
) -> None:
    await phone_buyer(client)
    r = await client.post("/auth/register", json={"phone": PHONE, "password": PASSWORD})
    assert r.status_code == 409 and "phone" in r.json()["detail"]
    r = await client.post("/auth/login", json={"identifier": PHONE, "password": "wrong password here"})
    assert r.status_code == 401
    found = (await admin.get("/admin/users", params={"q": PHONE})).json()["items"]
    assert [u["phone"] for u in found] == [PHONE]


async def test_a_sealed_value_opens_only_as_its_own_field_and_not_once_altered(settings: Settings) -> None:
    ring = fields.configure(settings).ring()
    sealed = ring.seal("JBSWY3DPEHPK3PXP", fields.TOTP_SECRET)
    assert ring.open(sealed, fields.TOTP_SECRET) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(fields.FieldKeyError):
        ring.open(sealed, fields.USER_PHONE)  # moved into a field its reader would show
    altered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(fields.FieldKeyError):
        ring.open(altered, fields.TOTP_SECRET)
    assert ring.seal("", fields.USER_PHONE) == ""


async def test_rotation_while_buyers_edit_their_addresses_loses_no_write(
    client: AsyncTestClient[Litestar], settings: Settings, database_url: str
) -> None:
    buyers = [await sign_up(client, f"rotating{i}@example.com") for i in range(6)]
    addresses = [(await b.post("/me/addresses", json=ADDRESS)).json()["id"] for b in buyers]
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    last: dict[int, str] = {}
    old_key = fields.configure(settings).ring().active

    async def edit(n: int) -> None:
        for round_ in range(12):
            line = f"{round_} Rotation Road {n}"
            r = await buyers[n].patch(f"/me/addresses/{addresses[n]}", json={"line1": line})
            assert r.status_code == 200, r.text
            last[n] = line
            await asyncio.sleep(0)

    try:
        new_key = add_key(settings)
        resealed = asyncio.create_task(rotation.reseal(db, batch=2))
        await asyncio.gather(*(edit(n) for n in range(len(buyers))))
        first, _ = await resealed
        _, left = await rotation.reseal(db, batch=2)  # whatever was written after the first run's passes
        assert first >= len(buyers) and left == 0 and await rotation.remaining(db) == 0
        assert new_key != old_key and fields.cipher().ring().active == new_key
        for n, b in enumerate(buyers):
            assert (await b.get("/me/addresses")).json()[0]["line1"] == last[n]
        stored = await db.fetch("SELECT line1, recipient FROM addresses")
        assert all(r["line1"].startswith(f"fe1.{new_key}.") for r in stored)
    finally:
        await db.close()


async def test_text_written_before_encryption_is_sealed_once_and_still_reads(
    client: AsyncTestClient[Litestar], buyer: Actor, db: asyncpg.Connection, database_url: str
) -> None:
    await db.execute(
        "INSERT INTO addresses (user_id, recipient, phone, line1, city, postal_code, country)"
        " VALUES ($1, 'Old Name', '+4915111111111', '9 Legacy Lane', 'Bonn', '53111', 'DE')",
        buyer.id,
    )
    assert (await buyer.get("/me/addresses")).json()[0]["line1"] == "9 Legacy Lane"
    assert await rotation.seal_plaintext(database_url) == 1
    row = await db.fetchrow("SELECT line1, recipient FROM addresses WHERE user_id = $1", buyer.id)
    assert row["line1"].startswith("fe1.") and row["recipient"].startswith("fe1.")
    assert (await buyer.get("/me/addresses")).json()[0]["line1"] == "9 Legacy Lane"
    assert await rotation.seal_plaintext(database_url) == 0


async def test_a_vendor_sees_the_address_while_the_order_is_open_and_only_the_city_after_the_window(
    client: AsyncTestClient[Litestar], shop: dict[str, Any], db: asyncpg.Connection
) -> None:
    vendor = shop["alpha"]
    order_id = (await shop["checkout"](True))[vendor.vendor_id]["id"]
    ship_to = (await vendor.get(f"/vendor/orders/{order_id}")).json()["ship_to"]
    assert ship_to["line1"] == ADDRESS["line1"] and ship_to["phone"] == ADDRESS["phone"]
    await db.execute(
        "UPDATE orders SET status = 'completed', updated_at = now() - interval '30 days' WHERE id = $1", order_id
    )
    ship_to = (await vendor.get(f"/vendor/orders/{order_id}")).json()["ship_to"]
    assert ship_to == {"city": "Berlin", "region": "", "country": "DE", "recipient": "A.", "masked": True}
    buyer_view = (await shop["buyer"].get(f"/orders/{order_id}")).json()["ship_to"]
    assert buyer_view["line1"] == ADDRESS["line1"]


async def test_two_ways_of_writing_one_street_share_a_match_key_and_another_street_does_not(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection
) -> None:
    first, second, third = [await sign_up(client, f"match{i}@example.com") for i in range(3)]
    await first.post("/me/addresses", json=ADDRESS)
    await second.post("/me/addresses", json={**ADDRESS, "recipient": "Someone Else", "line1": "1 market street."})
    await third.post("/me/addresses", json={**ADDRESS, "line1": "2 Market Street"})
    keys = [
        await db.fetchval("SELECT match_key FROM addresses WHERE user_id = $1", a.id) for a in (first, second, third)
    ]
    assert keys[0] and keys[0] == keys[1] != keys[2]
    assert ADDRESS["line1"].lower() not in keys[0]  # a keyed hash, not the street

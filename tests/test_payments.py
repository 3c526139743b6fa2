"""Payments: the sandbox gateway's signed callbacks pay a checkout once, and only when they check out."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.core.db import create_pool
from marketplace.payments.sandbox import SIGNATURE_HEADER, Callback, SandboxGateway
from marketplace.settings import Settings, load_settings
from marketplace.workflows.sweeper import expire_unpaid
from tests.catalog_helpers import category_tree, product
from tests.conftest import ADDRESS, Actor, approved_vendor, sign_up
from tests.test_order_lifecycle import SHIP


@pytest.fixture
def gateway(settings: Settings) -> SandboxGateway:
    return SandboxGateway(settings.webhook_secret)


@pytest.fixture
async def placed(client: AsyncTestClient[Litestar], admin: Actor) -> dict[str, Any]:
    """A buyer's checkout for 3 kettles from one vendor and 1 hose from another, with a payment started."""
    cats = await category_tree(admin)
    alpha = await approved_vendor(client, admin, "alpha@example.com", "Alpha")
    beta = await approved_vendor(client, admin, "beta@example.com", "Beta")
    kettle = await product(alpha, cats["Kettles"], "Kettle", 3000, stock=10)
    hose = await product(beta, cats["Garden"], "Hose", 1000, stock=5)
    buyer = await sign_up(client, "payer@example.com")
    address = (await buyer.post("/me/addresses", json=ADDRESS)).json()
    await buyer.put(f"/cart/items/{kettle['skus'][0]['id']}", json={"quantity": 3})
    await buyer.put(f"/cart/items/{hose['skus'][0]['id']}", json={"quantity": 1})
    checkout = (await buyer.post("/checkouts", json={"address_id": address["id"]})).json()
    r = await buyer.post(f"/checkouts/{checkout['id']}/payments", json={"method": "sandbox"})
    assert r.status_code == 201, r.text
    return {"buyer": buyer, "checkout": checkout, "payment": r.json()["payment"], "kettle": kettle, "hose": hose}


async def deliver(client: AsyncTestClient[Litestar], body: bytes, signature: str) -> Any:
    return await client.post(
        "/payments/webhooks/sandbox",
        content=body,
        headers={SIGNATURE_HEADER: signature, "content-type": "application/json"},
    )


async def test_signed_callback_pays_the_checkout_and_sells_the_stock(
    client: AsyncTestClient[Litestar], placed: dict[str, Any], gateway: SandboxGateway, db: asyncpg.Connection
) -> None:
    payment = placed["payment"]
    assert payment["amount"] == placed["checkout"]["grand_total"] == 10499
    r = await deliver(client, *gateway.callback(payment["provider_ref"], payment["amount"], "EUR"))
    assert r.status_code == 200 and r.json() == {"outcome": "applied"}
    checkout = (await placed["buyer"].get(f"/checkouts/{placed['checkout']['id']}")).json()
    assert checkout["status"] == "paid" and {o["status"] for o in checkout["orders"]} == {"paid"}
    kettle = await db.fetchrow("SELECT on_hand, reserved FROM skus WHERE id = $1", placed["kettle"]["skus"][0]["id"])
    assert tuple(kettle) == (7, 0)
    sold = await db.fetch("SELECT delta, order_id FROM stock_movements WHERE reason = 'sold' ORDER BY sku_id")
    assert [m["delta"] for m in sold] == [-3, -1] and all(m["order_id"] for m in sold)
    assert await db.fetchval("SELECT count(*) FROM events WHERE type = 'order.paid'") == 4  # 2 orders x 2 feeds


async def test_duplicated_callback_pays_once(
    client: AsyncTestClient[Litestar], placed: dict[str, Any], gateway: SandboxGateway, db: asyncpg.Connection
) -> None:
    payment = placed["payment"]
    body, signature = gateway.callback(payment["provider_ref"], payment["amount"], "EUR")
    results = await asyncio.gather(*(deliver(client, body, signature) for _ in range(4)))
    outcomes = sorted(r.json()["outcome"] for r in results)
    assert outcomes == ["applied", "duplicate", "duplicate", "duplicate"]
    # A second event for the same payment (a gateway retry with a fresh id) changes nothing either.
    assert (await deliver(client, *gateway.callback(payment["provider_ref"], payment["amount"], "EUR"))).json() == {
        "outcome": "duplicate"
    }
    assert await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", placed["kettle"]["skus"][0]["id"]) == 7
    assert await db.fetchval("SELECT count(*) FROM stock_movements WHERE reason = 'sold'") == 2


@pytest.mark.parametrize(
    "tamper",
    ["wrong-secret", "edited-body", "no-signature", "stale-signature"],
)
async def test_callbacks_with_bad_signatures_are_rejected_and_logged(
    client: AsyncTestClient[Litestar],
    placed: dict[str, Any],
    gateway: SandboxGateway,
    db: asyncpg.Connection,
    tamper: str,
) -> None:
    payment = placed["payment"]
    body, signature = gateway.callback(payment["provider_ref"], payment["amount"], "EUR")
    if tamper == "wrong-secret":
        signature = SandboxGateway("not-the-secret").sign(body)
    elif tamper == "edited-body":
        body = body.replace(b"payment.succeeded", b"payment.succeedez")
    elif tamper == "no-signature":
        signature = ""
    else:
        signature = gateway.sign(body, int(time.time()) - 3600)
    r = await deliver(client, body, signature)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert await db.fetchval("SELECT outcome FROM payment_callbacks") == "bad_signature"
    assert await db.fetchval("SELECT status FROM checkouts") == "pending_payment"


async def test_callback_with_the_wrong_amount_or_currency_is_rejected(
    client: AsyncTestClient[Litestar], placed: dict[str, Any], gateway: SandboxGateway, db: asyncpg.Connection
) -> None:
    payment = placed["payment"]
    for amount, currency in [(payment["amount"] - 1, "EUR"), (payment["amount"], "USD")]:
        r = await deliver(client, *gateway.callback(payment["provider_ref"], amount, currency))
        assert r.status_code == 422
    outcomes = [r["outcome"] for r in await db.fetch("SELECT outcome FROM payment_callbacks ORDER BY id")]
    assert outcomes == ["amount_mismatch", "amount_mismatch"]
    assert await db.fetchval("SELECT status FROM payments") == "pending"


async def test_declined_payment_leaves_the_checkout_payable(
    client: AsyncTestClient[Litestar], placed: dict[str, Any], gateway: SandboxGateway
) -> None:
    payment = placed["payment"]
    r = await deliver(client, *gateway.callback(payment["provider_ref"], payment["amount"], "EUR", succeeded=False))
    assert r.json() == {"outcome": "applied"}
    again = await placed["buyer"].post(f"/checkouts/{placed['checkout']['id']}/payments", json={})
    assert again.status_code == 201 and again.json()["payment"]["provider_ref"] != payment["provider_ref"]


async def test_payment_after_expiry_is_refunded_not_applied(
    client: AsyncTestClient[Litestar], placed: dict[str, Any], gateway: SandboxGateway, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE checkouts SET status = 'expired'")
    payment = placed["payment"]
    r = await deliver(client, *gateway.callback(payment["provider_ref"], payment["amount"], "EUR"))
    assert r.json() == {"outcome": "refunded_late_payment"}
    row = await db.fetchrow("SELECT status, refunded_amount, amount FROM payments")
    assert row["status"] == "refunded" and row["refunded_amount"] == row["amount"]
    assert await db.fetchval("SELECT count(*) FROM stock_movements WHERE reason = 'sold'") == 0


async def test_only_the_buyer_pays_and_only_once(client: AsyncTestClient[Litestar], placed: dict[str, Any]) -> None:
    checkout_id = placed["checkout"]["id"]
    stranger = await sign_up(client, "stranger@example.com")
    assert (await stranger.post(f"/checkouts/{checkout_id}/payments", json={})).status_code == 404
    assert (await stranger.get(f"/checkouts/{checkout_id}/payments")).status_code == 404
    assert (await placed["buyer"].post(f"/checkouts/{checkout_id}/payments", json={})).status_code == 409
    assert (
        await placed["buyer"].post(f"/checkouts/{checkout_id}/payments", json={"method": "bitcoin"})
    ).status_code == 400
    assert len((await placed["buyer"].get(f"/checkouts/{checkout_id}/payments")).json()) == 1


def test_callback_struct_refuses_unknown_fields() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"event_id":"e","type":"t","ref":"r","amount":1,"currency":"EUR","x":1}', type=Callback)


def test_the_sandbox_gateway_is_off_unless_turned_on(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.delenv("SANDBOX_GATEWAY", raising=False)
    assert load_settings(data_dir=str(settings.data_dir)).sandbox_gateway is False
    monkeypatch.setenv("SANDBOX_GATEWAY", "true")
    assert load_settings(data_dir=str(settings.data_dir)).sandbox_gateway is True


async def test_without_the_setting_the_sandbox_gateway_is_absent_and_card_payments_are_refused(
    settings: Settings, shop: dict[str, Any], db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    buyer = shop["buyer"]
    # A payment started where the gateway is on (as a buyer of a misconfigured deployment would hold one) ...
    first = (await shop["checkout"](pay=False))["checkout"]
    ref = (await buyer.post(f"/checkouts/{first['id']}/payments", json={})).json()["payment"]["provider_ref"]
    second = (await shop["checkout"](pay=False))["checkout"]
    caplog.clear()
    off = create_app(msgspec.structs.replace(settings, sandbox_gateway=False))
    assert not [r for r in caplog.records if "sandbox gateway is mounted" in r.getMessage()]
    async with AsyncTestClient(app=off) as client:
        # ... cannot be approved by its buyer where it is off: the gateway's routes and its webhook do not exist.
        for path in ("/sandbox-gateway/{}/approve", "/sandbox-gateway/{}/decline", "/payments/webhooks/sandbox"):
            assert (await client.post(path.format(ref))).status_code == 404, path
        assert await db.fetchval("SELECT status FROM payments WHERE provider_ref = $1", ref) == "pending"
        pay = f"/checkouts/{second['id']}/payments"
        for body in ({"method": "sandbox"}, {}):
            r = await client.post(pay, json=body, headers=buyer.headers)
            assert r.status_code == 422 and "bank_transfer" in r.json()["detail"], r.text
        assert await db.fetchval("SELECT count(*) FROM payments") == 1
        assert (await client.post(pay, json={"method": "bank_transfer"}, headers=buyer.headers)).status_code == 201


def test_a_mounted_sandbox_gateway_is_announced_at_start(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(settings)  # the tests' settings turn it on
    assert "/sandbox-gateway/{ref:str}/approve" in app.route_handler_method_map
    [warning] = [r for r in caplog.records if "sandbox gateway is mounted" in r.getMessage()]
    assert warning.levelname == "WARNING" and "must not be used in production" in warning.getMessage()


async def test_bank_transfer_is_paid_when_an_admin_confirms_the_money(
    client: AsyncTestClient[Litestar], admin: Actor, db: asyncpg.Connection
) -> None:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "bt@example.com", "Transfer Goods")
    item = await product(vendor, cats["Kettles"], "Kettle", 3000, stock=5)
    buyer = await sign_up(client, "transfer@example.com")
    address = (await buyer.post("/me/addresses", json=ADDRESS)).json()
    await buyer.put(f"/cart/items/{item['skus'][0]['id']}", json={"quantity": 2})
    checkout = (await buyer.post("/checkouts", json={"address_id": address["id"]})).json()
    r = await buyer.post(f"/checkouts/{checkout['id']}/payments", json={"method": "bank_transfer"})
    assert r.status_code == 201
    started = r.json()
    assert started["next_action"]["type"] == "bank_transfer" and "BT-" in started["next_action"]["url"]
    # The stock is held for the days a transfer takes.
    assert await db.fetchval("SELECT expires_at > now() + interval '2 days' FROM checkouts")
    payment_id = started["payment"]["id"]
    assert (
        await buyer.post(f"/admin/payments/{payment_id}/confirm-transfer", json={"amount_received": 6000})
    ).status_code == 403
    assert [p["id"] for p in (await admin.get("/admin/payments/transfers")).json()] == [payment_id]
    short = await admin.post(f"/admin/payments/{payment_id}/confirm-transfer", json={"amount_received": 5999})
    assert short.status_code == 422
    r = await admin.post(f"/admin/payments/{payment_id}/confirm-transfer", json={"amount_received": 6000})
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    assert (await buyer.get(f"/checkouts/{checkout['id']}")).json()["status"] == "paid"
    again = await admin.post(f"/admin/payments/{payment_id}/confirm-transfer", json={"amount_received": 6000})
    assert again.status_code == 409
    assert await db.fetchval("SELECT sum(amount) FROM ledger_entries") == 0
    assert await db.fetchval("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1") == "payment.transfer_confirmed"


async def pay_cash(buyer: Actor, checkout_id: int) -> Any:
    return await buyer.post(f"/checkouts/{checkout_id}/payments", json={"method": "cash_on_delivery"})


async def test_cash_on_delivery_goes_ahead_unpaid_and_settles_on_delivery(
    shop: dict[str, Any], database_url: str, db: asyncpg.Connection
) -> None:
    alpha, beta, buyer = shop["alpha"], shop["beta"], shop["buyer"]
    orders = await shop["checkout"](pay=False)  # kettles 2 x 3000 (alpha), hose 1 x 6000 (beta)
    checkout_id = orders["checkout"]["id"]
    r = await pay_cash(buyer, checkout_id)
    assert r.status_code == 201, r.text
    assert r.json()["next_action"]["type"] == "cash_on_delivery" and r.json()["payment"]["status"] == "pending"
    checkout = (await buyer.get(f"/checkouts/{checkout_id}")).json()
    assert checkout["status"] == "cash_on_delivery"
    assert {(o["status"], o["cash_on_delivery"]) for o in checkout["orders"]} == {("confirmed", True)}
    kettle = await db.fetchrow("SELECT on_hand, reserved FROM skus WHERE id = $1", shop["kettle"]["skus"][0]["id"])
    assert tuple(kettle) == (8, 0)  # sold, not merely reserved
    # The payment deadline no longer applies: the sweeper leaves the checkout alone.
    await db.execute("UPDATE checkouts SET expires_at = now() - interval '1 second'")
    pool = await create_pool(database_url, 1, 2)
    try:
        assert await expire_unpaid(pool) == 0
    finally:
        await pool.close()
    assert await db.fetchval("SELECT count(*) FROM events WHERE type = 'order.confirmed'") == 4

    # Alpha's courier delivers and takes the cash: alpha now owes us its 10% commission.
    kettles = orders[alpha.vendor_id]["id"]
    for action, body in (("accept", None), ("ship", SHIP), ("deliver", None)):
        r = await alpha.post(f"/vendor/orders/{kettles}/{action}", json=body)
        assert r.status_code == 200, r.text
    assert (await alpha.get("/vendor/settlement/balance")).json()["balance"] == -600
    statement = (await alpha.get("/vendor/settlement/statement")).json()["items"]
    assert [(s["kind"], s["amount"]) for s in statement] == [("cash_collected", -600)]
    assert (await buyer.get(f"/checkouts/{checkout_id}/payments")).json()[0]["status"] == "succeeded"

    # Beta refuses its order before delivery: the hose goes back on the shelf and nothing is refunded.
    r = await beta.post(f"/vendor/orders/{orders[beta.vendor_id]['id']}/reject", json={"reason": "out of stock"})
    assert r.status_code == 200 and r.json()["order"]["status"] == "cancelled"
    hose = await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", shop["hose"]["skus"][0]["id"])
    assert hose == 10
    assert await db.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = 'refund'") == 0
    assert await db.fetchval("SELECT sum(amount) FROM ledger_entries") == 0


async def test_cash_on_delivery_cancelled_entirely_is_never_due(shop: dict[str, Any], db: asyncpg.Connection) -> None:
    buyer = shop["buyer"]
    orders = await shop["checkout"](pay=False)
    assert (await pay_cash(buyer, orders["checkout"]["id"])).status_code == 201
    for vendor_id in (shop["alpha"].vendor_id, shop["beta"].vendor_id):
        r = await buyer.post(f"/orders/{orders[vendor_id]['id']}/cancel", json={"reason": "changed my mind"})
        assert r.status_code == 200, r.text
    assert (await buyer.get(f"/checkouts/{orders['checkout']['id']}/payments")).json()[0]["status"] == "failed"
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 0
    stock = await db.fetch("SELECT on_hand, reserved FROM skus ORDER BY id")
    assert [tuple(s) for s in stock] == [(10, 0), (10, 0)]


async def test_cash_on_delivery_above_the_limit_is_refused(shop: dict[str, Any], db: asyncpg.Connection) -> None:
    buyer = shop["buyer"]
    await buyer.put(f"/cart/items/{shop['hose']['skus'][0]['id']}", json={"quantity": 9})  # 54,000 > 50,000
    address_id = (await buyer.get("/me/addresses")).json()[0]["id"]
    checkout = (await buyer.post("/checkouts", json={"address_id": address_id})).json()
    r = await pay_cash(buyer, checkout["id"])
    assert r.status_code == 422 and r.json()["limit"] == 50_000
    assert await db.fetchval("SELECT count(*) FROM payments") == 0
    assert (await buyer.get(f"/checkouts/{checkout['id']}")).json()["status"] == "pending_payment"
    # Still payable another way.
    assert (await buyer.post(f"/checkouts/{checkout['id']}/payments", json={})).status_code == 201

"""A small marketplace with two vendors and a buyer who can check out (and pay) at will: the fixture the
order, payment-flow and review tests share."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.payments.sandbox import SIGNATURE_HEADER, SandboxGateway
from marketplace.settings import Settings
from tests.catalog_helpers import category_tree, product
from tests.conftest import ADDRESS, Actor, approved_vendor, sign_up


@pytest.fixture
async def shop(client: AsyncTestClient[Litestar], admin: Actor, settings: Settings) -> dict[str, Any]:
    cats = await category_tree(admin)
    alpha = await approved_vendor(client, admin, "alpha@example.com", "Alpha")
    beta = await approved_vendor(client, admin, "beta@example.com", "Beta")
    kettle = await product(alpha, cats["Kettles"], "Kettle", 3000, stock=10)
    hose = await product(beta, cats["Garden"], "Hose", 6000, stock=10)
    buyer = await sign_up(client, "buyer2@example.com")
    address = (await buyer.post("/me/addresses", json=ADDRESS)).json()

    async def pay_checkout(placed: dict[str, Any]) -> None:
        payment = (await buyer.post(f"/checkouts/{placed['id']}/payments", json={})).json()["payment"]
        gateway = SandboxGateway(settings.webhook_secret)
        body, signature = gateway.callback(payment["provider_ref"], payment["amount"], "EUR")
        r = await client.post("/payments/webhooks/sandbox", content=body, headers={SIGNATURE_HEADER: signature})
        assert r.json() == {"outcome": "applied"}

    async def checkout(pay: bool) -> dict[str, Any]:
        await buyer.put(f"/cart/items/{kettle['skus'][0]['id']}", json={"quantity": 2})
        await buyer.put(f"/cart/items/{hose['skus'][0]['id']}", json={"quantity": 1})
        placed = (await buyer.post("/checkouts", json={"address_id": address["id"]})).json()
        if pay:
            await pay_checkout(placed)
        return {o["vendor_id"]: o for o in placed["orders"]} | {"checkout": placed}

    return {"alpha": alpha, "beta": beta, "buyer": buyer, "kettle": kettle, "hose": hose, "checkout": checkout,
            "pay_checkout": pay_checkout}  # fmt: skip

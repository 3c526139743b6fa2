"""HTTP routes of payments: paying a checkout, the providers' webhook, and the sandbox gateway's page."""

from __future__ import annotations

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from marketplace.core.auth import AuthedRequest, admin_only
from marketplace.core.deps import AppState
from marketplace.core.errors import Unprocessable
from marketplace.core.idempotency import IdempotencyKey, run_once
from marketplace.payments import PaymentMethod, service
from marketplace.payments.sandbox import SIGNATURE_HEADER
from marketplace.payments.schemas import CallbackResult, PaymentIn, PaymentOut, PaymentStarted, TransferReceived


class CheckoutPaymentController(Controller):
    path = "/checkouts/{checkout_id:int}/payments"
    tags = ["payments"]

    @post("/", summary="Pay a checkout; the amount is the checkout's total")
    async def start(
        self,
        state: AppState,
        request: AuthedRequest,
        checkout_id: FromPath[int],
        data: JSONBody[PaymentIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PaymentStarted]:
        if data.method == PaymentMethod.SANDBOX and not state.settings.sandbox_gateway:
            raise Unprocessable(
                "card payments (the sandbox gateway) are not offered here; pay by bank_transfer or cash_on_delivery",
                methods=[PaymentMethod.BANK_TRANSFER, PaymentMethod.CASH_ON_DELIVERY],
            )

        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            started = await service.start_payment(
                conn,
                state.gateway,
                request.user.id,
                checkout_id,
                data.method,
                state.settings.cash_on_delivery_limit,
            )
            return 201, msgspec.json.encode(started)

        route = f"POST /checkouts/{checkout_id}/payments"
        return await run_once(state.db, request.user.id, route, idempotency_key, msgspec.json.encode(data), work)

    @get("/", summary="The payments of my checkout")
    async def payments(self, state: AppState, request: AuthedRequest, checkout_id: FromPath[int]) -> list[PaymentOut]:
        return await service.payments_of(state.db, request.user.id, checkout_id)


class WebhookController(Controller):
    """Mounted with the sandbox gateway only (SANDBOX_GATEWAY)."""

    path = "/payments/webhooks"
    tags = ["payments"]

    @post("/sandbox", exclude_from_auth=True, status_code=200, summary="Callbacks from the sandbox gateway")
    async def sandbox(self, state: AppState, request: Request) -> CallbackResult:  # type: ignore[type-arg]
        body = await request.body()
        outcome = await service.handle_callback(state.db, state.gateway, body, request.headers.get(SIGNATURE_HEADER))
        return CallbackResult(outcome)


class SandboxGatewayController(Controller):
    """Stands in for the gateway's own payment page: approving sends the signed callback to our webhook
    over HTTP, exactly as an external gateway would. Approving needs no login, so anyone holding a payment's
    reference could mark it paid: mounted only when SANDBOX_GATEWAY is on (the demo and the tests)."""

    path = "/sandbox-gateway"
    tags = ["sandbox gateway"]

    @post("/{ref:str}/approve", exclude_from_auth=True, status_code=200)
    async def approve(self, state: AppState, ref: FromPath[str]) -> CallbackResult:
        return await self._answer(state, ref, succeeded=True)

    @post("/{ref:str}/decline", exclude_from_auth=True, status_code=200)
    async def decline(self, state: AppState, ref: FromPath[str]) -> CallbackResult:
        return await self._answer(state, ref, succeeded=False)

    async def _answer(self, state: AppState, ref: str, succeeded: bool) -> CallbackResult:
        return CallbackResult(await service.answer_sandbox(state.db, state.gateway, state.callbacks, ref, succeeded))


class AdminPaymentController(Controller):
    path = "/admin/payments"
    tags = ["admin"]
    guards = [admin_only]

    @get("/transfers", summary="Bank transfers still awaited")
    async def transfers(self, state: AppState) -> list[PaymentOut]:
        return await service.pending_transfers(state.db)

    @post("/{payment_id:int}/confirm-transfer", status_code=200, summary="The transfer arrived: pay the checkout")
    async def confirm(
        self, state: AppState, request: AuthedRequest, payment_id: FromPath[int], data: JSONBody[TransferReceived]
    ) -> PaymentOut:
        return await service.confirm_transfer(state.db, request.user.id, payment_id, data.amount_received)

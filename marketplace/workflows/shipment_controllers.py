"""HTTP routes of carrier shipping (workflows/shipments.py): a vendor ships through the sandbox carrier, the
carrier's webhook, and the sandbox carrier's own side, which posts tracking events to that webhook over HTTP
as an external carrier would. The sandbox carrier, its webhook and its side are mounted only with
SANDBOX_GATEWAY on (`SANDBOX_CARRIER_ROUTES`), like the sandbox payment gateway: anyone may post its events."""

from __future__ import annotations

import httpx
from litestar import Controller, Request, post
from litestar.params import FromPath, JSONBody

from marketplace.core.auth import AuthedRequest, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.logistics import service as logistics
from marketplace.logistics.carriers import JOURNEY, TrackingType
from marketplace.logistics.sandbox import SIGNATURE_HEADER, SandboxCarrier
from marketplace.logistics.schemas import SandboxEventIn, ShipWithCarrierIn, TrackingResult
from marketplace.orders import read
from marketplace.workflows.shipments import receive_tracking_event, ship_with_carrier

WEBHOOK_PATH = "/logistics/webhooks/sandbox"


def sandbox_carrier(state: AppState) -> SandboxCarrier:
    return SandboxCarrier(state.settings.carrier_webhook_secret)


class VendorCarrierShipController(Controller):
    path = "/vendor/orders"
    tags = ["vendor orders"]
    guards = [requires_active_vendor]

    @post(
        "/{order_id:int}/ship-with-carrier",
        status_code=200,
        summary="Hand over to an integrated carrier: it issues the tracking number and confirms delivery",
    )
    async def ship(
        self, state: AppState, request: AuthedRequest, order_id: FromPath[int], data: JSONBody[ShipWithCarrierIn]
    ) -> read.OrderDetail:
        if not state.settings.sandbox_gateway:
            raise Unprocessable(
                "no integrated carrier is offered here; ship with any carrier and its tracking number "
                "(POST /vendor/orders/{id}/ship)"
            )
        return await ship_with_carrier(
            state.db, sandbox_carrier(state), order_id, vendor_id=request.user.vendor_id, actor_id=request.user.id,
            estimated_arrival=data.estimated_arrival,
        )  # fmt: skip


class CarrierWebhookController(Controller):
    path = "/logistics/webhooks"
    tags = ["logistics"]

    @post("/sandbox", exclude_from_auth=True, status_code=200, summary="Tracking events from the sandbox carrier")
    async def sandbox(self, state: AppState, request: Request) -> TrackingResult:  # type: ignore[type-arg]
        carrier = sandbox_carrier(state)
        body = await request.body()
        return TrackingResult(
            await receive_tracking_event(state.db, carrier, body, request.headers.get(SIGNATURE_HEADER))
        )


class SandboxCarrierController(Controller):
    """Stands in for the carrier's own systems: posting an event here makes the carrier send it, signed, to
    our webhook over HTTP. Needs no login (a carrier's scanners do not log in to the marketplace)."""

    path = "/sandbox-carrier"
    tags = ["sandbox carrier"]

    @post("/{tracking_number:str}/events", exclude_from_auth=True, status_code=200,
          summary="The carrier scans the parcel: post an event (none named: its next step)")  # fmt: skip
    async def scan(
        self, state: AppState, tracking_number: FromPath[str], data: JSONBody[SandboxEventIn]
    ) -> TrackingResult:
        async with state.db.acquire() as conn:
            shipment = await logistics.shipment_for_tracking(conn, SandboxCarrier.name, tracking_number)
        if shipment is None:
            raise NotFound("the carrier knows no such parcel")
        if data.type is not None:
            type_ = TrackingType(data.type)
        elif shipment["status"] in ("created", "exception"):
            type_ = JOURNEY[0] if shipment["status"] == "created" else TrackingType.OUT_FOR_DELIVERY
        elif shipment["status"] == TrackingType.DELIVERED:
            raise Conflict("this parcel was delivered")
        else:
            type_ = JOURNEY[JOURNEY.index(TrackingType(shipment["status"])) + 1]
        body, signature = sandbox_carrier(state).event(tracking_number, type_, data.location, data.description)
        try:
            r = await state.callbacks.post(
                WEBHOOK_PATH, content=body, headers={SIGNATURE_HEADER: signature, "content-type": "application/json"}
            )
        except httpx.HTTPError as exc:  # as a carrier would, report it; the event may still have arrived
            return TrackingResult(f"event not confirmed: {type(exc).__name__}")
        return TrackingResult(r.json().get("outcome", f"webhook answered {r.status_code}"))


# Mounted beside the sandbox payment gateway's routes, only with SANDBOX_GATEWAY on.
SANDBOX_CARRIER_ROUTES = [CarrierWebhookController, SandboxCarrierController]

"""The application, wired in one place: lifespan resources, auth, routes, errors and OpenAPI."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar
from litestar.config.cors import CORSConfig

from analytics.controllers import (
    CampaignController,
    DeliveryQualityController,
    SalesController,
    SegmentController,
    SegmentRunController,
    VendorSalesController,
)
from marketplace.accounts.controllers import AdminUsersController, AuthController, MeController
from marketplace.accounts.self_service_controllers import AccountSecurityController
from marketplace.aftersales.controllers import (
    AdminAftersalesController,
    BuyerAftersalesController,
    OpenAftersalesController,
    VendorAftersalesController,
)
from marketplace.audit.controllers import AuditController
from marketplace.cart.controllers import CartController
from marketplace.catalog.controllers import (
    AdminCatalogController,
    CategoryController,
    ListingReviewController,
    VendorProductController,
    image,
)
from marketplace.core import fields
from marketplace.core.auth import build_jwt_auth
from marketplace.core.cache import catalog_generation_middleware
from marketplace.core.db import create_pool
from marketplace.core.deps import AppState
from marketplace.core.edge import check_input
from marketplace.core.errors import exception_handlers, problem_type, problem_types
from marketplace.core.headers import security_headers
from marketplace.core.metrics import RequestMetrics, metrics, sample_forever
from marketplace.core.openapi import ContractOpenAPIConfig, attach
from marketplace.core.redis_pool import redis_client
from marketplace.disputes.controllers import (
    BuyerDisputeController,
    SupportDisputeController,
    VendorDisputeController,
)
from marketplace.flash_sales.batch import PurchaseBatches
from marketplace.flash_sales.controllers import (
    FlashSaleController,
    MarketingFlashSaleController,
    VendorFlashSaleController,
)
from marketplace.flash_sales.gate import Gate, GateKeeper
from marketplace.group_buys.controllers import GroupBuyController, VendorGroupBuyController
from marketplace.health import health
from marketplace.interactions.recorder import InteractionRecorder
from marketplace.interactions.retention import run_retention
from marketplace.inventory.controllers import InventoryController
from marketplace.keeper import die_with_parent
from marketplace.logistics.controllers import (
    BuyerTrackingController,
    SupportLateShipmentController,
    VendorLateShipmentController,
    VendorProductShippingController,
    VendorShippingTemplateController,
    VendorTrackingController,
)
from marketplace.logistics.service import watch_late_shipments
from marketplace.notifications.controllers import MyNotificationsController, UnsubscribeController
from marketplace.notifications.notifier import Notifier
from marketplace.orders.controllers import BuyerOrderController, CheckoutController, VendorOrderController
from marketplace.payments.controllers import (
    AdminPaymentController,
    CheckoutPaymentController,
    SandboxGatewayController,
    WebhookController,
)
from marketplace.payments.sandbox import SandboxGateway
from marketplace.privacy.controllers import MyDataController
from marketplace.promotions.controllers import MarketingCouponController, VendorCouponController, WalletController
from marketplace.questions.controllers import (
    MyQuestionsController,
    ProductQuestionController,
    VendorQuestionController,
)
from marketplace.reviews.controllers import ProductReviewController, VendorReviewController
from marketplace.risk.controllers import RiskController
from marketplace.risk.worker import run_risk_worker
from marketplace.search.controllers import SearchController
from marketplace.settings import Settings, load_settings
from marketplace.settlement.controllers import AdminSettlementController, VendorSettlementController
from marketplace.support.controllers import SupportDeskController
from marketplace.vendors.controllers import (
    AdminVendorController,
    ApplicationController,
    PublicVendorController,
    ShopController,
)
from marketplace.web.plugin import WebPlugin, api_docs_plugins
from marketplace.workflows.controllers import BuyerOrderMoveController, VendorOrderMoveController
from marketplace.workflows.shipment_controllers import SANDBOX_CARRIER_ROUTES, VendorCarrierShipController
from marketplace.workflows.support_controllers import SupportActionController
from marketplace.workflows.sweeper import run_sweeper
from realtime.feed import feed
from realtime.hub import Hub
from realtime.relay import Relay
from recommender.controllers import RecommendationController

ROUTES = [
    health,
    metrics,
    AuthController,
    MeController,
    AccountSecurityController,
    MyNotificationsController,
    MyDataController,
    UnsubscribeController,
    AdminUsersController,
    ApplicationController,
    ShopController,
    PublicVendorController,
    AdminVendorController,
    AuditController,
    CategoryController,
    AdminCatalogController,
    ListingReviewController,
    VendorProductController,
    InventoryController,
    SearchController,
    image,
    CartController,
    CheckoutController,
    BuyerOrderController,
    BuyerOrderMoveController,
    VendorOrderController,
    VendorOrderMoveController,
    VendorCarrierShipController,
    BuyerTrackingController,
    VendorTrackingController,
    VendorShippingTemplateController,
    VendorProductShippingController,
    VendorLateShipmentController,
    SupportLateShipmentController,
    CheckoutPaymentController,
    AdminPaymentController,
    ProductReviewController,
    VendorReviewController,
    ProductQuestionController,
    MyQuestionsController,
    VendorQuestionController,
    VendorSettlementController,
    AdminSettlementController,
    OpenAftersalesController,
    BuyerAftersalesController,
    VendorAftersalesController,
    AdminAftersalesController,
    BuyerDisputeController,
    VendorDisputeController,
    SupportDisputeController,
    SupportDeskController,
    SupportActionController,
    FlashSaleController,
    VendorFlashSaleController,
    MarketingFlashSaleController,
    GroupBuyController,
    VendorGroupBuyController,
    MarketingCouponController,
    VendorCouponController,
    WalletController,
    RecommendationController,
    SalesController,
    VendorSalesController,
    DeliveryQualityController,
    SegmentController,
    SegmentRunController,
    CampaignController,
    RiskController,
    feed,
    problem_types,
    problem_type,
]


# The sandbox card gateway's page and the webhook it calls: mounted only with SANDBOX_GATEWAY on (the demo, tests).
SANDBOX_ROUTES = [WebhookController, SandboxGatewayController]
SANDBOX_ROUTES += SANDBOX_CARRIER_ROUTES  # the sandbox carrier's side and its tracking webhook (logistics)

log = logging.getLogger(__name__)


async def _cancel(tasks: list[asyncio.Task[object]], within: float = 5.0) -> None:
    """Cancel background tasks and wait for them, cancelling again while any is left: on Python 3.11,
    asyncio.wait_for and redis-py's reads can swallow a cancellation that lands as they finish, which left
    shutdown waiting out its whole timeout."""
    pending = set(tasks)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app. Workers started by `marketplace serve` call this with no arguments and read the
    URLs the CLI put in their environment."""
    settings = settings or load_settings()
    fields.configure(settings)
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("DATABASE_URL and REDIS_URL must be set (marketplace serve sets them for you)")
    if os.environ.get("MARKETPLACE_SERVE_PID") == str(os.getppid()):
        die_with_parent()  # a web worker of `marketplace serve`: it must not outlive serve, even a SIGKILLed one

    @asynccontextmanager
    async def resources(app: Litestar) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.db = await create_pool(settings.database_url, settings.db_pool_min, settings.db_pool_max)
        app.state.redis = redis_client(settings.redis_url, decode_responses=True)
        app.state.cache = redis_client(settings.redis_url)  # bytes in, bytes out
        app.state.recorder = InteractionRecorder(
            app.state.db, enabled=settings.record_interactions, redis=app.state.redis
        )
        app.state.recorder.start()
        app.state.gateway = SandboxGateway(settings.webhook_secret)
        # One client for every callback: building one costs more than the callback (it loads the CA bundle).
        app.state.callbacks = httpx.AsyncClient(base_url=settings.public_url, timeout=10)
        app.state.hub = Hub(app.state.db, settings.redis_url)
        app.state.gate = Gate(app.state.redis)
        app.state.flash_purchases = PurchaseBatches(app.state.db, settings.flash_sale_hold_minutes * 60)
        # Every worker runs a relay; one leads at a time (realtime/relay.py).
        app.state.relay = Relay(settings.database_url, app.state.cache, retention_days=settings.feed_retention_days)
        app.state.notifier = Notifier(settings)  # one leads across workers, like the relay
        background = [
            asyncio.create_task(
                run_sweeper(app.state.db, settings.sweeper_interval_seconds, settings.auto_complete_days)
            ),
            asyncio.create_task(app.state.hub.run()),
            asyncio.create_task(
                GateKeeper(
                    app.state.db, app.state.gate, settings.flash_gate_check_seconds, settings.flash_gate_quiet_seconds
                ).run()
            ),
            asyncio.create_task(app.state.relay.run()),
            asyncio.create_task(run_retention(app.state.db, settings.interaction_retention_days)),
            asyncio.create_task(app.state.notifier.run()),
            asyncio.create_task(
                watch_late_shipments(app.state.db, settings.ship_within_hours, settings.late_shipment_check_seconds)
            ),
            asyncio.create_task(run_risk_worker(app.state.db, settings)),  # rules, trust scores (risk/worker.py)
            asyncio.create_task(sample_forever(app.state)),  # several workers: their gauges (core/metrics.py)
        ]
        try:
            yield
        finally:
            await app.state.hub.stop()
            await _cancel(background)
            await app.state.recorder.stop()
            await app.state.callbacks.aclose()
            await app.state.cache.aclose()
            await app.state.redis.aclose()
            await app.state.db.close()

    if settings.sandbox_gateway:
        log.warning(
            "the sandbox gateway is mounted (SANDBOX_GATEWAY=true): anyone may approve a payment without paying; "
            "it must not be used in production"
        )
    jwt_auth = build_jwt_auth(settings.secret_key, settings.access_token_minutes)
    app = Litestar(
        route_handlers=ROUTES + SANDBOX_ROUTES if settings.sandbox_gateway else ROUTES,
        state=AppState(),
        lifespan=[resources],
        exception_handlers=exception_handlers,
        before_request=check_input,  # ids, media types, strict JSON, NUL and bigint bounds (core/edge.py)
        middleware=[catalog_generation_middleware],
        before_send=[security_headers],  # nosniff, frame and referrer policies, CSP, no-store (core/headers.py)
        on_app_init=[jwt_auth.on_app_init],
        plugins=[WebPlugin(settings)],  # the shop's pages, their cookie sessions and static files (marketplace/web/)
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(allow_origins=[]),
        openapi_config=ContractOpenAPIConfig(
            title="Marketplace",
            version="0.1.0",
            description="A real-time multi-vendor marketplace. Errors are RFC 9457 problem details with a "
            "stable `code` (GET /problems lists them). Integers are 64-bit and text never contains NUL (U+0000).",
            path="/schema",
            render_plugins=api_docs_plugins(),  # their scripts served from /static/vendor, not a CDN
        ),
        logging_config=None,
        debug=settings.debug,
    )
    attach(app)  # statuses, security and content types per route in the OpenAPI document (core/openapi.py)
    app.asgi_handler = RequestMetrics(app.asgi_handler)  # outermost: sees every response's final status
    return app


logging.getLogger("marketplace").setLevel(logging.INFO)

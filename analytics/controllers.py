"""HTTP routes of analytics. Sales figures: the platform's for marketers and admins (/analytics), a shop's
own for its vendor (/vendor/analytics; the vendor comes from the caller, never from the request). Customer
analytics, for marketers and admins only since they name customers: segments and their members, segment
runs, and campaigns with their uplift reports. Most answer as JSON, CSV or a PNG chart (`format`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Annotated, Any, Literal

import asyncpg
import msgspec
import pandas as pd
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from analytics import campaigns, segments
from analytics import sales as metrics
from analytics.delivery import DeliveryQuality, delivery_quality
from analytics.exports import charts, csv_response, frame_of, members_csv, png_response, segment_sizes_png
from analytics.sales import Grain, Period
from analytics.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignReport,
    Cohorts,
    FunnelPeriod,
    MemberOut,
    Ranked,
    SalesPeriod,
    SegmentKind,
    SegmentOut,
    SegmentRunOut,
    TopSellers,
)
from marketplace.core.auth import AuthedRequest, requires_active_vendor, requires_role
from marketplace.core.deps import AppState
from marketplace.core.idempotency import IdempotencyKey, run_once
from marketplace.core.paging import Cursor, Limit, Page

Format = Annotated[Literal["json", "csv"], QueryParameter(description="json (the default) or csv")]
ChartFormat = Annotated[
    Literal["json", "csv", "png"], QueryParameter(description="json (the default), csv, or png (a chart)")
]
Start = Annotated[
    date | None, QueryParameter(name="from", description="First day (UTC), included; default 30 days ago")
]
End = Annotated[date | None, QueryParameter(name="to", description="Last day (UTC), included; default today")]
GrainParam = Annotated[Grain, QueryParameter(description="day, or week (Monday to Sunday)")]
Top = Annotated[int, QueryParameter(ge=1, le=100, description="How many products and categories")]


# Figures per day or week: how to fetch them, their row type, and their chart (by name) with its title.
PER_PERIOD: dict[str, tuple[Callable[..., Awaitable[Sequence[Any]]], type[msgspec.Struct], str, str]] = {
    "sales": (metrics.sales, SalesPeriod, "sales_trend", "Sales"),
    "funnel": (metrics.funnel, FunnelPeriod, "funnel", "Conversion funnel"),
}


async def _per_period(
    state: AppState,
    metric: str,
    vendor_id: int | None,
    start: date | None,
    end: date | None,
    grain: Grain,
    format: str,
) -> Any:
    fetch, kind, chart, title = PER_PERIOD[metric]
    period = Period.of(start, end, grain)
    listed = await fetch(state.db, period, vendor_id)
    if format == "json":
        return listed
    frame = frame_of(listed, kind)
    if format == "csv":
        return csv_response(frame, f"{metric}-{period.start}-{period.end}.csv")
    return png_response(getattr(charts(), chart)(frame, f"{title} by {grain}, {period.start} to {period.end}"))


async def _top(
    state: AppState, vendor_id: int | None, start: date | None, end: date | None, limit: int, format: str
) -> TopSellers | Response[bytes]:
    found = await metrics.top(state.db, Period.of(start, end), vendor_id, limit)
    if format == "csv":
        frame = pd.concat([frame_of(found.products, Ranked).assign(kind="products"),
                           frame_of(found.categories, Ranked).assign(kind="categories")])  # fmt: skip
        return csv_response(frame[["kind", *Ranked.__struct_fields__]], f"top-{found.start}-{found.end}.csv")
    return found


class SalesController(Controller):
    path = "/analytics"
    tags = ["analytics"]
    guards = [requires_role("marketer", "admin")]

    @get("/sales", summary="The platform's GMV, orders, average order, buyers and repeat rate per day or week")
    async def sales(
        self,
        state: AppState,
        start: Start = None,
        end: End = None,
        grain: GrainParam = "day",
        format: ChartFormat = "json",
    ) -> list[SalesPeriod] | Response[bytes]:
        return await _per_period(state, "sales", None, start, end, grain, format)

    @get("/sales/top", summary="The platform's best-selling products and categories by revenue")
    async def top(
        self, state: AppState, start: Start = None, end: End = None, limit: Top = 10, format: Format = "json"
    ) -> TopSellers | Response[bytes]:
        return await _top(state, None, start, end, limit, format)

    @get("/funnel", summary="Visitors who viewed, carted, ordered and paid, per day or week")
    async def funnel(
        self,
        state: AppState,
        start: Start = None,
        end: End = None,
        grain: GrainParam = "day",
        format: ChartFormat = "json",
    ) -> list[FunnelPeriod] | Response[bytes]:
        return await _per_period(state, "funnel", None, start, end, grain, format)

    @get("/cohorts", summary="Monthly acquisition cohorts' retention, and the churn rate")
    async def cohorts(self, state: AppState, format: ChartFormat = "json") -> Cohorts | Response[bytes]:
        found, matrix = await metrics.cohorts(state.db)
        if format == "csv":
            return csv_response(matrix.rename_axis("cohort").reset_index().astype({"cohort": str}), "cohorts.csv")
        if format == "png":
            return png_response(charts().cohort_heatmap(matrix))
        return found


class DeliveryQualityController(Controller):
    """Shops' delivery quality (analytics/delivery.py), for staff: support watches late shops too."""

    path = "/analytics/delivery"
    tags = ["analytics"]
    guards = [requires_role("support", "marketer", "admin")]

    @get("/", summary="Each shop's ship-on-time rate, average transit time and exception rate")
    async def delivery(
        self, state: AppState, start: Start = None, end: End = None, vendor_id: FromQuery[int | None] = None
    ) -> list[DeliveryQuality]:
        period = Period.of(start, end)
        return await delivery_quality(state.db, period, state.settings.ship_within_hours, vendor_id)


class VendorSalesController(Controller):
    path = "/vendor/analytics"
    tags = ["analytics"]
    guards = [requires_active_vendor]

    @get("/delivery", summary="My shop's ship-on-time rate, average transit time and exception rate")
    async def delivery(
        self, state: AppState, request: AuthedRequest, start: Start = None, end: End = None
    ) -> list[DeliveryQuality]:
        hours = state.settings.ship_within_hours
        return await delivery_quality(state.db, Period.of(start, end), hours, request.user.vendor_id)

    @get("/sales", summary="My shop's GMV, orders, average order, buyers and repeat rate per day or week")
    async def sales(
        self,
        state: AppState,
        request: AuthedRequest,
        start: Start = None,
        end: End = None,
        grain: GrainParam = "day",
        format: ChartFormat = "json",
    ) -> list[SalesPeriod] | Response[bytes]:
        return await _per_period(state, "sales", request.user.vendor_id, start, end, grain, format)

    @get("/sales/top", summary="My best-selling products and their categories by revenue")
    async def top(
        self,
        state: AppState,
        request: AuthedRequest,
        start: Start = None,
        end: End = None,
        limit: Top = 10,
        format: Format = "json",
    ) -> TopSellers | Response[bytes]:
        return await _top(state, request.user.vendor_id, start, end, limit, format)

    @get("/funnel", summary="Visitors who viewed, carted, ordered and paid my products, per day or week")
    async def funnel(
        self,
        state: AppState,
        request: AuthedRequest,
        start: Start = None,
        end: End = None,
        grain: GrainParam = "day",
        format: ChartFormat = "json",
    ) -> list[FunnelPeriod] | Response[bytes]:
        return await _per_period(state, "funnel", request.user.vendor_id, start, end, grain, format)


class SegmentController(Controller):
    path = "/marketing/segments"
    tags = ["analytics"]
    guards = [requires_role("marketer", "admin")]

    @get("/", summary="The newest run's segments with sizes, value and trend")
    async def listing(
        self, state: AppState, kind: FromQuery[SegmentKind | None] = None, format: ChartFormat = "json"
    ) -> list[SegmentOut] | Response[bytes]:
        listed = await segments.listing(state.db, kind)
        if format == "csv":
            return csv_response(segments.sizes_frame(listed), "segments.csv")
        if format == "png":
            return segment_sizes_png(listed)
        return listed

    @get("/{segment_id:int}")
    async def segment(self, state: AppState, segment_id: FromPath[int]) -> SegmentOut:
        return await segments.get(state.db, segment_id)

    @get("/{segment_id:int}/members", summary="A segment's customers, by buyer id (cursor: the last buyer id)")
    async def members(
        self,
        state: AppState,
        segment_id: FromPath[int],
        cursor: Cursor = None,
        limit: Limit = 50,
        format: Format = "json",
    ) -> Page[MemberOut] | Response[bytes]:
        if format == "csv":  # every member, for a mailing tool
            return await members_csv(state.db, segment_id)
        return await segments.members(state.db, segment_id, cursor, limit)


class SegmentRunController(Controller):
    path = "/marketing/segment-runs"
    tags = ["analytics"]
    guards = [requires_role("marketer", "admin")]

    @post("/", status_code=202, summary="Recompute the segments now (the analytics worker takes it up)")
    async def request_run(self, state: AppState, request: AuthedRequest) -> SegmentRunOut:
        return await segments.request(state.db, request.user.id)

    @get("/", summary="Segment runs, newest first")
    async def runs(self, state: AppState, cursor: Cursor = None, limit: Limit = 20) -> Page[SegmentRunOut]:
        return await segments.runs(state.db, cursor, limit)

    @get("/{run_id:int}")
    async def run(self, state: AppState, run_id: FromPath[int]) -> SegmentRunOut:
        return await segments.run(state.db, run_id)


class CampaignController(Controller):
    path = "/marketing/campaigns"
    tags = ["analytics"]
    guards = [requires_role("marketer", "admin")]

    @post("/", summary="Send a segment an issued coupon and a message, holding out a random control group")
    async def launch(
        self,
        state: AppState,
        request: AuthedRequest,
        data: JSONBody[CampaignIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CampaignOut]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            return 201, msgspec.json.encode(await campaigns.launch(conn, request.user.id, data))

        body = msgspec.json.encode(data)
        return await run_once(state.db, request.user.id, "POST /marketing/campaigns", idempotency_key, body, work)

    @get("/", summary="Campaigns, newest first")
    async def listing(self, state: AppState, cursor: Cursor = None, limit: Limit = 20) -> Page[CampaignOut]:
        return await campaigns.listing(state.db, cursor, limit)

    @get("/{campaign_id:int}")
    async def campaign(self, state: AppState, campaign_id: FromPath[int]) -> CampaignOut:
        return await campaigns.get(state.db, campaign_id)

    @get("/{campaign_id:int}/report", summary="Redemption, conversion, revenue and uplift against the holdout")
    async def report(
        self, state: AppState, campaign_id: FromPath[int], format: ChartFormat = "json"
    ) -> CampaignReport | Response[bytes]:
        report = await campaigns.report(state.db, campaign_id)
        if format == "csv":
            return csv_response(pd.DataFrame(campaigns.report_rows(report)), f"campaign-{campaign_id}-report.csv")
        if format == "png":
            return png_response(charts().campaign(report))
        return report

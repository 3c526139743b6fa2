"""HTTP routes of customer analytics, for marketers and admins only (they name customers): segments and
their members, segment runs, and campaigns with their uplift reports."""

from __future__ import annotations

from typing import Annotated, Literal

import asyncpg
import msgspec
import pandas as pd
from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from analytics import campaigns, segments
from analytics.schemas import CampaignIn, CampaignOut, CampaignReport, MemberOut, SegmentKind, SegmentOut, SegmentRunOut
from marketplace.core.auth import AuthedRequest, requires_role
from marketplace.core.deps import AppState
from marketplace.core.idempotency import run_once
from marketplace.core.paging import Cursor, Limit, Page, page_of
from marketplace.orders.controllers import IdempotencyKey

Format = Annotated[Literal["json", "csv"], QueryParameter(description="json (the default) or csv")]


def csv_response(frame: pd.DataFrame, filename: str) -> Response[bytes]:
    return Response(
        frame.to_csv(index=False).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class SegmentController(Controller):
    path = "/marketing/segments"
    tags = ["analytics"]
    guards = [requires_role("marketer", "admin")]

    @get("/", summary="The newest run's segments with sizes, value and trend")
    async def listing(
        self, state: AppState, kind: SegmentKind | None = None, format: Format = "json"
    ) -> list[SegmentOut] | Response[bytes]:
        listed = await segments.listing(state.db, kind)
        if format == "csv":
            return csv_response(segments.sizes_frame(listed), "segments.csv")
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
            listed = await segments.members(state.db, segment_id, None, 10_000_000)
            frame = pd.DataFrame([msgspec.structs.asdict(m) for m in listed], columns=list(MemberOut.__struct_fields__))
            return csv_response(frame, f"segment-{segment_id}-members.csv")
        return page_of(await segments.members(state.db, segment_id, cursor, limit + 1), limit, key="buyer_id")


class SegmentRunController(Controller):
    path = "/marketing/segment-runs"
    tags = ["analytics"]
    guards = [requires_role("marketer", "admin")]

    @post("/", status_code=202, summary="Recompute the segments now (the analytics worker takes it up)")
    async def request_run(self, state: AppState, request: AuthedRequest) -> SegmentRunOut:
        return await segments.request(state.db, request.user.id)

    @get("/", summary="Segment runs, newest first")
    async def runs(self, state: AppState, cursor: Cursor = None, limit: Limit = 20) -> Page[SegmentRunOut]:
        return page_of(await segments.runs(state.db, cursor, limit + 1), limit)

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
        return page_of(await campaigns.listing(state.db, cursor, limit + 1), limit)

    @get("/{campaign_id:int}")
    async def campaign(self, state: AppState, campaign_id: FromPath[int]) -> CampaignOut:
        return await campaigns.get(state.db, campaign_id)

    @get("/{campaign_id:int}/report", summary="Redemption, conversion, revenue and uplift against the holdout")
    async def report(
        self, state: AppState, campaign_id: FromPath[int], format: Format = "json"
    ) -> CampaignReport | Response[bytes]:
        report = await campaigns.report(state.db, campaign_id)
        if format == "csv":
            return csv_response(pd.DataFrame(campaigns.report_rows(report)), f"campaign-{campaign_id}-report.csv")
        return report

"""The marketer's console at /marketing: customer segments (RFM and clusters, with size, spend, lifetime value
and their trend between runs), a segment's members with a CSV export, a "run now" that follows the run
until it is done, cohort retention as a heatmap, the conversion funnel, a campaign builder (segment, coupon,
message, holdout share) and each campaign's report with its uplift and intervals.

Mounted at /marketing by plugin.py with `page_router`; every page is for marketers and admins, the roles the
JSON API's marketing routes let in (anyone else gets 403 and no data, a visitor is sent to sign in). The
pages call the same analytics functions as analytics/controllers.py and add no rule of their own; charts
are the same PNGs, served here under the page session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from analytics import campaigns, exports, segments
from analytics import sales as metrics
from analytics.sales import Period
from analytics.schemas import CampaignIn, CampaignOut
from marketplace.core.auth import CurrentUser
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError, Forbidden
from marketplace.core.idempotency import once
from marketplace.core.money import DEFAULT_CURRENCY
from marketplace.core.types import MAX_BIGINT
from marketplace.promotions import service as promotions
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.render import page
from marketplace.web.session import signed_in

MEMBERS_PAGE = 50
CAMPAIGNS_PAGE = 20
FUNNEL_WEEKS = 8
HEAT_STEPS = 10  # retention shades in the heatmap (CSS classes heat-0 .. heat-9)
Before = Annotated[int | None, QueryParameter(ge=1, le=MAX_BIGINT)]
Kind = Annotated[str, QueryParameter(max_length=10)]


def marketer_of(request: Request[Any, Any, Any]) -> CurrentUser:
    user = signed_in(request)
    if not (user.has("marketer") or user.has("admin")):
        raise Forbidden("The marketing console is for marketers and admins only.")
    return user


async def _page(request: Request[Any, Any, Any], template: str, **context: Any) -> Template:
    """Figures summed across orders are in the platform's currency (core/money.py)."""
    return await page(request, template, currency=DEFAULT_CURRENCY, **context)


@get("/", name="marketing-console")
async def console(state: AppState, request: Request[Any, Any, Any], kind: Kind = "rfm") -> Template:
    marketer_of(request)
    shown = kind if kind in ("rfm", "cluster") else "rfm"
    listed = await segments.listing(state.db, shown)
    runs = (await segments.runs(state.db, None, 1)).items
    return await _page(
        request,
        "marketing_segments.html",
        title="Customer segments",
        segments=listed,
        kind=shown,
        run=runs[0] if runs else None,
        total=sum(s.members for s in listed),
    )


@post("/console/runs", name="marketing-run-now")
async def run_now(state: AppState, request: Request[Any, Any, Any]) -> Template:
    """Ask the analytics worker for a run now; the returned fragment follows it until it is done."""
    user = marketer_of(request)
    run = await segments.request(state.db, user.id)
    return await _page(request, "_marketing_run.html", run=run)


@get("/console/runs/{run_id:int}", name="marketing-run")
async def run_status(state: AppState, request: Request[Any, Any, Any], run_id: FromPath[int]) -> Template:
    marketer_of(request)
    return await _page(request, "_marketing_run.html", run=await segments.run(state.db, run_id))


@get("/console/segments/{segment_id:int}", name="marketing-segment")
async def segment_page(
    state: AppState, request: Request[Any, Any, Any], segment_id: FromPath[int], after: Before = None
) -> Template:
    marketer_of(request)
    segment = await segments.get(state.db, segment_id)
    members = await segments.members(state.db, segment_id, after, MEMBERS_PAGE)
    return await _page(
        request,
        "marketing_segment.html",
        title=segment.name,
        segment=segment,
        members=members.items,
        more=members.next_cursor,
    )


@get("/console/segments/{segment_id:int}/members.csv", name="marketing-members-csv")
async def members_csv(state: AppState, request: Request[Any, Any, Any], segment_id: FromPath[int]) -> Response[bytes]:
    """Every member, for a mailing tool: the file GET /marketing/segments/{id}/members?format=csv answers."""
    marketer_of(request)
    await segments.get(state.db, segment_id)  # 404 for an unknown segment
    return await exports.members_csv(state.db, segment_id)


@get("/console/charts/segments.png", name="marketing-segments-chart")
async def segments_chart(state: AppState, request: Request[Any, Any, Any], kind: Kind = "rfm") -> Response[bytes]:
    marketer_of(request)
    return exports.segment_sizes_png(await segments.listing(state.db, kind if kind in ("rfm", "cluster") else "rfm"))


@get("/console/cohorts", name="marketing-cohorts")
async def cohorts_page(state: AppState, request: Request[Any, Any, Any]) -> Template:
    marketer_of(request)
    found, _ = await metrics.cohorts(state.db)
    end = datetime.now(UTC).date()
    funnel = await metrics.funnel(state.db, Period.of(end - timedelta(weeks=FUNNEL_WEEKS), end, "week"), None)
    months = max((len(c.retention) for c in found.cohorts), default=0)
    return await _page(
        request,
        "marketing_cohorts.html",
        title="Cohorts and funnel",
        cohorts=found,
        months=months,
        heat=lambda share: min(HEAT_STEPS - 1, int(share * HEAT_STEPS)),
        funnel=funnel,
    )


@get("/console/charts/cohorts.png", name="marketing-cohorts-chart")
async def cohorts_chart(state: AppState, request: Request[Any, Any, Any]) -> Response[bytes]:
    marketer_of(request)
    _, matrix = await metrics.cohorts(state.db)
    return exports.png_response(exports.charts().cohort_heatmap(matrix))


async def _campaigns(
    state: AppState, request: Request[Any, Any, Any], before: int | None = None, status: int = 200, **shown: Any
) -> Template:
    listed = await campaigns.listing(state.db, before, CAMPAIGNS_PAGE)
    offered = [c for c in (await promotions.listing(state.db, None, None, 100)).items if c.audience == "issued"]
    context = {"error": None, "form": {}} | shown
    return await _page(
        request,
        "marketing_campaigns.html",
        status=status,
        title="Campaigns",
        campaigns=listed.items,
        older=listed.next_cursor,
        segments=await segments.listing(state.db, None),
        coupons=[c for c in offered if c.disabled_at is None],
        launch_key=uuid.uuid4().hex,  # one campaign per rendered form, however often it is submitted
        **context,
    )


@get("/console/campaigns", name="marketing-campaigns")
async def campaigns_page(
    state: AppState, request: Request[Any, Any, Any], segment: Before = None, before: Before = None
) -> Template:
    marketer_of(request)
    return await _campaigns(state, request, before, form={"segment_id": str(segment or "")})


@post("/console/campaigns", name="marketing-launch")
async def launch(state: AppState, request: Request[Any, Any, Any]) -> Template | Redirect:
    user = marketer_of(request)
    form = await form_of(request)
    fields = {k: form.get(k, "").strip() for k in ("name", "segment_id", "coupon_id", "message", "holdout_percent")}
    try:
        data = convert(
            {
                "name": fields["name"],
                "segment_id": fields["segment_id"],
                "coupon_id": fields["coupon_id"],
                "message": fields["message"],
                "holdout_share": float(fields["holdout_percent"] or 20) / 100,
            },
            CampaignIn,
        )

        async def work(conn: Any) -> tuple[int, bytes]:
            return 201, msgspec.json.encode(await campaigns.launch(conn, user.id, data))

        body = msgspec.json.encode(data)
        done = await once(state.db, user.id, "POST /marketing/campaigns", form.get("launch_key") or None, body, work)
    except (DomainError, msgspec.ValidationError, ValueError) as exc:
        return await _campaigns(
            state, request, status=getattr(exc, "status_code", 400), error=problem_text(exc), form=fields
        )
    launched = msgspec.json.decode(done.body, type=CampaignOut)
    return Redirect(f"/marketing/console/campaigns/{launched.id}", status_code=303)


@get("/console/campaigns/{campaign_id:int}", name="marketing-campaign")
async def campaign_page(state: AppState, request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Template:
    marketer_of(request)
    report = await campaigns.report(state.db, campaign_id)
    return await _page(request, "marketing_campaign.html", title=report.campaign.name, report=report)


@get("/console/campaigns/{campaign_id:int}/chart.png", name="marketing-campaign-chart")
async def campaign_chart(
    state: AppState, request: Request[Any, Any, Any], campaign_id: FromPath[int]
) -> Response[bytes]:
    marketer_of(request)
    return exports.png_response(exports.charts().campaign(await campaigns.report(state.db, campaign_id)))


ROUTES = [
    console,
    run_now,
    run_status,
    segment_page,
    members_csv,
    segments_chart,
    cohorts_page,
    cohorts_chart,
    campaigns_page,
    launch,
    campaign_page,
    campaign_chart,
]

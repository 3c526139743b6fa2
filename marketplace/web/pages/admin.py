"""The admin desk: vendor applications (approve, reject with a reason), vendors (suspend with a reason,
reinstate) and the audit log. Mounted at /admin by plugin.py with `page_router`; every page is for admins
only (anyone else gets 403 and no data, a visitor is sent to sign in). The pages call the same services
the JSON API's AdminVendorController and AuditController call, and add no rule of their own."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from marketplace.audit import service as audit
from marketplace.core.auth import CurrentUser
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError, Forbidden
from marketplace.vendors import ApplicationStatus, VendorStatus
from marketplace.vendors import service as vendors
from marketplace.vendors.schemas import ReasonIn
from marketplace.web.forms import convert, form_of, problem_text
from marketplace.web.render import page
from marketplace.web.session import signed_in

LIMIT = 50
AUDIT_PAGE = 50
Filter = Annotated[str | None, QueryParameter(max_length=100)]


def admin_of(request: Request[Any, Any, Any]) -> CurrentUser:
    user = signed_in(request)
    if not user.has("admin"):
        raise Forbidden("The admin desk is for admins only.")
    return user


def _reason(form: dict[str, str]) -> str:
    reason = form.get("reason", "").strip()
    if not reason:
        raise msgspec.ValidationError("Give a reason: the vendor will read it.")
    return convert({"reason": reason}, ReasonIn).reason


@get("/", name="admin-desk")
async def desk(state: AppState, request: Request[Any, Any, Any]) -> Template:
    admin_of(request)
    pending = await vendors.list_applications(state.db, ApplicationStatus.PENDING, None, LIMIT)
    suspended = await vendors.list_vendors(state.db, VendorStatus.SUSPENDED, None, LIMIT)
    return await page(
        request,
        "admin_desk.html",
        title="Admin desk",
        pending=len(pending.items),
        pending_more=pending.next_cursor is not None,
        suspended=len(suspended.items),
    )


async def _applications(state: AppState, request: Request[Any, Any, Any], status: int = 200, **shown: Any) -> Template:
    pending = (await vendors.list_applications(state.db, ApplicationStatus.PENDING, None, LIMIT)).items
    recent = [
        a
        for a in (await vendors.list_applications(state.db, None, None, LIMIT)).items
        if a.status != ApplicationStatus.PENDING
    ]
    context = {"error": None, "notice": None, "failed": None, "reason": ""} | shown
    return await page(
        request,
        "admin_applications.html",
        status=status,
        title="Vendor applications",
        pending=pending,
        recent=recent,
        **context,
    )


@get("/desk/applications", name="admin-applications")
async def applications_page(state: AppState, request: Request[Any, Any, Any]) -> Template:
    admin_of(request)
    return await _applications(state, request)


@post("/desk/applications/{application_id:int}/approve", name="admin-approve")
async def approve(state: AppState, request: Request[Any, Any, Any], application_id: FromPath[int]) -> Template:
    admin = admin_of(request)
    try:
        vendor = await vendors.approve(state.db, admin.id, application_id)
    except DomainError as exc:
        return await _applications(state, request, exc.status_code, error=problem_text(exc), failed=application_id)
    return await _applications(state, request, notice=f"“{vendor.shop_name}” is approved: its shop is open.")


@post("/desk/applications/{application_id:int}/reject", name="admin-reject")
async def reject(state: AppState, request: Request[Any, Any, Any], application_id: FromPath[int]) -> Template:
    admin = admin_of(request)
    form = await form_of(request)
    try:
        rejected = await vendors.reject(state.db, admin.id, application_id, _reason(form))
    except (DomainError, msgspec.ValidationError) as exc:
        return await _applications(
            state,
            request,
            getattr(exc, "status_code", 400),
            error=problem_text(exc),
            failed=application_id,
            reason=form.get("reason", ""),
        )
    return await _applications(state, request, notice=f"“{rejected.shop_name}” is rejected.")


async def _vendors(
    state: AppState, request: Request[Any, Any, Any], show: str = "", status: int = 200, **shown: Any
) -> Template:
    wanted = VendorStatus(show) if show in {s.value for s in VendorStatus} else None
    shops = (await vendors.list_vendors(state.db, wanted, None, LIMIT)).items
    context = {"error": None, "notice": None, "failed": None, "reason": ""} | shown
    return await page(
        request,
        "admin_vendors.html",
        status=status,
        title="Vendors",
        vendors=shops,
        show=wanted.value if wanted else "",
        statuses=[s.value for s in VendorStatus],
        **context,
    )


@get("/desk/vendors", name="admin-vendors")
async def vendors_page(
    state: AppState, request: Request[Any, Any, Any], status: Annotated[str, QueryParameter(max_length=20)] = ""
) -> Template:
    admin_of(request)
    return await _vendors(state, request, status)


@post("/desk/vendors/{vendor_id:int}/suspend", name="admin-suspend")
async def suspend(state: AppState, request: Request[Any, Any, Any], vendor_id: FromPath[int]) -> Template:
    admin = admin_of(request)
    form = await form_of(request)
    try:
        vendor = await vendors.set_status(state.db, admin.id, vendor_id, VendorStatus.SUSPENDED, _reason(form))
    except (DomainError, msgspec.ValidationError) as exc:
        return await _vendors(
            state,
            request,
            status=getattr(exc, "status_code", 400),
            error=problem_text(exc),
            failed=vendor_id,
            reason=form.get("reason", ""),
        )
    return await _vendors(state, request, notice=f"“{vendor.shop_name}” is suspended.")


@post("/desk/vendors/{vendor_id:int}/reinstate", name="admin-reinstate")
async def reinstate(state: AppState, request: Request[Any, Any, Any], vendor_id: FromPath[int]) -> Template:
    admin = admin_of(request)
    try:
        vendor = await vendors.set_status(state.db, admin.id, vendor_id, VendorStatus.ACTIVE, None)
    except DomainError as exc:
        return await _vendors(state, request, status=exc.status_code, error=problem_text(exc), failed=vendor_id)
    return await _vendors(state, request, notice=f"“{vendor.shop_name}” is reinstated.")


@get("/desk/audit", name="admin-audit")
async def audit_page(
    state: AppState,
    request: Request[Any, Any, Any],
    actor_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
    action: Filter = None,
    object_type: Filter = None,
    object_id: Filter = None,
    before: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
) -> Template:
    admin_of(request)
    filters = {"actor_id": actor_id, "action": action or None, "object_type": object_type or None}
    filters["object_id"] = object_id or None
    # the same entries, filters and paging as GET /admin/audit
    entries = await audit.entries(state.db, before=before, limit=AUDIT_PAGE, **filters)
    kept = {k: v for k, v in filters.items() if v is not None}
    return await page(
        request,
        "admin_audit.html",
        title="Audit log",
        entries=entries.items,
        older=entries.next_cursor,
        filters=filters,
        kept=kept,
        filtered=bool(kept),
    )


ROUTES = [desk, applications_page, approve, reject, vendors_page, suspend, reinstate, audit_page]

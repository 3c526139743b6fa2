"""More of the admin desk: products (take down with a reason, restore), accounts (roles), bank transfers
waiting (confirm with the amount received) and money (commission rates, payouts). Mounted with the desk's
other pages at /admin (plugin.py); admins only through `admin_of`, as the rest of the desk. Every action calls
the service the JSON API's controller calls (AdminCatalogController, AdminUsersController,
AdminPaymentController, AdminSettlementController) and adds no rule: a refusal shows the service's words.

What the API cannot do, these pages do not do either: there is no admin listing of products by status (the
page finds a product by id, on-sale products by title through the storefront's search, and products taken
down from the audit log), and no way to disable an account."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from marketplace.accounts import service as accounts
from marketplace.accounts.schemas import RolesIn
from marketplace.audit import service as audit
from marketplace.catalog import service as catalog
from marketplace.catalog.schemas import CategoryNode, ProductOut, TakeDownIn
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError, NotFound
from marketplace.core.money import parse_money
from marketplace.payments import service as payments
from marketplace.payments.schemas import TransferReceived
from marketplace.search import service as search
from marketplace.settlement import service as settlement
from marketplace.settlement import vendor_account
from marketplace.settlement.schemas import PayoutIn, RateIn
from marketplace.vendors import service as vendors
from marketplace.web.forms import basis_points, convert, form_of, problem_text
from marketplace.web.pages.admin import admin_of
from marketplace.web.render import page

FOUND = 20  # products shown for a search
USERS = 20  # accounts per page, as GET /admin/users
TAKEN_DOWN = 100  # take-downs read back from the audit log
PAYOUTS = 50
ROLES = ["buyer", "vendor", "marketer", "support", "admin"]
PRODUCT_STATUSES = {"": "Any status", "listed": "On sale", "taken_down": "Taken down"}
Query = Annotated[str, QueryParameter(max_length=100)]
Failure = DomainError | msgspec.ValidationError
CATALOG_WRITE = {"changes_catalog": True}  # buyers' cached pages refresh after it, as after the API's


def _status_of(exc: Exception) -> int:
    return getattr(exc, "status_code", 400)


def _minor(text: str, currency: str, field: str) -> int:
    """An amount typed in currency units ("60.00") as the minor units the services take."""
    try:
        return parse_money(text, currency)
    except ValueError as exc:
        raise msgspec.ValidationError(f"Check {field}: {exc}.") from None


# Products


async def _found(state: AppState, q: str, status: str) -> list[ProductOut]:
    """The products matching a search as an admin sees them (any status, the take-down reason)."""
    wanted = q.strip().lstrip("#")
    if wanted.isdigit():
        try:
            found = [await catalog.admin_product(state.db, int(wanted))]
        except NotFound:
            found = []
        return [p for p in found if not status or p.status == status]
    if status == "taken_down":
        entries = (await audit.entries(state.db, action="product.taken_down", limit=TAKEN_DOWN)).items
        ids = list(dict.fromkeys(int(e.object_id) for e in entries))
        shown = []
        for product_id in ids:
            product = await catalog.admin_product(state.db, product_id)
            if product.status == "taken_down" and wanted.casefold() in product.title.casefold():
                shown.append(product)
        return shown[:FOUND]
    if not wanted:
        return []
    cards = (await search.search(state.db, search.SearchQuery(text=wanted, page_size=FOUND))).items
    return [await catalog.admin_product(state.db, c.id) for c in cards]


async def _products(
    state: AppState, request: Request[Any, Any, Any], q: str = "", show: str = "", status: int = 200, **shown: Any
) -> Template:
    show = show if show in PRODUCT_STATUSES else ""
    context = {"error": None, "notice": None, "failed": None, "reason": ""} | shown
    return await page(
        request,
        "admin_products.html",
        status=status,
        title="Products",
        products=await _found(state, q, show),
        q=q,
        show=show,
        statuses=PRODUCT_STATUSES,
        searched=bool(q.strip() or show),
        **context,
    )


@get("/desk/products", name="admin-products")
async def products_page(
    state: AppState, request: Request[Any, Any, Any], q: Query = "", status: Query = ""
) -> Template:
    admin_of(request)
    return await _products(state, request, q, status)


@post("/desk/products/{product_id:int}/take-down", name="admin-take-down", opt=CATALOG_WRITE)
async def take_down(state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]) -> Template:
    admin = admin_of(request)
    form = await form_of(request)
    reason = form.get("reason", "").strip()
    try:
        if not reason:
            raise msgspec.ValidationError("Give a reason: the vendor will read it.")
        product = await catalog.take_down(
            state.db, admin.id, product_id, convert({"reason": reason}, TakeDownIn).reason
        )
    except (DomainError, msgspec.ValidationError) as exc:
        return await _products(
            state,
            request,
            q=str(product_id),  # after an action, the product acted on (a search may no longer find it)
            status=_status_of(exc),
            error=problem_text(exc),
            failed=product_id,
            reason=form.get("reason", ""),
        )
    notice = f"“{product.title}” is taken down: buyers no longer see it."
    return await _products(state, request, q=str(product_id), notice=notice)


@post("/desk/products/{product_id:int}/restore", name="admin-restore", opt=CATALOG_WRITE)
async def restore(state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]) -> Template:
    admin = admin_of(request)
    try:
        product = await catalog.take_down(state.db, admin.id, product_id, None)
    except DomainError as exc:
        return await _products(
            state, request, q=str(product_id), status=exc.status_code, error=problem_text(exc), failed=product_id
        )
    notice = f"“{product.title}” is restored as unlisted: its vendor can list it again."
    return await _products(state, request, q=str(product_id), notice=notice)


# Accounts


async def _accounts(
    state: AppState,
    request: Request[Any, Any, Any],
    q: str = "",
    role: str = "",
    cursor: int | None = None,
    status: int = 200,
    **shown: Any,
) -> Template:
    role = role if role in ROLES else ""
    users = await accounts.list_users(state.db, role or None, q.strip() or None, cursor, USERS)
    context = {"error": None, "notice": None, "failed": None} | shown
    return await page(
        request,
        "admin_accounts.html",
        status=status,
        title="Accounts",
        users=users.items,
        more=users.next_cursor,
        q=q,
        role=role,
        roles=ROLES,
        me=admin_of(request).id,
        **context,
    )


@get("/desk/accounts", name="admin-accounts")
async def accounts_page(
    state: AppState,
    request: Request[Any, Any, Any],
    q: Query = "",
    role: Query = "",
    cursor: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
) -> Template:
    admin_of(request)
    return await _accounts(state, request, q, role, cursor)


@post("/desk/accounts/{user_id:int}/roles", name="admin-roles")
async def set_roles(state: AppState, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Template:
    admin = admin_of(request)
    form = await form_of(request)
    back = {"q": form.get("q", "")[:100], "role": form.get("role", "")[:20]}
    try:
        wanted = convert({"roles": form.all("roles") or ["buyer"]}, RolesIn)
        user = await accounts.set_roles(state.db, admin.id, user_id, list(wanted.roles))
    except (DomainError, msgspec.ValidationError) as exc:
        return await _accounts(state, request, **back, status=_status_of(exc), error=problem_text(exc), failed=user_id)
    who = user.email or user.phone or f"user #{user.id}"
    return await _accounts(state, request, **back, notice=f"{who} now has: {', '.join(user.roles)}.")


# Bank transfers


async def _transfers(state: AppState, request: Request[Any, Any, Any], status: int = 200, **shown: Any) -> Template:
    context = {"error": None, "notice": None, "failed": None, "typed": ""} | shown
    return await page(
        request,
        "admin_transfers.html",
        status=status,
        title="Bank transfers",
        transfers=await payments.pending_transfers(state.db),
        **context,
    )


@get("/desk/transfers", name="admin-transfers")
async def transfers_page(state: AppState, request: Request[Any, Any, Any]) -> Template:
    admin_of(request)
    return await _transfers(state, request)


@post("/desk/transfers/{payment_id:int}/confirm", name="admin-confirm-transfer")
async def confirm_transfer(state: AppState, request: Request[Any, Any, Any], payment_id: FromPath[int]) -> Template:
    admin = admin_of(request)
    form = await form_of(request)
    typed = form.get("amount_received", "")
    try:
        waiting = {t.id: t.currency for t in await payments.pending_transfers(state.db)}
        currency = waiting.get(payment_id, "EUR")  # one not waiting any more: the service says so
        received = convert({"amount_received": _minor(typed, currency, "amount received")}, TransferReceived)
        paid = await payments.confirm_transfer(state.db, admin.id, payment_id, received.amount_received)
    except (DomainError, msgspec.ValidationError) as exc:
        return await _transfers(
            state, request, status=_status_of(exc), error=problem_text(exc), failed=payment_id, typed=typed
        )
    notice = f"Transfer {paid.provider_ref} is confirmed: checkout #{paid.checkout_id} is paid."
    return await _transfers(state, request, notice=notice)


# Money: commission rates and payouts


def _categories(nodes: list[CategoryNode], depth: int = 0) -> list[tuple[int, str, int]]:
    """The tree flattened in its order: (id, name, depth)."""
    listed: list[tuple[int, str, int]] = []
    for node in nodes:
        listed.append((node.id, node.name, depth))
        listed += _categories(node.children, depth + 1)
    return listed


async def _money(state: AppState, request: Request[Any, Any, Any], status: int = 200, **shown: Any) -> Template:
    shops = (await vendors.list_vendors(state.db, None, None, 200)).items
    categories = _categories(await catalog.category_tree(state.db))
    names = {"vendor": {v.id: v.shop_name for v in shops}, "category": {c[0]: c[1] for c in categories}}
    rates = [
        (r, "The whole marketplace" if r.scope == "platform" else names[r.scope].get(r.scope_id, f"#{r.scope_id}"))
        for r in await settlement.rates(state.db)
    ]
    # what each shop is owed, per currency its ledger account holds (GET /admin/settlement/trial-balance)
    held = {(a.account, a.currency) for a in (await settlement.trial_balance(state.db)).accounts}
    balances = [
        (v, await settlement.balance(state.db, v.id, currency))
        for v in shops
        for currency in sorted({c for account, c in held if account == vendor_account(v.id)})
    ]
    payouts = (await settlement.payouts(state.db, None, None, PAYOUTS)).items  # as GET /admin/settlement/payouts
    context = {"error": None, "notice": None, "form": {}} | shown
    return await page(
        request,
        "admin_money.html",
        status=status,
        title="Commission and payouts",
        rates=rates,
        shops=shops,
        names=names["vendor"],
        categories=categories,
        balances=[(v, b) for v, b in balances if b.balance],
        payouts=[(names["vendor"].get(p.vendor_id, f"vendor #{p.vendor_id}"), p) for p in payouts],
        **context,
    )


@get("/desk/money", name="admin-money")
async def money_page(state: AppState, request: Request[Any, Any, Any]) -> Template:
    admin_of(request)
    return await _money(state, request)


def _rate_bp(text: str) -> int:
    """A percentage typed as people write it ("12.5") as the basis points the service takes (1250)."""
    try:
        return basis_points(text)
    except ValueError as exc:
        raise msgspec.ValidationError(f"Check rate: {exc}.") from None


@post("/desk/money/rates", name="admin-set-rate")
async def set_rate(state: AppState, request: Request[Any, Any, Any]) -> Template:
    admin = admin_of(request)
    form = await form_of(request)
    scope = form.get("scope", "")
    try:
        scope_id = {"platform": "0", "vendor": form.get("vendor_id", ""), "category": form.get("category_id", "")}
        body = convert(
            {"scope": scope, "scope_id": scope_id.get(scope, "0"), "rate_bp": _rate_bp(form.get("rate", ""))}, RateIn
        )
        rate = await settlement.set_rate(state.db, admin.id, body)
    except (DomainError, msgspec.ValidationError) as exc:
        return await _money(state, request, status=_status_of(exc), error=problem_text(exc), form=dict(form))
    return await _money(state, request, notice=f"The {rate.scope} rate is now {Decimal(rate.rate_bp) / 100} %.")


@post("/desk/money/payouts", name="admin-pay-out")
async def pay_out(state: AppState, request: Request[Any, Any, Any]) -> Template:
    admin = admin_of(request)
    form = await form_of(request)
    currency = form.get("currency", "EUR").strip().upper()[:3] or "EUR"
    try:
        body = convert(
            {
                "vendor_id": form.get("vendor_id", ""),
                "amount": _minor(form.get("amount", ""), currency, "amount"),
                "currency": currency,
            },
            PayoutIn,
        )
        payout = await settlement.pay_out(state.db, admin.id, body)
    except (DomainError, msgspec.ValidationError) as exc:
        return await _money(state, request, status=_status_of(exc), error=problem_text(exc), form=dict(form))
    return await _money(state, request, notice=f"Payout #{payout.id} made to vendor #{payout.vendor_id}.")


ROUTES = [
    products_page,
    take_down,
    restore,
    accounts_page,
    set_roles,
    transfers_page,
    confirm_transfer,
    money_page,
    set_rate,
    pay_out,
]

"""Payment rules: the amount always comes from the checkout, and a provider's callback is believed only
when its signature, amount and currency all check out. Every callback is logged with what we made of it;
a duplicate changes nothing."""

from __future__ import annotations

import secrets

import asyncpg
import httpx
import msgspec

from marketplace.core.audit import record_audit
from marketplace.core.errors import BadRequest, Conflict, NotFound, Unauthorized, Unprocessable
from marketplace.core.money import format_money
from marketplace.core.states import Actor
from marketplace.group_buys import service as group_buys
from marketplace.orders import CheckoutStatus, OrderStatus, actions
from marketplace.payments import PaymentMethod, PaymentStatus
from marketplace.payments import queries as q
from marketplace.payments.sandbox import SIGNATURE_HEADER, Callback, SandboxGateway
from marketplace.payments.schemas import NextAction, PaymentOut, PaymentStarted
from marketplace.promotions import service as promotions
from marketplace.settlement.service import (
    fix_commission,
    plan_refund,
    post_cash_collected,
    post_payments,
    post_refund,
)

TRANSFER_DAYS = 3
PLATFORM_IBAN = "DE89 3704 0044 0532 0130 00"  # the demo marketplace's collection account


async def start_payment(
    conn: asyncpg.Connection,
    gateway: SandboxGateway,
    buyer_id: int,
    checkout_id: int,
    method: PaymentMethod,
    cash_limit: int,
) -> PaymentStarted:
    """Open a payment for the buyer's unpaid checkout (inside the caller's transaction)."""
    checkout = await conn.fetchrow(q.CHECKOUT_FOR_PAYMENT, checkout_id)
    if checkout is None or checkout["buyer_id"] != buyer_id:
        raise NotFound("no such checkout")
    if checkout["status"] != CheckoutStatus.PENDING_PAYMENT:
        raise Conflict(f"this checkout is {checkout['status']}; it cannot be paid")
    if await conn.fetchrow(q.LIVE_PAYMENT, checkout_id):
        raise Conflict("this checkout already has a payment under way")
    if method == PaymentMethod.CASH_ON_DELIVERY:
        if await group_buys.is_member_checkout(conn, checkout_id):  # a seat counts only once it is paid
            raise Unprocessable("a group buy is paid when joining; cash on delivery is not offered for it")
        return await _confirm_cash_on_delivery(conn, checkout, cash_limit)
    if method == PaymentMethod.BANK_TRANSFER:
        reference = "BT-" + secrets.token_hex(6).upper()
        # A transfer takes days, so the checkout holds its stock that long.
        await conn.execute(q.EXTEND_CHECKOUT, checkout_id, TRANSFER_DAYS)
        row = await conn.fetchrow(
            q.INSERT_PAYMENT, checkout_id, method, reference, checkout["grand_total"], checkout["currency"]
        )
        amount = format_money(row["amount"], row["currency"])
        action = NextAction("bank_transfer", f"Transfer {amount} to {PLATFORM_IBAN}, "
                            f"reference {reference}, within {TRANSFER_DAYS} days")  # fmt: skip
        return PaymentStarted(PaymentOut(**dict(row)), action)
    row = await conn.fetchrow(
        q.INSERT_PAYMENT, checkout_id, method, gateway.create(), checkout["grand_total"], checkout["currency"]
    )
    payment = PaymentOut(**dict(row))
    return PaymentStarted(payment, NextAction("redirect", f"/sandbox-gateway/{payment.provider_ref}"))


async def _confirm_cash_on_delivery(
    conn: asyncpg.Connection, checkout: asyncpg.Record, cash_limit: int
) -> PaymentStarted:
    """The buyer pays each vendor's courier on delivery: the orders go ahead unpaid and their units are
    sold now (a cancellation puts them back), so the sweeper no longer expires the checkout."""
    if checkout["grand_total"] > cash_limit:
        raise Unprocessable(
            f"cash on delivery is offered up to {format_money(cash_limit, checkout['currency'])}; "
            f"this checkout is {format_money(checkout['grand_total'], checkout['currency'])}",
            limit=cash_limit,
        )
    row = await conn.fetchrow(
        q.INSERT_PAYMENT,
        checkout["id"],
        PaymentMethod.CASH_ON_DELIVERY,
        "COD-" + secrets.token_hex(6).upper(),
        checkout["grand_total"],
        checkout["currency"],
    )
    orders = await actions.lock_open_orders(conn, checkout["id"], OrderStatus.PENDING_PAYMENT)
    await actions.move_checkout(
        conn, checkout["id"], CheckoutStatus(checkout["status"]), CheckoutStatus.CASH_ON_DELIVERY, Actor.BUYER
    )
    await conn.execute(q.SELL_LINES, [o["id"] for o in orders])
    await fix_commission(conn, [o["id"] for o in orders])
    await actions.move(
        conn, orders, OrderStatus.CONFIRMED, Actor.BUYER, actor_id=checkout["buyer_id"], note="cash on delivery"
    )
    instructions = f"Pay each courier in cash on delivery, {format_money(row['amount'], row['currency'])} in all"
    action = NextAction("cash_on_delivery", instructions)
    return PaymentStarted(PaymentOut(**dict(row)), action)


async def collect_cash(conn: asyncpg.Connection, order: asyncpg.Record) -> None:
    """A cash-on-delivery order was delivered and paid to the courier (inside the delivery's transaction)."""
    await conn.execute(q.CASH_ARRIVED, order["checkout_id"])
    await post_cash_collected(conn, order["id"])


async def payments_of(db: asyncpg.Pool, buyer_id: int, checkout_id: int) -> list[PaymentOut]:
    owner = await db.fetchrow(q.CHECKOUT_STATUS, checkout_id)
    if owner is None or owner["buyer_id"] != buyer_id:
        raise NotFound("no such checkout")
    return [PaymentOut(**dict(r)) for r in await db.fetch(q.PAYMENTS_OF_CHECKOUT, checkout_id)]


async def _log(db: asyncpg.Pool, provider: str, body: bytes, outcome: str, callback: Callback | None = None) -> None:
    await db.execute(
        q.LOG_CALLBACK,
        provider,
        callback.event_id if callback else None,
        callback.ref if callback else None,
        body,
        outcome,
    )


async def handle_callback(db: asyncpg.Pool, gateway: SandboxGateway, body: bytes, signature: str | None) -> str:
    if not gateway.verify(body, signature):
        await _log(db, gateway.name, body, "bad_signature")
        raise Unauthorized("the callback's signature does not verify")  # the signature is the caller's credential
    try:
        callback = msgspec.json.decode(body, type=Callback)
    except msgspec.DecodeError:
        await _log(db, gateway.name, body, "malformed")
        raise BadRequest("the callback is not a payment event") from None
    try:
        async with db.acquire() as conn, conn.transaction():
            outcome = await _apply(conn, gateway.name, callback, body)
    except asyncpg.UniqueViolationError:
        outcome = "duplicate"  # the same event applied concurrently by another request
    if outcome not in ("applied", "refunded_late_payment"):  # those were logged in their transaction
        await _log(db, gateway.name, body, outcome, callback)
    if outcome in ("amount_mismatch", "unknown_payment"):
        raise Unprocessable(f"callback rejected: {outcome.replace('_', ' ')}")
    return outcome


async def _apply(conn: asyncpg.Connection, provider: str, callback: Callback, body: bytes) -> str:
    payment = await conn.fetchrow(q.PAYMENT_BY_REF_FOR_UPDATE, callback.ref)
    if payment is None:
        return "unknown_payment"
    if await conn.fetchval(q.EVENT_APPLIED, provider, callback.event_id):
        return "duplicate"
    if (callback.amount, callback.currency) != (payment["amount"], payment["currency"]):
        return "amount_mismatch"
    if payment["status"] != PaymentStatus.PENDING:
        return "duplicate"  # another event already settled this payment
    if callback.type == "payment.failed":
        await conn.execute(q.SET_PAYMENT, payment["id"], PaymentStatus.FAILED, 0)
        outcome = "applied"
    else:
        outcome = await _settle(conn, payment)
    # Logged as applied in the same transaction: the unique index on applied events makes a concurrent
    # duplicate fail here and roll back.
    await conn.execute(q.LOG_CALLBACK, provider, callback.event_id, callback.ref, body, "applied")
    return outcome


async def _settle(conn: asyncpg.Connection, payment: asyncpg.Record) -> str:
    """The money for a pending payment has arrived: the checkout and its orders are paid, the stock is sold
    and the ledger posts what each vendor is owed. Money for a checkout that has meanwhile expired goes
    straight back, since its stock was released. The checkout is locked first, so the sweeper cannot expire it
    while it is being paid (it skips locked checkouts) and a payment cannot settle one it has just expired."""
    checkout = await conn.fetchrow(q.CHECKOUT_FOR_PAYMENT, payment["checkout_id"])
    if checkout["status"] != CheckoutStatus.PENDING_PAYMENT:
        await conn.execute(q.SET_PAYMENT, payment["id"], PaymentStatus.REFUNDED, payment["amount"])
        return "refunded_late_payment"
    await conn.execute(q.SET_PAYMENT, payment["id"], PaymentStatus.SUCCEEDED, 0)
    orders = await actions.lock_open_orders(conn, payment["checkout_id"], OrderStatus.PENDING_PAYMENT)
    await actions.move_checkout(
        conn, payment["checkout_id"], CheckoutStatus.PENDING_PAYMENT, CheckoutStatus.PAID, Actor.SYSTEM
    )
    await group_buys.member_paid(conn, payment["checkout_id"])  # the group's row before the SKU's, as joins
    await conn.execute(q.SELL_LINES, [o["id"] for o in orders])
    await post_payments(conn, [o["id"] for o in orders])
    await actions.move(conn, orders, OrderStatus.PAID, Actor.SYSTEM, note="paid")
    return "applied"


async def confirm_transfer(db: asyncpg.Pool, admin_id: int, payment_id: int, amount_received: int) -> PaymentOut:
    """An admin saw a bank transfer arrive: it settles the payment like a gateway callback would."""
    async with db.acquire() as conn, conn.transaction():
        payment = await conn.fetchrow(q.PAYMENT_FOR_UPDATE, payment_id)
        if payment is None or payment["method"] != PaymentMethod.BANK_TRANSFER:
            raise NotFound("no such bank transfer")
        if payment["status"] != PaymentStatus.PENDING:
            raise Conflict(f"this transfer is already {payment['status']}")
        if amount_received != payment["amount"]:
            expected, arrived = (format_money(a, payment["currency"]) for a in (payment["amount"], amount_received))
            raise Unprocessable(f"the transfer is for {expected}; {arrived} arrived")
        outcome = await _settle(conn, payment)
        await record_audit(conn, admin_id, "payment.transfer_confirmed", "payment", payment_id,
                           {"status": payment["status"]}, {"outcome": outcome})  # fmt: skip
        return PaymentOut(**dict(await conn.fetchrow(q.PAYMENT_BY_ID, payment_id)))


async def pending_transfers(db: asyncpg.Pool) -> list[PaymentOut]:
    return [PaymentOut(**dict(r)) for r in await db.fetch(q.PENDING_TRANSFERS)]


async def refund(
    conn: asyncpg.Connection,
    checkout_id: int,
    order_id: int,
    amount: int | None = None,
    lines: dict[int, int] | None = None,
) -> int:
    """Give money back for an order through the checkout's payment and the ledger, never more than the buyer
    paid: for the order lines named in `lines` (order line id → amount, each at most what is left of what was
    paid for that line after its discounts and points), or else `amount` spread over what is left of the order
    (None: all of it). Returns the amount refunded. The sandbox provider refunds at once; a real provider's
    refund call would be made here."""
    payment = await conn.fetchrow(q.SUCCEEDED_PAYMENT_FOR_UPDATE, checkout_id)
    if payment is None:
        raise Conflict("this order has no settled payment to refund")
    plan = await plan_refund(conn, order_id, amount, lines)
    if payment["refunded_amount"] + plan.amount > payment["amount"]:
        raise Conflict("the refund would exceed what was paid")
    await conn.execute(q.REFUND, payment["id"], plan.amount)
    await promotions.on_refund(conn, checkout_id, order_id, payment["amount"], payment["refunded_amount"], plan.amount)
    await post_refund(conn, plan)
    return plan.amount


async def cancel_cash_order(conn: asyncpg.Connection, order: asyncpg.Record) -> None:
    """A cash-on-delivery order is cancelled before delivery: no cash changed hands, so nothing is refunded;
    once every order of the checkout is cancelled its payment will never be made."""
    await conn.execute(q.CASH_NEVER_DUE, order["checkout_id"], order["id"])


async def payment_under_way(conn: asyncpg.Connection, checkout_id: int) -> bool:
    return await conn.fetchval(q.PAYMENT_UNDER_WAY, checkout_id)


# The sandbox gateway's own side (mounted with SANDBOX_GATEWAY only): its payment page and its answer.


async def sandbox_payment(db: asyncpg.Pool, ref: str) -> tuple[int, str]:
    """What the gateway asks the buyer to approve: the payment's amount and currency."""
    payment = await db.fetchrow(q.PAYMENT_BY_REF, ref)
    if payment is None:
        raise NotFound("the gateway knows no such payment")
    return payment["amount"], payment["currency"]


async def answer_sandbox(
    db: asyncpg.Pool, gateway: SandboxGateway, callbacks: httpx.AsyncClient, ref: str, succeeded: bool
) -> str:
    """The buyer approved (or declined) at the gateway: it sends the signed callback to our webhook over HTTP,
    exactly as an external gateway would, and reports what the webhook made of it."""
    amount, currency = await sandbox_payment(db, ref)
    body, signature = gateway.callback(ref, amount, currency, succeeded)
    try:
        r = await callbacks.post(
            "/payments/webhooks/sandbox",
            content=body,
            headers={SIGNATURE_HEADER: signature, "content-type": "application/json"},
        )
    except httpx.HTTPError as exc:  # as a gateway would, report it; the callback may still have arrived
        return f"callback not confirmed: {type(exc).__name__}"
    return r.json().get("outcome", f"webhook answered {r.status_code}")

"""Money shown as text goes through one helper (marketplace/core/money.py), in the currency's own decimals:
payment instructions, CSV exports, chart labels and the watch client."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest

from analytics import charts
from analytics.controllers import csv_response
from marketplace.core.money import amount_text, format_money, minor_units, to_major
from marketplace.payments.sandbox import SIGNATURE_HEADER, SandboxGateway
from realtime.watch import describe
from tests.conftest import Actor


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (16150, "EUR", "161.50 EUR"),
        (16150, "usd", "161.50 USD"),
        (16150, "JPY", "16,150 JPY"),
        (123456789, "EUR", "1,234,567.89 EUR"),
        (1234567, "KWD", "1,234.567 KWD"),
        (5, "EUR", "0.05 EUR"),
        (-250, "EUR", "-2.50 EUR"),
        (0, "EUR", "0.00 EUR"),
        (1234.5, "EUR", "12.35 EUR"),  # an average of cents, rounded half up
        (-0.4, "EUR", "0.00 EUR"),  # never "-0.00"
    ],
)
def test_money_is_shown_in_the_currencys_own_decimals(amount: int | float, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def test_money_helpers_agree() -> None:
    assert (minor_units("EUR"), minor_units("JPY"), minor_units("BHD"), minor_units("XYZ")) == (2, 0, 3, 2)
    assert str(to_major(16150, "EUR")) == "161.50" and str(to_major(16150, "JPY")) == "16150"
    assert amount_text(123456, "EUR") == "1234.56"  # for files: no grouping
    assert format_money(150, "EUR", signed=True) == "+1.50 EUR"


async def test_payment_instructions_show_the_amount_in_currency_units(shop: dict[str, Any], admin: Actor) -> None:
    """The checkout of 2 kettles at 30.00 and a hose at 60.00 is 120.00 EUR, not "12000 EUR"."""
    buyer = shop["buyer"]
    placed = (await shop["checkout"](pay=False))["checkout"]
    assert placed["grand_total"] == 12_000
    started = (await buyer.post(f"/checkouts/{placed['id']}/payments", json={"method": "bank_transfer"})).json()
    assert started["next_action"]["url"].startswith("Transfer 120.00 EUR to "), started
    wrong = await admin.post(f"/admin/payments/{started['payment']['id']}/confirm-transfer",
                             json={"amount_received": 11_000})  # fmt: skip
    assert wrong.json()["detail"] == "the transfer is for 120.00 EUR; 110.00 EUR arrived"

    cash = (await shop["checkout"](pay=False))["checkout"]
    started = (await buyer.post(f"/checkouts/{cash['id']}/payments", json={"method": "cash_on_delivery"})).json()
    assert started["next_action"]["url"] == "Pay each courier in cash on delivery, 120.00 EUR in all"


def test_csv_exports_show_money_in_currency_units() -> None:
    frame = pd.DataFrame(
        {"period": [date(2025, 1, 6)], "gmv": [1_234_550], "orders": [3], "average_order": [411_517],
         "repeat_rate": [0.5], "clv": [None]}
    )  # fmt: skip
    lines = csv_response(frame, "sales.csv").content.decode().splitlines()
    assert lines == ["period,gmv,orders,average_order,repeat_rate,clv", "2025-01-06,12345.50,3,4115.17,0.5,"]
    assert csv_response(frame[["gmv"]], "x.csv", "JPY").content.decode().splitlines()[1] == "1234550"


async def test_the_sales_csv_route_shows_gmv_in_currency_units(shop: dict[str, Any], admin: Actor) -> None:
    await shop["checkout"](pay=True)
    csv = await admin.get("/analytics/sales", params={"from": datetime.now(UTC).date().isoformat(), "format": "csv"})
    header, row = csv.text.splitlines()
    assert header.startswith("period,gmv,orders,average_order")
    assert row.split(",")[1:4] == ["120.00", "1", "120.00"]  # one checkout of two shops


def test_chart_axes_and_titles_label_money_by_currency() -> None:
    assert charts.money_axis("EUR")(1500, None) == "1,500.00"
    assert charts.money_axis("JPY")(1500, None) == "1,500"
    assert charts.major(pd.Series([16150]), "EUR").tolist() == [161.5]
    assert charts.major(pd.Series([16150]), "JPY").tolist() == [16150]
    frame = pd.DataFrame({"period": [date(2025, 1, 6)], "gmv": [16150], "orders": [1]})
    assert charts.sales_trend(frame, currency="JPY").startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ({"order_id": 7, "status": "paid", "total": 16150, "currency": "EUR"}, "order 7 · paid · 161.50 EUR"),
        ({"order_id": 7, "status": "paid", "total": 16150, "currency": "JPY"}, "order 7 · paid · 16,150 JPY"),
        ({"order_id": 7, "status": "paid", "total": 16150}, "order 7 · paid · 161.50 EUR"),
        ({"order_id": 7, "status": "refunded", "refunded": 7814, "currency": "EUR"}, "78.14 EUR refunded"),
        ({"sku_id": 3, "old_price": 3000, "price": 2500}, "30.00 → 25.00 EUR · sku 3"),
    ],
)
def test_the_watch_client_prints_money_in_currency_units(data: dict[str, Any], shown: str) -> None:
    event = {"at": datetime.now(UTC).isoformat(), "id": 1, "topic": "vendor:1:orders", "type": "x", "data": data}
    assert describe(event).endswith(shown)


async def test_order_events_carry_their_currency(shop: dict[str, Any], settings: Any, db: Any) -> None:
    placed = (await shop["checkout"](pay=False))["checkout"]
    payment = (await shop["buyer"].post(f"/checkouts/{placed['id']}/payments", json={})).json()["payment"]
    body, signature = SandboxGateway(settings.webhook_secret).callback(payment["provider_ref"], 12_000, "EUR")
    await shop["buyer"].client.post("/payments/webhooks/sandbox", content=body, headers={SIGNATURE_HEADER: signature})
    paid = await db.fetch("SELECT payload FROM events WHERE type = 'order.paid'")
    assert paid and all(e["payload"]["currency"] == "EUR" for e in paid)


def test_typed_amounts_become_minor_units_in_the_currencys_own_decimals() -> None:
    from marketplace.core.money import parse_money

    assert (
        parse_money("60.00", "EUR") == 6000 and parse_money(" 60,5 ", "EUR") == 6050 and parse_money("7", "EUR") == 700
    )
    assert parse_money("16150", "JPY") == 16150 and parse_money("1.234", "KWD") == 1234
    for typed, currency in (("60.001", "EUR"), ("1.5", "JPY"), ("sixty", "EUR"), ("", "EUR"), ("NaN", "EUR")):
        with pytest.raises(ValueError):
            parse_money(typed, currency)

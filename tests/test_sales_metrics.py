"""Sales metrics: exact GMV, orders, average order, repeat rate and funnel per day and week for the platform
and for each vendor (its own figures only), top sellers, cohorts, CSV and PNG, and who may see what."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Actor, sign_up

PNG = b"\x89PNG\r\n\x1a\n"


async def marketer(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> Actor:
    actor = await sign_up(client, "mia@example.com")
    await db.execute("UPDATE users SET roles = '{buyer,marketer}' WHERE id = $1", actor.id)
    return actor


def by_day(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["period"]: r for r in rows}


async def test_sales_per_day_and_week_for_the_platform_and_each_vendor(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    alpha, beta = shop["alpha"], shop["beta"]
    mia = await marketer(client, db)
    first = await shop["checkout"](pay=True)  # 2 kettles from alpha, 1 hose from beta
    second = await shop["checkout"](pay=True)
    await shop["checkout"](pay=False)  # placed, never paid: not a sale
    earlier = first["checkout"]["id"]
    await db.execute("UPDATE checkouts SET created_at = created_at - interval '3 days' WHERE id = $1", earlier)
    today = datetime.now(UTC).date()
    three_days_ago = (today - timedelta(days=3)).isoformat()
    a, b = alpha.vendor_id, beta.vendor_id

    platform = by_day((await mia.get("/analytics/sales", params={"from": three_days_ago})).json())
    assert len(platform) == 4  # empty days are there too
    assert platform[three_days_ago] == {
        "period": three_days_ago, "gmv": first["checkout"]["grand_total"], "orders": 1,
        "average_order": first["checkout"]["grand_total"], "buyers": 1, "returning_buyers": 0, "repeat_rate": 0.0,
    }  # fmt: skip
    assert platform[(today - timedelta(days=1)).isoformat()]["orders"] == 0
    now = platform[today.isoformat()]
    assert (now["gmv"], now["orders"], now["returning_buyers"], now["repeat_rate"]) == (
        second["checkout"]["grand_total"], 1, 1, 1.0,
    )  # fmt: skip

    own = by_day((await alpha.get("/vendor/analytics/sales", params={"from": three_days_ago})).json())
    assert own[today.isoformat()]["gmv"] == second[a]["total"]  # alpha's order only
    assert own[three_days_ago]["gmv"] == first[a]["total"]
    theirs = by_day((await beta.get("/vendor/analytics/sales", params={"from": three_days_ago})).json())
    assert theirs[today.isoformat()]["gmv"] == second[b]["total"]
    assert own[today.isoformat()]["gmv"] + theirs[today.isoformat()]["gmv"] == now["gmv"]
    # a vendor cannot ask for another's figures: there is no parameter to ask with
    sneaky = await alpha.get("/vendor/analytics/sales", params={"from": three_days_ago, "vendor_id": b})
    assert by_day(sneaky.json())[today.isoformat()]["gmv"] == second[a]["total"]

    weeks = (await mia.get("/analytics/sales", params={"from": three_days_ago, "grain": "week"})).json()
    assert all(datetime.fromisoformat(w["period"]).weekday() == 0 for w in weeks)
    assert sum(w["orders"] for w in weeks) == 2
    assert sum(w["gmv"] for w in weeks) == first["checkout"]["grand_total"] + second["checkout"]["grand_total"]

    top = (await alpha.get("/vendor/analytics/sales/top", params={"from": three_days_ago})).json()
    assert [(p["name"], p["units"], p["orders"]) for p in top["products"]] == [("Kettle", 4, 2)]
    assert [c["name"] for c in top["categories"]] == ["Kettles"]
    platform_top = (await mia.get("/analytics/sales/top", params={"from": three_days_ago})).json()
    assert {p["name"] for p in platform_top["products"]} == {"Kettle", "Hose"}

    csv = await mia.get("/analytics/sales", params={"from": three_days_ago, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and "attachment" in csv.headers["content-disposition"]
    lines = csv.text.splitlines()
    assert lines[0] == "period,gmv,orders,average_order,buyers,returning_buyers,repeat_rate" and len(lines) == 5
    chart = await alpha.get("/vendor/analytics/sales", params={"format": "png"})
    assert chart.headers["content-type"] == "image/png" and chart.content.startswith(PNG)

    cohorts = (await mia.get("/analytics/cohorts")).json()
    assert sum(c["customers"] for c in cohorts["cohorts"]) == 1 and cohorts["churn_days"] == 90
    assert (await mia.get("/analytics/cohorts", params={"format": "png"})).content.startswith(PNG)


async def test_the_funnel_counts_visitors_and_buyers_at_each_stage(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    alpha, beta = shop["alpha"], shop["beta"]
    mia = await marketer(client, db)
    browser = await sign_up(client, "browser@example.com")
    kettle, hose = shop["kettle"], shop["hose"]
    await browser.get(f"/products/{kettle['id']}")
    await browser.get(f"/products/{hose['id']}")
    await client.get(f"/products/{hose['id']}", headers={"X-Session-Id": "anon-session-7"})
    await browser.put(f"/cart/items/{kettle['skus'][0]['id']}", json={"quantity": 1})
    await shop["checkout"](pay=True)  # the shop's buyer carts both and pays
    for _ in range(50):  # the recorder writes its batch within half a second
        if await db.fetchval("SELECT count(*) FROM interactions WHERE kind IN ('view', 'cart')") >= 6:
            break
        await asyncio.sleep(0.1)

    def today(rows: list[dict[str, Any]]) -> tuple[int, int, int, int]:
        row = rows[-1]
        return row["viewed"], row["carted"], row["ordered"], row["paid"]

    platform = (await mia.get("/analytics/funnel")).json()
    assert len(platform) == 30 and today(platform) == (2, 2, 1, 1)  # browser and a session viewed
    assert platform[-1]["cart_to_order"] == 0.5 and platform[-1]["view_to_paid"] == 0.5
    assert today((await alpha.get("/vendor/analytics/funnel")).json()) == (1, 2, 1, 1)
    assert today((await beta.get("/vendor/analytics/funnel")).json()) == (2, 1, 1, 1)
    chart = await mia.get("/analytics/funnel", params={"format": "png"})
    assert chart.content.startswith(PNG)


async def test_who_may_see_what_and_bad_input(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    mia = await marketer(client, db)
    for path in ("/analytics/sales", "/analytics/funnel", "/analytics/sales/top", "/analytics/cohorts"):
        assert (await buyer.get(path)).status_code == 403
        assert (await alpha.get(path)).status_code == 403  # a vendor sees its own figures, not the platform's
        assert (await client.get(path)).status_code == 401
    assert (await buyer.get("/vendor/analytics/sales")).status_code == 403
    assert (await mia.get("/vendor/analytics/sales")).status_code == 403  # a marketer has no shop
    for params, status in (
        ({"from": "2026-05-02", "to": "2026-05-01"}, 422),  # backwards: well-formed, but no period
        ({"from": "2020-01-01", "to": "2026-01-01"}, 422),  # longer than two years
        ({"from": "9999-12-30", "to": "9999-12-31"}, 422),  # ends where the calendar does
        ({"grain": "month"}, 400),
        ({"format": "xlsx"}, 400),
        ({"from": "yesterday"}, 400),
    ):
        r = await mia.get("/analytics/sales", params=params)
        assert r.status_code == status, (params, r.text)
    assert (await alpha.get("/vendor/analytics/sales/top", params={"limit": 0})).status_code == 400

import asyncio

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_health_reports_postgres_redis_and_the_feeds_hub_and_relay(client: AsyncTestClient[Litestar]) -> None:
    for _ in range(100):  # the relay takes the lead moments after the app starts
        r = await client.get("/health")
        if r.json()["feed_relay"] != "standby":
            break
        await asyncio.sleep(0.05)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "postgres": "ok", "redis": "ok", "feed_hub": "ok", "feed_relay": "leading"}


async def test_openapi_spec_and_docs_are_served(client: AsyncTestClient[Litestar]) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    assert "/auth/register" in spec["paths"]
    assert "/admin/vendor-applications/{application_id}/approve" in spec["paths"]
    assert "/marketing/campaigns/{campaign_id}/report" in spec["paths"]
    sales = spec["paths"]["/vendor/analytics/sales"]["get"]
    assert {"from", "to", "grain", "format"} <= {p["name"] for p in sales["parameters"]}
    assert (await client.get("/schema")).status_code == 200


async def test_unknown_route_is_a_problem_document(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/no/such/thing")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 404

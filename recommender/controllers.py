"""HTTP routes of recommendations: the signed-in buyer's, similar products on a product page, and what is
trending (for anonymous visitors and new buyers)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from marketplace.core.auth import AuthedRequest
from marketplace.core.deps import AppState
from recommender import serving
from recommender.serving import Recommendations

Count = Annotated[int, QueryParameter(ge=1, le=50, description="How many products (1-50)")]


class RecommendationController(Controller):
    tags = ["recommendations"]

    @get("/me/recommendations", summary="Products for me: nothing I bought, nothing I cannot buy now")
    async def mine(
        self, state: AppState, request: AuthedRequest, limit: Count = serving.DEFAULT_LIMIT
    ) -> Recommendations:
        return await serving.for_buyer(state.db, state.redis, request.user.id, limit)

    @get("/products/{product_id:int}/similar", exclude_from_auth=True, summary="Products like this one")
    async def similar(self, state: AppState, product_id: FromPath[int], limit: Count = 10) -> Recommendations:
        return await serving.similar(state.db, state.redis, product_id, limit)

    @get("/recommendations/trending", exclude_from_auth=True, summary="Trending now, overall or in a category")
    async def trending(
        self,
        state: AppState,
        category_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        limit: Count = 10,
    ) -> Recommendations:
        return await serving.trending(state.db, state.redis, category_id, limit)

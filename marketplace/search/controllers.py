"""GET /products (search and browse) and GET /products/{id} (the product page), both public."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from marketplace.core.cache import cached_json
from marketplace.core.caller import browsing_identity
from marketplace.core.deps import AppState
from marketplace.core.errors import BadRequest, Unprocessable
from marketplace.interactions import Kind
from marketplace.search import Sort, service
from marketplace.search.schemas import ProductPage, SearchResult

PriceParam = Annotated[int | None, QueryParameter(ge=0, le=100_000_000, description="Minor units")]
AttrFilter = Annotated[str, msgspec.Meta(pattern=r"^[^:\x00]+:[^\x00]+$", description="key:value, e.g. colour:red")]


class _Total(msgspec.Struct):
    total: int


# Reads only `total` from a cached page, for the search interaction's result count.
_TOTAL = msgspec.json.Decoder(_Total)


def _attributes(pairs: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        if not sep or not key or not value:
            raise BadRequest("attr filters look like attr=colour:red", field="attr")
        parsed[key] = value
    return parsed


class SearchController(Controller):
    path = "/products"
    tags = ["browse"]

    @get("/", exclude_from_auth=True, summary="Search and browse listed products")
    async def search(
        self,
        state: AppState,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, QueryParameter(max_length=200, description="Words to look for")] = None,
        category: Annotated[int | None, QueryParameter(ge=1, description="Includes sub-categories")] = None,
        min_price: PriceParam = None,
        max_price: PriceParam = None,
        brand: Annotated[list[str] | None, QueryParameter(max_items=20)] = None,
        vendor: Annotated[int | None, QueryParameter(ge=1)] = None,
        attr: Annotated[
            list[AttrFilter] | None, QueryParameter(max_items=10, description="key:value, repeatable")
        ] = None,
        in_stock: Annotated[bool, QueryParameter()] = False,
        sort: Annotated[Sort | None, QueryParameter(description="Default: relevance with q, else best_selling")] = None,
        page: Annotated[int, QueryParameter(ge=1, le=500)] = 1,
        page_size: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        facets: Annotated[bool, QueryParameter(description="Add category, brand and price counts")] = False,
    ) -> Response[SearchResult]:
        if min_price is not None and max_price is not None and min_price > max_price:
            raise Unprocessable("min_price is above max_price")
        query = service.SearchQuery(
            text=q,
            category_id=category,
            min_price=min_price,
            max_price=max_price,
            brands=brand,
            vendor_id=vendor,
            attributes=_attributes(attr or []),
            in_stock=in_stock,
            sort=sort,
            page=page,
            page_size=page_size,
            facets=facets,
        )

        async def produce() -> bytes:
            return msgspec.json.encode(await service.search(state.db, query))

        response = await cached_json(state.cache, query.cache_key(), state.settings.search_cache_seconds, produce)
        if query.text:
            total = _TOTAL.decode(response.content).total
            user_id, session_id = browsing_identity(request, state.settings.secret_key)
            state.recorder.record(
                Kind.SEARCH, user_id=user_id, session_id=session_id, query=query.text, result_count=total
            )
        return response

    @get("/{product_id:int}", exclude_from_auth=True, summary="A product page")
    async def product(
        self, state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]
    ) -> Response[ProductPage]:
        async def produce() -> bytes:
            return msgspec.json.encode(await service.product_page(state.db, product_id))

        response = await cached_json(
            state.cache, f"page:product:{product_id}", state.settings.product_cache_seconds, produce
        )
        user_id, session_id = browsing_identity(request, state.settings.secret_key)
        state.recorder.record(Kind.VIEW, user_id=user_id, session_id=session_id, product_id=product_id)
        return response

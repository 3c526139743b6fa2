"""Browsing: the home page, search with filters, sorts and facets, category pages, product pages and the
recommendation strips. Views and searches are recorded exactly as the API records them, so browsing in a
page shapes recommendations the same way."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from marketplace.accounts import service as accounts
from marketplace.catalog import service as catalog
from marketplace.catalog.schemas import CategoryNode
from marketplace.core import topics
from marketplace.core.auth import caller_of, token_user_id
from marketplace.core.cache import cached_json
from marketplace.core.deps import AppState, client_ip
from marketplace.core.errors import NotFound
from marketplace.flash_sales import service as flash_sales
from marketplace.flash_sales.schemas import PurchaseIn
from marketplace.interactions import Kind
from marketplace.orders.schemas import CheckoutOut
from marketplace.reviews import service as reviews
from marketplace.risk import trust
from marketplace.search import Sort
from marketplace.search import service as search
from marketplace.search.schemas import ProductPage, SearchResult
from marketplace.web.forms import convert, form_of
from marketplace.web.pages import questions as product_questions
from marketplace.web.render import page
from marketplace.web.session import signed_in, visitor_of
from recommender import serving

PAGE_SIZE = 24
STRIP = 10  # cards in a recommendation strip (two rows of five on a desktop)
SORTS = [
    (Sort.RELEVANCE, "Best match"),
    (Sort.BEST_SELLING, "Best selling"),
    (Sort.PRICE_ASC, "Price: low to high"),
    (Sort.PRICE_DESC, "Price: high to low"),
    (Sort.NEWEST, "Newest"),
    (Sort.RATING, "Top rated"),
]
_SEARCH = msgspec.json.Decoder(SearchResult)
_PRODUCT = msgspec.json.Decoder(ProductPage)
_CHECKOUT = msgspec.json.Decoder(CheckoutOut)

Text = Annotated[str | None, QueryParameter(max_length=200)]
Price = Annotated[str | None, QueryParameter(max_length=12)]
Brands = Annotated[list[str] | None, QueryParameter(max_items=20)]
PageNo = Annotated[int, QueryParameter(ge=1, le=400)]


def _record(state: AppState, request: Request[Any, Any, Any], kind: Kind, **what: Any) -> None:
    visitor = visitor_of(request)
    state.recorder.record(kind, user_id=visitor.user.id if visitor.user else None, session_id=visitor.sid, **what)


def _cents(text: str | None) -> int | None:
    """A price typed in currency units ("12.50") as minor units; nonsense is ignored."""
    if not text:
        return None
    try:
        value = round(float(text.replace(",", ".")) * 100)
    except ValueError:
        return None
    return value if 0 <= value <= 100_000_000 else None


async def _recommended(state: AppState, request: Request[Any, Any, Any]) -> serving.Recommendations | None:
    user = visitor_of(request).user
    return None if user is None else await serving.for_buyer(state.db, state.redis, user.id, STRIP)


@get("/", name="home")
async def home(state: AppState, request: Request[Any, Any, Any]) -> Template:
    user = visitor_of(request).user
    tree, trending, sales, recommended = await asyncio.gather(  # independent reads, each on its own connection
        catalog.category_tree(state.db),
        serving.trending(state.db, state.redis, None, STRIP),
        flash_sales.listing(state.db, "live", None, None, 6),
        _recommended(state, request),
    )
    feeds = [topics.user_recommendations(user.id)] if user else []
    return await page(
        request,
        "home.html",
        categories=tree,
        trending=trending.items,
        sales=sales.items,
        recommended=recommended,
        topics=feeds,
    )


@get("/shop/recommended", name="recommended")
async def recommended_strip(state: AppState, request: Request[Any, Any, Any]) -> Template:
    """The "recommended for you" strip alone: the page's script fetches it when the feed says the list changed."""
    return await page(request, "_recommended.html", recommended=await _recommended(state, request))


def _find(nodes: list[CategoryNode], category_id: int, trail: list[CategoryNode]) -> list[CategoryNode] | None:
    for node in nodes:
        if node.id == category_id:
            return [*trail, node]
        if found := _find(node.children, category_id, [*trail, node]):
            return found
    return None


async def _results(
    state: AppState,
    request: Request[Any, Any, Any],
    *,
    text: str | None,
    category: int | None,
    min_price: str | None,
    max_price: str | None,
    brand: list[str] | None,
    in_stock: bool,
    sort: Sort | None,
    page_no: int,
) -> tuple[search.SearchQuery, SearchResult]:
    low, high = _cents(min_price), _cents(max_price)
    if low is not None and high is not None and low > high:
        low, high = high, low
    query = search.SearchQuery(
        text=text,
        category_id=category,
        min_price=low,
        max_price=high,
        brands=brand,
        in_stock=in_stock,
        sort=sort,
        page=page_no,
        page_size=PAGE_SIZE,
        facets=True,
    )

    async def produce() -> bytes:
        return msgspec.json.encode(await search.search(state.db, query))

    response = await cached_json(state.cache, query.cache_key(), state.settings.search_cache_seconds, produce)
    result = _SEARCH.decode(response.content)
    if query.text:
        _record(state, request, Kind.SEARCH, query=query.text, result_count=result.total)
    return query, result


def _price_links(result: SearchResult) -> list[dict[str, Any]]:
    links = []
    for facet in result.facets.prices if result.facets else []:
        low, high = search.price_bucket_range(int(facet.value))
        links.append({"label": facet.label, "count": facet.count, "min": low, "max": high})
    return links


async def _listing(
    state: AppState,
    request: Request[Any, Any, Any],
    template: str,
    *,
    category: int | None,
    q: str | None,
    min_price: str | None,
    max_price: str | None,
    brand: list[str] | None,
    in_stock: bool,
    sort: Sort | None,
    page_no: int,
    **context: Any,
) -> Template:
    query, result = await _results(
        state,
        request,
        text=q,
        category=category,
        min_price=min_price,
        max_price=max_price,
        brand=brand,
        in_stock=in_stock,
        sort=sort,
        page_no=page_no,
    )
    params = {
        "q": query.text,
        "category": category,
        "min_price": min_price,
        "max_price": max_price,
        "brand": query.brands,
        "in_stock": "1" if in_stock else None,
        "sort": sort.value if sort else None,
    }
    pages = max(1, -(-result.total // PAGE_SIZE))
    return await page(
        request,
        template,
        result=result,
        query=query,
        params=params,
        sorts=[(s, name) for s, name in SORTS if s != Sort.RELEVANCE or query.text],
        price_links=_price_links(result),
        pages=min(pages, 400),
        page_no=page_no,
        **context,
    )


@get("/shop/search", name="search")
async def search_page(
    state: AppState,
    request: Request[Any, Any, Any],
    q: Text = None,
    category: Annotated[int | None, QueryParameter(ge=1)] = None,
    min_price: Price = None,
    max_price: Price = None,
    brand: Brands = None,
    in_stock: FromQuery[bool] = False,
    sort: FromQuery[Sort | None] = None,
    page_no: Annotated[PageNo, QueryParameter(name="page")] = 1,
) -> Template:
    tree = await catalog.category_tree(state.db)
    trail = _find(tree, category, []) if category else None
    return await _listing(
        state,
        request,
        "search.html",
        category=category,
        q=q,
        min_price=min_price,
        max_price=max_price,
        brand=brand,
        in_stock=in_stock,
        sort=sort,
        page_no=page_no,
        trail=trail or [],
        title=f"“{q}”" if q else "All products",
    )


@get("/shop/categories/{category_id:int}", name="category")
async def category_page(
    state: AppState,
    request: Request[Any, Any, Any],
    category_id: FromPath[int],
    min_price: Price = None,
    max_price: Price = None,
    brand: Brands = None,
    in_stock: FromQuery[bool] = False,
    sort: FromQuery[Sort | None] = None,
    page_no: Annotated[PageNo, QueryParameter(name="page")] = 1,
) -> Template:
    trail = _find(await catalog.category_tree(state.db), category_id, [])
    if trail is None:
        raise NotFound("there is no such category")
    return await _listing(
        state,
        request,
        "category.html",
        category=category_id,
        q=None,
        min_price=min_price,
        max_price=max_price,
        brand=brand,
        in_stock=in_stock,
        sort=sort,
        page_no=page_no,
        trail=trail,
        node=trail[-1],
        title=trail[-1].name,
    )


async def product_page_of(state: AppState, product_id: int) -> ProductPage:
    async def produce() -> bytes:
        return msgspec.json.encode(await search.product_page(state.db, product_id))

    key = f"page:product:{product_id}"
    return _PRODUCT.decode((await cached_json(state.cache, key, state.settings.product_cache_seconds, produce)).content)


@get("/shop/products/{product_id:int}", name="product")
async def product_page(
    state: AppState,
    request: Request[Any, Any, Any],
    product_id: FromPath[int],
    reviews_after: Annotated[int | None, QueryParameter(ge=1)] = None,
    questions_after: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> Template:
    product = await product_page_of(state, product_id)
    _record(state, request, Kind.VIEW, product_id=product_id)
    user = visitor_of(request).user
    listed, similar, page_reviews, recommended, page_questions = await asyncio.gather(  # independent reads
        flash_sales.listing(state.db, None, product_id, None, 5),
        serving.similar(state.db, state.redis, product_id, STRIP),
        reviews.of_product(state.db, product_id, reviews_after, 10),
        _recommended(state, request),
        product_questions.section(state, product_id, user, questions_after),
    )
    sales = [s for s in listed.items if s.status in ("live", "scheduled")]
    window, late_hours = state.settings.trust_window_days, state.settings.ship_within_hours
    shop_trust = await trust.shop_trust(state.db, product.vendor.id, window, late_hours)  # the badge, one stored row
    addresses = await accounts.list_addresses(state.db, user.id) if user is not None and sales else []
    selected = next((s for s in product.skus if s.in_stock), product.skus[0] if product.skus else None)
    return await page(
        request,
        "product.html",
        product=product,
        sales=sales,
        sale_skus={s.sku_id: s for s in sales if s.status == "live"},
        similar=similar.items,
        reviews=page_reviews.items,
        more_reviews=page_reviews.next_cursor,
        selected=selected,
        addresses=addresses,
        recommended=recommended,
        buy_key=uuid.uuid4().hex,  # one flash-sale purchase per rendered form, however often it is submitted
        topics=[topics.product_stock(product_id)] + ([topics.user_recommendations(user.id)] if user else []),
        title=product.title,
        shop_trust=shop_trust,
        **page_questions,
    )


@post("/shop/flash-sales/{sale_id:int}/buy", name="flash-buy")
async def flash_buy(state: AppState, request: Request[Any, Any, Any], sale_id: FromPath[int]) -> Redirect:
    """Buys one unit at the sale price through the same gate and purchase path as the API (the page session's
    token stands in for the bearer header), then goes to paying for the checkout it placed."""
    visitor = visitor_of(request)
    signed_in(request)
    token = visitor.token  # a signed-in visitor's session token
    form = await form_of(request)
    body = convert({"address_id": form.get("address_id") or 0, "quantity": 1}, PurchaseIn)
    key = form.get("idempotency_key") or None
    answer = await flash_sales.purchase(
        state.db, state.gate, state.flash_purchases, state.settings, sale_id, token_user_id(token),
        client_ip(request), body, key,
        confirm_buyer=lambda: caller_of(token, request),
    )  # fmt: skip
    placed = _CHECKOUT.decode(answer.body)
    return Redirect(f"/shop/checkouts/{placed.id}", status_code=303)


ROUTES = [home, recommended_strip, search_page, category_page, product_page, flash_buy]

"""The vendor console's catalog pages: products (list, create, edit, SKUs, images, list/unlist); the shop's
offers (flash sales, coupons) are in vendor_offers.py, which shares the form helpers here. Only an active
vendor sees them (`vendor_of`, as on the board); anyone else signed in gets 403 and no data. Every form calls
the service the JSON API's VendorProductController calls, with the same structs (so the same limits); a
refusal is shown in the page, with the form as it was sent."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from marketplace.catalog import ProductStatus, images
from marketplace.catalog import service as catalog
from marketplace.catalog.schemas import CategoryNode, ProductIn, ProductOut, ProductPatch, SkuIn, SkuPatch
from marketplace.core.deps import AppState
from marketplace.core.errors import DomainError
from marketplace.core.money import DEFAULT_CURRENCY, amount_text, parse_money
from marketplace.core.types import MAX_BIGINT
from marketplace.web.forms import Form, convert, form_of, problem_text
from marketplace.web.pages.vendor import vendor_of
from marketplace.web.render import page

PRODUCTS = "/vendor/console/products"
SALES = "/vendor/console/flash-sales"
COUPONS = "/vendor/console/coupons"
PER_PAGE = 20
PICKER = 100  # products whose SKUs the flash-sale and coupon forms offer
CATALOG = {"changes_catalog": True}  # buyers' cached pages refresh after these writes, as after the API's
PageCursor = Annotated[int | None, QueryParameter(ge=1, le=MAX_BIGINT)]
Failure = (DomainError, msgspec.ValidationError)


class Sent(dict[str, str]):
    """A form's fields as sent, put back in the page after a refusal; a field not sent reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


def _status_of(exc: Exception) -> int:
    return getattr(exc, "status_code", 400)


def _minor(text: str, currency: str) -> int | str:
    """A price typed in currency units ("12.50") as minor units; anything else is passed on for the struct
    to refuse with its own message."""
    try:
        return parse_money(text, currency)
    except ValueError:
        return text


def _major(amount: int | None, currency: str) -> str:
    return "" if amount is None else amount_text(amount, currency)


def _options(text: str) -> dict[str, str]:
    """Options typed as "colour: red, size: L" (or one per line, or with `=`) as attributes; a piece without a
    value stays empty for the struct to refuse."""
    found: dict[str, str] = {}
    for piece in text.replace("\n", ",").split(","):
        if not piece.strip():
            continue
        key, _, value = piece.replace("=", ":", 1).partition(":")
        found[key.strip()] = value.strip()
    return found


def _instant(text: str) -> str:
    """A `datetime-local` value (UTC, as the console shows times) in the RFC 3339 form the struct reads."""
    text = text.strip()
    if len(text) == 16:
        text += ":00"
    if len(text) == 19 and "T" in text:
        text += "+00:00"
    return text


def _optional(text: str | None) -> str | None:
    return text.strip() if text and text.strip() else None


def _flat(nodes: list[CategoryNode], depth: int = 0) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    for node in nodes:
        rows.append((node.id, "\u2003" * depth + node.name))
        rows += _flat(node.children, depth + 1)
    return rows


async def _categories(state: AppState) -> list[tuple[int, str]]:
    return _flat(await catalog.category_tree(state.db))


# Products


async def _products(
    state: AppState,
    request: Request[Any, Any, Any],
    vendor_id: int,
    show: str = "",
    cursor: int | None = None,
    status: int = 200,
    **shown: Any,
) -> Template:
    wanted = ProductStatus(show) if show in {s.value for s in ProductStatus} else None
    listed = await catalog.vendor_products(state.db, vendor_id, wanted, cursor, PER_PAGE)
    context = {"error": None, "form": Sent()} | shown
    return await page(
        request,
        "vendor_products.html",
        status=status,
        title="Products",
        products=listed.items,
        next_cursor=listed.next_cursor,
        show=wanted.value if wanted else "",
        statuses=[s.value for s in ProductStatus],
        categories=await _categories(state),
        currency=DEFAULT_CURRENCY,
        **context,
    )


@get(PRODUCTS, name="vendor-products")
async def products_page(
    state: AppState,
    request: Request[Any, Any, Any],
    status: Annotated[str, QueryParameter(max_length=20)] = "",
    cursor: PageCursor = None,
) -> Template:
    _, vendor_id = vendor_of(request)
    return await _products(state, request, vendor_id, status, cursor)


@post(PRODUCTS, name="vendor-product-create", opt=CATALOG)
async def create_product(state: AppState, request: Request[Any, Any, Any]) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    form = await form_of(request)
    currency = form.get("currency", "").strip().upper() or DEFAULT_CURRENCY
    try:
        sku = {
            "code": form.get("sku_code", "").strip(),
            "price": _minor(form.get("price", ""), currency),
            "attributes": _options(form.get("options", "")),
            "stock": form.get("stock", "").strip() or 0,
        }
        body = convert(
            {
                "category_id": form.get("category_id") or 0,
                "title": form.get("title", "").strip(),
                "currency": currency,
                "brand": form.get("brand", "").strip(),
                "model": form.get("model", "").strip(),
                "description": form.get("description", "").strip(),
                "skus": [sku],
            },
            ProductIn,
        )
        created = await catalog.create_product(state.db, vendor_id, user.id, body)
    except Failure as exc:
        return await _products(
            state, request, vendor_id, status=_status_of(exc), error=problem_text(exc), form=Sent(form)
        )
    return Redirect(f"{PRODUCTS}/{created.id}", status_code=303)


async def _product(
    state: AppState, request: Request[Any, Any, Any], product: ProductOut, status: int = 200, **shown: Any
) -> Template:
    context = {"error": None, "failed": None, "form": Sent(), "blank": Sent()} | shown
    return await page(
        request,
        "vendor_product.html",
        status=status,
        title=product.title,
        product=product,
        categories=await _categories(state),
        major=_major,
        max_images=catalog.MAX_IMAGES_PER_PRODUCT,
        **context,
    )


async def _refused(
    state: AppState,
    request: Request[Any, Any, Any],
    vendor_id: int,
    product_id: int,
    exc: Exception,
    form: Form | None = None,
    failed: str | None = None,
) -> Template:
    """The product page again, saying why the change was refused (the product itself may not be ours: 404)."""
    product = await catalog.vendor_product(state.db, vendor_id, product_id)
    return await _product(
        state, request, product, _status_of(exc), error=problem_text(exc), form=Sent(form or {}), failed=failed
    )


def _back(product_id: int, anchor: str = "") -> Redirect:
    return Redirect(f"{PRODUCTS}/{product_id}{anchor}", status_code=303)


@get(f"{PRODUCTS}/{{product_id:int}}", name="vendor-product")
async def product_page(state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]) -> Template:
    _, vendor_id = vendor_of(request)
    return await _product(state, request, await catalog.vendor_product(state.db, vendor_id, product_id))


@post(f"{PRODUCTS}/{{product_id:int}}", name="vendor-product-edit", opt=CATALOG)
async def edit_product(
    state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]
) -> Template | Redirect:
    _, vendor_id = vendor_of(request)
    form = await form_of(request)
    fields = {k: form.get(k, "").strip() for k in ("title", "brand", "model", "description")}
    try:
        body = convert({"category_id": form.get("category_id") or 0, **fields}, ProductPatch)
        await catalog.update_product(state.db, vendor_id, product_id, body)
    except Failure as exc:
        return await _refused(state, request, vendor_id, product_id, exc, form, "details")
    return _back(product_id)


async def _move(
    state: AppState, request: Request[Any, Any, Any], product_id: int, target: ProductStatus
) -> Template | Redirect:
    """List or unlist, through the catalog's state machine (a taken-down product is refused there)."""
    _, vendor_id = vendor_of(request)
    try:
        await catalog.set_vendor_status(
            state.db, vendor_id, product_id, target, catalog.ListingReview.of(state.settings)
        )
    except DomainError as exc:
        return await _refused(state, request, vendor_id, product_id, exc, failed="status")
    return _back(product_id)


@post(f"{PRODUCTS}/{{product_id:int}}/list", name="vendor-product-list", opt=CATALOG)
async def list_product(
    state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]
) -> Template | Redirect:
    return await _move(state, request, product_id, ProductStatus.LISTED)


@post(f"{PRODUCTS}/{{product_id:int}}/unlist", name="vendor-product-unlist", opt=CATALOG)
async def unlist_product(
    state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]
) -> Template | Redirect:
    return await _move(state, request, product_id, ProductStatus.UNLISTED)


@post(f"{PRODUCTS}/{{product_id:int}}/skus", name="vendor-sku-add", opt=CATALOG)
async def add_sku(state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]) -> Template | Redirect:
    user, vendor_id = vendor_of(request)
    form = await form_of(request)
    try:
        product = await catalog.vendor_product(state.db, vendor_id, product_id)
        body = convert(
            {
                "code": form.get("code", "").strip(),
                "price": _minor(form.get("price", ""), product.currency),
                "attributes": _options(form.get("options", "")),
                "stock": form.get("stock", "").strip() or 0,
                "low_stock_threshold": form.get("low_stock_threshold", "").strip() or 5,
            },
            SkuIn,
        )
        await catalog.add_sku(state.db, vendor_id, user.id, product_id, body)
    except Failure as exc:
        return await _refused(state, request, vendor_id, product_id, exc, form, "new-sku")
    return _back(product_id, "#skus")


@post(f"{PRODUCTS}/{{product_id:int}}/skus/{{sku_id:int}}", name="vendor-sku-edit", opt=CATALOG)
async def edit_sku(
    state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int], sku_id: FromPath[int]
) -> Template | Redirect:
    _, vendor_id = vendor_of(request)
    form = await form_of(request)
    try:
        product = await catalog.vendor_product(state.db, vendor_id, product_id)
        body = convert(
            {
                "price": _minor(form.get("price", ""), product.currency),
                "attributes": _options(form.get("options", "")),
            }
            | ({"low_stock_threshold": t} if (t := form.get("low_stock_threshold", "").strip()) else {}),
            SkuPatch,
        )
        await catalog.update_sku(state.db, vendor_id, product_id, sku_id, body)
    except Failure as exc:
        return await _refused(state, request, vendor_id, product_id, exc, form, f"sku-{sku_id}")
    return _back(product_id, "#skus")


@post(
    f"{PRODUCTS}/{{product_id:int}}/images",
    name="vendor-image-add",
    opt=CATALOG,
    request_max_body_size=images.MAX_IMAGE_BYTES + 64 * 1024,
)
async def add_image(state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int]) -> Template | Redirect:
    """A multipart form's `file`; the service decodes and checks it as it does for the API."""
    _, vendor_id = vendor_of(request)
    upload = (await request.form()).get("file")
    content = await upload.read() if isinstance(upload, UploadFile) else b""
    try:
        await catalog.add_image(state.db, state.settings.data_dir, vendor_id, product_id, content)
    except DomainError as exc:
        return await _refused(state, request, vendor_id, product_id, exc, failed="images")
    return _back(product_id, "#images")


@post(f"{PRODUCTS}/{{product_id:int}}/images/{{image_id:int}}/delete", name="vendor-image-delete", opt=CATALOG)
async def delete_image(
    state: AppState, request: Request[Any, Any, Any], product_id: FromPath[int], image_id: FromPath[int]
) -> Template | Redirect:
    _, vendor_id = vendor_of(request)
    try:
        await catalog.delete_image(state.db, vendor_id, product_id, image_id)
    except DomainError as exc:
        return await _refused(state, request, vendor_id, product_id, exc, failed="images")
    return _back(product_id, "#images")


ROUTES = [
    products_page,
    create_product,
    product_page,
    edit_product,
    list_product,
    unlist_product,
    add_sku,
    edit_sku,
    add_image,
    delete_image,
]

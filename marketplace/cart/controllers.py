"""HTTP routes of the cart: /cart."""

from __future__ import annotations

from litestar import Controller, delete, get, put
from litestar.params import FromPath, JSONBody

from marketplace.cart import service
from marketplace.cart.schemas import Cart, QuantityIn
from marketplace.core.auth import AuthedRequest
from marketplace.core.deps import AppState
from marketplace.interactions import Kind


class CartController(Controller):
    path = "/cart"
    tags = ["cart"]

    @get("/", summary="My cart, priced now")
    async def cart(self, state: AppState, request: AuthedRequest) -> Cart:
        return await service.get_cart(state.db, request.user.id)

    @put("/items/{sku_id:int}", summary="Put a quantity of a variant in the cart (replaces the quantity)")
    async def set_item(
        self, state: AppState, request: AuthedRequest, sku_id: FromPath[int], data: JSONBody[QuantityIn]
    ) -> Cart:
        cart, product_id = await service.set_quantity(state.db, request.user.id, sku_id, data.quantity)
        state.recorder.record(Kind.CART, user_id=request.user.id, product_id=product_id, quantity=data.quantity)
        return cart

    @delete("/items/{sku_id:int}", status_code=200)
    async def remove_item(self, state: AppState, request: AuthedRequest, sku_id: FromPath[int]) -> Cart:
        return await service.remove(state.db, request.user.id, sku_id)

    @delete("/", summary="Empty my cart")
    async def clear(self, state: AppState, request: AuthedRequest) -> None:
        await service.clear(state.db, request.user.id)

"""The reference point: a bare Litestar JSON endpoint, served by the same server settings as the app."""

from litestar import Litestar, get

ITEM = {
    "id": 1,
    "title": "Boilco Classic Kettle BO-101",
    "brand": "Boilco",
    "vendor_id": 7,
    "vendor_name": "Blue Corner",
    "min_price": 3499,
    "max_price": 3899,
    "currency": "EUR",
    "in_stock": True,
}


@get("/bare")
async def bare() -> dict[str, object]:
    return ITEM


app = Litestar([bare])

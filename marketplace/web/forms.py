"""Reading HTML forms, and turning what services answer into sentences a shopper can act on.

Forms are converted into the same msgspec structs the JSON API decodes (so the same limits apply); a page
never checks a rule of its own."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import msgspec
from litestar import Request

from marketplace.core.errors import DomainError

T = TypeVar("T")
_WHERE = re.compile(r"\s+-\s+at `\$\.?([^`]*)`$")


class Form(dict[str, str]):
    """A form's fields, first value of each; `all()` for a field sent several times."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.pairs = pairs
        for key, value in pairs:
            if isinstance(value, str):
                self.setdefault(key, value)

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key and isinstance(v, str)]


async def form_of(request: Request[Any, Any, Any]) -> Form:
    return Form(list((await request.form()).multi_items()))


def problem_text(exc: DomainError | msgspec.ValidationError | Exception) -> str:
    """A sentence: "Only 2 left in stock." rather than an error class or a JSON path."""
    if isinstance(exc, msgspec.ValidationError):
        text = str(exc)
        found = _WHERE.search(text)
        if found:
            field = found.group(1).split(".")[-1].replace("_", " ") or "a field"
            detail = text[: found.start()].replace("Expected", "expected")
            text = f"Check {field}: {detail}"
    else:
        text = getattr(exc, "detail", None) or str(exc)
    text = text.strip()
    if not text:
        return "Something went wrong; please try again."
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def convert(data: dict[str, Any], into: type[T]) -> T:
    """Form values into a struct, with strings becoming numbers where the struct wants them."""
    return msgspec.convert(data, into, strict=False)


def basis_points(text: str) -> int:
    """A percentage as people type it ("12.5", "12,5 %") in basis points (1250); ValueError says what is wrong."""
    try:
        value = Decimal(text.strip().rstrip("%").strip().replace(",", ".") or "0") * 100
    except InvalidOperation:
        raise ValueError("type a percentage such as 12.5") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError("a percentage has at most two decimals (12.75)")
    return int(value)

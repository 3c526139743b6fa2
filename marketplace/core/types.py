"""Constrained field types shared by request schemas, so every domain validates alike."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, structs

# PostgreSQL's bigint: every integer the API takes is stored in one, so none may lie outside it. The edge
# (core/edge.py) refuses any JSON or query integer beyond these bounds with a 400 naming the field, and the
# OpenAPI document states them; these types say it where a schema declares the field.
MIN_BIGINT = -(2**63)
MAX_BIGINT = 2**63 - 1
Id = Annotated[int, Meta(ge=1, le=MAX_BIGINT, description="An id (1 to 2^63-1)")]
BigInt = Annotated[int, Meta(ge=MIN_BIGINT, le=MAX_BIGINT)]
NonNegative = Annotated[int, Meta(ge=0, le=MAX_BIGINT)]
Count = Annotated[int, Meta(ge=1, le=MAX_BIGINT)]

# Patterns spell character classes out: `\s` means different things to Python's re and to the ECMA regexes
# JSON Schema (and so the OpenAPI document's readers) use.
_EMAIL_CHAR = r"[^@\x00-\x20\x7f]"  # not @, a space or a control character
Email = Annotated[str, Meta(pattern=rf"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}+$", max_length=254)]
Phone = Annotated[str, Meta(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +4915112345678")]
ShortText = Annotated[str, Meta(min_length=1, max_length=120)]
OptionalShortText = Annotated[str, Meta(max_length=120)]
LongText = Annotated[str, Meta(max_length=4000)]
Reason = Annotated[str, Meta(min_length=3, max_length=1000)]
CountryCode = Annotated[str, Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]


def set_fields(patch: Struct) -> dict[str, Any]:
    """The fields a PATCH body actually set (UNSET ones left out)."""
    return {k: v for k, v in structs.asdict(patch).items() if v is not UNSET}


Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")]
# Money is integer minor units (cents); bounded so sums of a few thousand lines cannot overflow.
Price = Annotated[int, Meta(ge=1, le=100_000_000, description="Minor units (cents)")]
Quantity = Annotated[int, Meta(ge=0, le=1_000_000)]
AttrKey = Annotated[str, Meta(min_length=1, max_length=40)]
AttrValue = Annotated[str, Meta(min_length=1, max_length=200)]
Attributes = Annotated[dict[AttrKey, AttrValue], Meta(max_length=30)]

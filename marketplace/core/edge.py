"""Input rules every route shares, checked once at the edge (the app's `before_request`, after the caller is
authenticated and the route's guards pass, before Litestar decodes anything), so no handler repeats them and
nothing a PostgreSQL column cannot hold reaches a query:

- integer path parameters are ids: outside 1 to 2^63-1 nothing can have them, so the answer is 404;
- JSON bodies must say so (`Content-Type: application/json` or a `+json` type; uploads `multipart/form-data`):
  415 otherwise;
- JSON bodies are typed strictly: `"2"` is not an integer (Litestar's own decoding would coerce it), while
  `2.0` is (JSON has one kind of number, and JSON Schema calls a number without a fraction an integer);
- no text anywhere (body strings and keys, query names and values, path segments) contains NUL (U+0000),
  and no integer in a body or an integer query parameter lies outside PostgreSQL's bigint: 400 naming the
  field.

What the rules need from a handler (its body type, its integer query parameters) is worked out on its first
request and kept in its `opt`."""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

import msgspec
from litestar import Request
from litestar.constants import RESERVED_KWARGS
from litestar.enums import ParamType, RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg, ParameterKwarg
from litestar.typing import FieldDefinition

from marketplace.core.errors import BadRequest, InvalidInput, NotFound
from marketplace.core.types import MAX_BIGINT, MIN_BIGINT

NUL = "\x00"
NUL_MESSAGE = "text must not contain the NUL character (U+0000)"
RANGE_MESSAGE = f"integers here lie between {MIN_BIGINT} and {MAX_BIGINT}"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_RULES = "_edge_rules"


@dataclass(frozen=True, slots=True)
class Rules:
    query_ints: tuple[str, ...]  # names of integer query parameters
    body_type: Any  # what a body decodes into; None: the route takes no body
    body_media: str  # the media type a body must be sent as
    json_body: bool


def _holds_int(annotation: Any) -> bool:
    """int, int | None, list[int] and the like (not bool, which subclasses int)."""
    if annotation is int:
        return True
    return get_origin(annotation) in (Union, types.UnionType, list, tuple, set, frozenset) and any(
        _holds_int(a) for a in get_args(annotation)
    )


def _query_name(name: str, field: FieldDefinition) -> str | None:
    kwarg = field.kwarg_definition
    if isinstance(kwarg, ParameterKwarg):
        return kwarg.query or kwarg.name or name if kwarg.param_type is ParamType.QUERY else None
    return None if field.is_di_field else name


def rules_of(handler: HTTPRouteHandler, path_params: set[str]) -> Rules:
    fields = handler.parsed_fn_signature.parameters
    query_ints = tuple(
        alias
        for name, field in fields.items()
        if name not in RESERVED_KWARGS
        and name not in path_params
        and (alias := _query_name(name, field)) is not None
        and _holds_int(field.annotation)
    )
    data = fields.get("data")
    if data is None:
        return Rules(query_ints, None, "", False)
    media = data.kwarg_definition.media_type if isinstance(data.kwarg_definition, BodyKwarg) else "application/json"
    media = media.value if isinstance(media, RequestEncodingType) else str(media)
    return Rules(query_ints, data.annotation, media, media == RequestEncodingType.JSON.value)


def _rules(request: Request[Any, Any, Any]) -> Rules:
    handler = request.route_handler
    rules = handler.opt.get(_RULES)
    if rules is None:
        rules = handler.opt[_RULES] = rules_of(handler, set(request.path_params))
    return rules


def _out_of_range(text: str) -> bool:
    digits = text.lstrip("+-")
    return len(digits) > 19 or not MIN_BIGINT <= int(text) <= MAX_BIGINT


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _walk(value: Any) -> tuple[Any, list[dict[str, str]]]:
    """The decoded JSON value with numbers like 2.0 as integers, and its strings with NUL and integers beyond
    bigint, by dotted path."""
    errors: list[dict[str, str]] = []
    root = [value]
    stack: list[tuple[str, Any, Any, Any]] = [("", value, root, 0)]
    while stack:
        path, item, parent, slot = stack.pop()
        if isinstance(item, float) and item.is_integer() and MIN_BIGINT <= item <= MAX_BIGINT:
            parent[slot] = item = int(item)
        if isinstance(item, str):
            if NUL in item:
                errors.append({"key": path, "message": NUL_MESSAGE, "source": "body"})
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not MIN_BIGINT <= item <= MAX_BIGINT:
                errors.append({"key": path, "message": RANGE_MESSAGE, "source": "body"})
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if NUL in key:
                    errors.append({"key": child_path, "message": NUL_MESSAGE, "source": "body"})
                stack.append((child_path, child, item, key))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child, item, i) for i, child in enumerate(item))
    return root[0], sorted(errors, key=lambda e: e["key"])


_LOCATION = re.compile(r"\s+-\s+at `\$(.*)`$")


def _strict_error(exc: msgspec.ValidationError) -> dict[str, str]:
    text = str(exc)
    found = _LOCATION.search(text)
    key = found.group(1).lstrip(".") if found else ""
    message = text[: found.start()] if found else text
    return {"key": key, "message": message, "source": "body"}


def _refuse(errors: list[dict[str, str]]) -> InvalidInput:
    named = "; ".join(f"`{e['key']}`: {e['message']}" if e["key"] else e["message"] for e in errors[:5])
    return InvalidInput(f"invalid request: {named}", errors)


async def check_input(request: Request[Any, Any, Any]) -> None:
    """The app's before_request hook; raises to refuse the request, returns None to let it through."""
    for name, value in request.path_params.items():
        if (isinstance(value, int) and not 1 <= value <= MAX_BIGINT) or (isinstance(value, str) and NUL in value):
            raise NotFound(f"no such {name.removesuffix('_id').replace('_', ' ')}")
    rules = _rules(request)
    errors = []
    query = request.query_params
    for key, value in query.multi_items():
        if NUL in key or NUL in value:
            errors.append({"key": key.replace(NUL, "\\u0000"), "message": NUL_MESSAGE, "source": "query"})
    for name in rules.query_ints:
        for value in query.getall(name, ()):
            if _INTEGER.fullmatch(value) and _out_of_range(value):
                errors.append({"key": name, "message": RANGE_MESSAGE, "source": "query"})
    if errors:
        raise _refuse(errors)
    if rules.body_type is None or not (body := await request.body()):
        return
    media_type = request.content_type[0]
    if not (_is_json(media_type) if rules.json_body else media_type == rules.body_media):
        expected = "application/json" if rules.json_body else rules.body_media
        raise InvalidInput(f"send the body as {expected} (got {media_type or 'no Content-Type'})", status_code=415)
    if not rules.json_body:
        return
    try:
        value = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("the request body is not valid JSON", code="invalid-json") from exc
    value, errors = _walk(value)
    if errors:
        raise _refuse(errors)
    try:
        msgspec.convert(value, rules.body_type, strict=True, dec_hook=request.route_handler.default_deserializer)
    except msgspec.ValidationError as exc:
        raise _refuse([_strict_error(exc)]) from None

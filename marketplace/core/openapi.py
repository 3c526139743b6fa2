"""The OpenAPI document, completed in one place from what the routes actually do (what their code raises is
read by core/reach.py).

Litestar documents each route's success response and a 400. The rest is derived here, the first time the
document is built, by walking the app's route handlers:

- **statuses**: 401 where the caller must sign in (the auth middleware, or a handler that checks the token
  itself), 403 where guards run, 404 for path parameters, 400/413/415 for input and bodies, 503 for anything
  touching PostgreSQL or Redis, and every status the handler's code can raise: its source and the source of
  every function of ours it reaches are read (the AST) for `DomainError`s it constructs, so a 409 added to a
  service shows up in the document of every route that calls it. Each is an `application/problem+json`
  response with the `Problem` schema; statuses a route declares itself (`responses=`) are left as declared.
- **security**: the bearer scheme on authenticated routes, none on public ones.
- **content types**: a `format` query parameter with `csv` or `png` adds `text/csv` / `image/png`; a handler
  returning raw bytes names its types in `opt={"media_types": [...]}`; `X | Response[bytes]` documents X.
- **bounds the edge enforces** (core/edge.py): integers within PostgreSQL's bigint, path ids from 1, and
  text without NUL characters.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
from litestar import Litestar
from litestar.constants import RESERVED_KWARGS
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import OpenAPI
from litestar.params import ParameterKwarg
from litestar.routes import HTTPRoute

from marketplace.core.errors import PROBLEM_JSON, PROBLEM_TYPES
from marketplace.core.reach import reach
from marketplace.core.types import MAX_BIGINT, MIN_BIGINT

BEARER = "BearerToken"
NO_NUL = "^[^\\u0000]*$"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FORMAT_MEDIA = {"csv": "text/csv", "png": "image/png"}

STATUS_TEXT = {
    400: "The request does not match the documented schema, or is otherwise malformed",
    401: "Sign in first: no access token, or one that is invalid, expired or revoked",
    403: "The caller may not do this",
    404: "No such resource (or not one the caller may see)",
    409: "The resource's current state does not allow this",
    413: "The body is too large",
    415: "The body is not in the media type the route takes",
    422: "The request matches the schema but breaks a rule",
    429: "Too many attempts; retry after Retry-After seconds",
    503: "PostgreSQL or Redis is briefly unavailable; retry after Retry-After seconds",
}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}}
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "An RFC 9457 problem. Branch on `code` (stable; `type` is `/problems/<code>`, its documentation). "
    "Problems add members of their own: `errors` (the fields a 400 refuses), `reason`, `retry_after`, `field`, ...",
    "required": ["type", "code", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": "`/problems/<code>`: what this problem means"},
        "code": {"type": "string", "enum": sorted(PROBLEM_TYPES)},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request's path"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "key": {"type": "string", "description": "The field: `address_id`, `lines[0].quantity`"},
                    "message": {"type": "string"},
                    "source": {"type": "string", "description": "body, query, path or header"},
                },
            },
        },
    },
}


@dataclass
class RouteNote:
    """What the document should say about one operation, beyond what Litestar says."""

    authenticated: bool
    statuses: set[int]
    declared: set[int]  # statuses the handler documents itself
    media_types: dict[str, dict[str, Any]]  # extra success content types and their schemas
    parameters: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # by (location, name)


# --- what the document should say about each route -----------------------------------------------------------


def _parameters(handler: HTTPRouteHandler, path_params: set[str]) -> Iterator[tuple[ParamType, Any]]:
    for name, definition in handler.parsed_fn_signature.parameters.items():
        if name in RESERVED_KWARGS or definition.is_di_field:
            continue
        kwarg = definition.kwarg_definition
        if name in path_params:
            yield ParamType.PATH, definition
        elif isinstance(kwarg, ParameterKwarg):
            yield kwarg.param_type, definition
        else:
            yield ParamType.QUERY, definition


# Parameter constraints as Litestar's kwargs name them, and as JSON Schema does.
KWARG_KEYWORDS = {
    "ge": "minimum",
    "gt": "exclusiveMinimum",
    "le": "maximum",
    "lt": "exclusiveMaximum",
    "multiple_of": "multipleOf",
    "min_length": "minLength",
    "max_length": "maxLength",
    "pattern": "pattern",
    "min_items": "minItems",
    "max_items": "maxItems",
}


def _parameter_schemas(handler: HTTPRouteHandler, path_params: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Constraints of each parameter, by (location, name), that Litestar's document loses: any equal to 0
    (it skips falsy values, so `ge=0` vanishes) and those of list items (`list[Annotated[str, Meta(...)]]`)."""
    found = {}
    for kind, definition in _parameters(handler, path_params):
        kwarg = definition.kwarg_definition
        schema = {}
        if isinstance(kwarg, ParameterKwarg):
            schema = {k: v for a, k in KWARG_KEYWORDS.items() if (v := getattr(kwarg, a, None)) is not None}
        for option in (definition.annotation, *get_args(definition.annotation)):
            if get_origin(option) is list and get_origin(item := get_args(option)[0]) is Annotated:
                schema["items"] = msgspec.json.schema(item)
        if schema:
            alias = kwarg.query or kwarg.header or kwarg.name if isinstance(kwarg, ParameterKwarg) else None
            found[kind.value, (alias or definition.name).lower()] = schema
    return found


def _format_media(handler: HTTPRouteHandler) -> dict[str, dict[str, Any]]:
    definition = handler.parsed_fn_signature.parameters.get("format")
    if definition is None or get_origin(definition.annotation) is not Literal:
        return {}
    return {
        FORMAT_MEDIA[f]: {"schema": {"type": "string", "contentMediaType": FORMAT_MEDIA[f]}}
        for f in get_args(definition.annotation)
        if f in FORMAT_MEDIA
    }


def note_for(handler: HTTPRouteHandler, route: HTTPRoute) -> RouteNote:
    path_params = set(route.path_parameters)
    found = reach(handler.fn)
    authenticated = not handler.opt.get("exclude_from_auth") or found.checks_token
    takes_body = "data" in handler.parsed_fn_signature.parameters
    statuses = set(found.statuses)
    for kind, definition in _parameters(handler, path_params):
        if kind is ParamType.PATH:
            statuses.add(404)  # ids no row has, beyond bigint too (core/edge.py)
            kwarg = definition.kwarg_definition
            if isinstance(kwarg, ParameterKwarg) and (kwarg.pattern or kwarg.max_length):
                statuses.add(400)  # a text parameter with a shape
        else:
            statuses.add(400)
    if takes_body:
        statuses |= {400, 413, 415}
    if found.reads_body:
        statuses.add(413)
    if authenticated:
        statuses.add(401)
    if handler.resolve_guards():
        statuses.add(403)
    if authenticated or "state" in handler.parsed_fn_signature.parameters:
        statuses.add(503)  # the token is checked against Redis and PostgreSQL; handlers reach both
    media_types = _format_media(handler)
    for media_type in handler.opt.get("media_types", ()):
        media_types[media_type] = {"schema": {"type": "string", "contentMediaType": media_type}}
    statuses.discard(500)
    return RouteNote(
        authenticated, statuses, set(handler.responses or {}), media_types, _parameter_schemas(handler, path_params)
    )


@dataclass
class Notes:
    routes: dict[tuple[str, str], RouteNote]  # by (path, method)
    bodies: list[Any]  # the types request bodies decode into


def describe(app: Litestar) -> Notes:
    notes = Notes({}, [])
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            note = note_for(handler, route)
            for method in handler.http_methods:
                notes.routes[route.path_format or "/", method.lower()] = note
            if (data := handler.parsed_fn_signature.parameters.get("data")) is not None:
                notes.bodies.append(data.annotation)
    return notes


# --- completing the document ---------------------------------------------------------------------------------


def _problem_response(status: int) -> dict[str, Any]:
    codes = ", ".join(f"`{p.code}`" for p in PROBLEM_TYPES.values() if p.status == status)
    response: dict[str, Any] = {
        "description": f"{STATUS_TEXT[status]}. Problem codes: {codes}.",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def _success(op: dict[str, Any], note: RouteNote) -> None:
    for status, response in op.get("responses", {}).items():
        if not status.startswith("2") or "content" not in response:
            continue
        content = response["content"]
        json_doc = content.get("application/json")
        if json_doc is not None:
            alternatives = json_doc.get("schema", {}).get("oneOf")
            if alternatives and {} in alternatives:  # `X | Response[bytes]`: the JSON answer is X
                rest = [a for a in alternatives if a != {}]
                json_doc["schema"] = rest[0] if len(rest) == 1 else {"oneOf": rest}
            if json_doc.get("schema") == {"type": "string"} and note.media_types:
                del content["application/json"]  # raw bytes in the types the handler names
        content.update(note.media_types)


def _complete_operation(op: dict[str, Any], note: RouteNote) -> None:
    op["security"] = [{BEARER: []}] if note.authenticated else []
    responses = op.setdefault("responses", {})
    for status in [s for s in responses if s[0] in "45" and int(s) not in note.statuses | note.declared]:
        del responses[status]  # Litestar's guess of a 400 for a route that cannot answer one
    for status in sorted(note.statuses - note.declared):
        responses[str(status)] = _problem_response(status)
    _success(op, note)
    for parameter in op.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") == "path" and schema.get("type") == "integer":
            schema.setdefault("minimum", 1)  # integer path parameters are ids
        for keyword, value in note.parameters.get((parameter.get("in"), parameter["name"].lower()), {}).items():
            kinds = [kind for kind, keywords in CONSTRAINTS.items() if keyword in keywords]
            for option in [schema, *schema.get("oneOf", [])]:
                if option.get("type") in kinds:
                    option[keyword] = value


# Keywords that constrain one kind of value, by the kind.
CONSTRAINTS = {
    "integer": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "string": ("minLength", "maxLength", "pattern"),
    "array": ("minItems", "maxItems", "uniqueItems", "items"),
}


def _sink(node: dict[str, Any]) -> None:
    """Litestar writes an optional parameter's constraints beside its `oneOf` ({integer, null}); valid, but
    generators read the branches. Move them into the branches they constrain."""
    for key in ("oneOf", "anyOf"):
        branches = [b for b in node.get(key, []) if isinstance(b, dict)]
        for kind, keywords in CONSTRAINTS.items():
            for keyword in [k for k in keywords if k in node]:
                targets = [b for b in branches if b.get("type") == kind]
                if targets:
                    for branch in targets:
                        branch.setdefault(keyword, node[keyword])
                    del node[keyword]


def _bound(node: Any) -> None:
    """Integers within bigint and text without NUL, wherever the document has a schema."""
    if isinstance(node, list):
        for item in node:
            _bound(item)
        return
    if not isinstance(node, dict):
        return
    _sink(node)
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds:
        if "minimum" not in node and "exclusiveMinimum" not in node:
            node["minimum"] = MIN_BIGINT
        if "maximum" not in node and "exclusiveMaximum" not in node:
            node["maximum"] = MAX_BIGINT
    if "string" in kinds and not any(k in node for k in ("pattern", "format", "enum", "const", "contentMediaType")):
        node["pattern"] = NO_NUL
    for key, value in node.items():
        if key not in ("examples", "example", "default", "enum", "const"):
            _bound(value)


def complete(doc: dict[str, Any], notes: Notes) -> dict[str, Any]:
    doc.pop("security", None)  # per operation instead
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    patches = set()
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item and (note := notes.routes.get((path, method))) is not None:
                _complete_operation(item[method], note)
        body = item.get("patch", {}).get("requestBody", {}).get("content", {}).get("application/json", {})
        patches.add(body.get("schema", {}).get("$ref", "").removeprefix("#/components/schemas/"))
    # Request bodies as msgspec validates them: Litestar's schemas leave out the constraints of list items
    # (`list[Id]`) and that a Struct refuses unknown fields.
    bodies = []
    for body in notes.bodies:
        with contextlib.suppress(TypeError):  # not a msgspec type (a multipart upload)
            msgspec.json.schema(body)
            bodies.append(body)
    schemas.update(msgspec.json.schema_components(bodies, ref_template="#/components/schemas/{name}")[1])
    for name, component in schemas.items():
        if name in patches:
            component["minProperties"] = 1  # a PATCH that changes nothing is refused (400 "nothing to change")
    _bound(doc.get("paths"))
    _bound(doc["components"]["schemas"])
    return doc


@dataclass
class Document(OpenAPI):
    """The OpenAPI object whose serialised form is completed from the app's routes."""

    notes: Callable[[], Notes] | None = field(default=None, repr=False)

    @property
    def _exclude_fields(self) -> set[str]:
        return {"notes"}

    def to_schema(self) -> dict[str, Any]:
        doc = super().to_schema()
        return complete(doc, self.notes()) if self.notes else doc


@dataclass
class ContractOpenAPIConfig(OpenAPIConfig):
    """OpenAPIConfig whose document is completed by `complete` (call `attach(app)` once the app exists)."""

    notes: Callable[[], Notes] | None = field(default=None, repr=False)

    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        return Document(**{f.name: getattr(base, f.name) for f in fields(base)}, notes=self.notes)


def attach(app: Litestar) -> None:
    """Let the app's OpenAPI document be completed from its routes (worked out once, when first served)."""
    config = app.openapi_config
    if isinstance(config, ContractOpenAPIConfig):
        config.notes = functools.cache(lambda: describe(app))

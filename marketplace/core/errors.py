"""Domain errors and their RFC 9457 problem-details responses.

Services raise the specific classes below; `exception_handlers` turns them, Litestar's own HTTP errors,
and database errors that slipped past validation into `application/problem+json`. Nothing becomes a 500
unless it is a real bug, and that is logged; no driver's text ever reaches a client.

Every problem carries a stable `code` clients branch on, and a `type` URI naming it (`/problems/<code>`,
served by this app as the problem's documentation). `PROBLEM_TYPES` lists them all; docs/errors.md too.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Request, Response, get
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import PathParameter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"


@dataclass(frozen=True)
class ProblemType:
    code: str
    status: int
    title: str
    description: str  # when it happens, and what a client can do about it


# Every code a problem response may carry. A code never changes meaning once published; add new ones here,
# in docs/errors.md (a test keeps the two in step) and, when a client must tell it apart, at the raise site.
PROBLEM_TYPES = {
    p.code: p
    for p in (
        ProblemType(
            "validation-failed",
            400,
            "Invalid request",
            'The request does not match the documented schema: a wrong type (`"2"` is not an integer), a '
            "missing or unknown field, a value out of range, an integer beyond 64 bits, or text containing the "
            "NUL character. `errors` lists each offending field (`key`, `message`, `source`). Fix the request.",
        ),
        ProblemType(
            "invalid-json",
            400,
            "Invalid request",
            "The body is not JSON: malformed, not UTF-8, or nested too deeply.",
        ),
        ProblemType(
            "invalid-value",
            400,
            "Invalid request",
            "A value passed validation but the database cannot store it. The detail is generic on purpose.",
        ),
        ProblemType(
            "bad-request",
            400,
            "Bad Request",
            "The request is malformed in a way the schema cannot express (a PATCH that changes nothing).",
        ),
        ProblemType(
            "unauthorized",
            401,
            "Unauthorized",
            "No access token, or one that is invalid, expired or revoked (logout); or wrong credentials at "
            "login (`totp_required: true` when a two-factor code is needed). Sign in again.",
        ),
        ProblemType(
            "forbidden",
            403,
            "Forbidden",
            "The caller is signed in but may not do this: a missing role, a suspended shop.",
        ),
        ProblemType(
            "not-found",
            404,
            "Not Found",
            "No such resource, or not one the caller may see (another vendor's order is not found, not "
            "forbidden). Path ids outside 1 to 2^63-1 are not found either.",
        ),
        ProblemType("method-not-allowed", 405, "Method Not Allowed", "The path exists but not with this method."),
        ProblemType(
            "conflict",
            409,
            "Conflict",
            "The request is valid but the resource's current state does not allow it (an order already "
            "shipped, a name taken). Read the resource again before retrying.",
        ),
        ProblemType(
            "out-of-stock",
            409,
            "Conflict",
            "Fewer units are available than asked for; `sku_id` and `available` say which and how many.",
        ),
        ProblemType(
            "items-unavailable",
            409,
            "Conflict",
            "Some cart items are no longer for sale (`items` names them); remove them and check out again.",
        ),
        ProblemType(
            "sold-out",
            409,
            "Conflict",
            "The flash sale has no units left (`reason: sold_out`). A retry with the first purchase's "
            "Idempotency-Key still gets its checkout back.",
        ),
        ProblemType(
            "limit-reached",
            409,
            "Conflict",
            "The buyer already holds as many units of this flash sale as one buyer may (`reason: limit_reached`).",
        ),
        ProblemType(
            "sale-not-started",
            409,
            "Conflict",
            "The flash sale has not started yet (`reason: not_started`); its page has a countdown.",
        ),
        ProblemType("sale-ended", 409, "Conflict", "The flash sale has ended (`reason: ended`)."),
        ProblemType(
            "idempotency-key-in-use",
            409,
            "Conflict",
            "A request with this Idempotency-Key is still being processed; retry the same request shortly.",
        ),
        ProblemType(
            "payload-too-large",
            413,
            "Request Entity Too Large",
            "The body is larger than the route accepts (1 MiB; image uploads 5 MiB).",
        ),
        ProblemType(
            "unsupported-media-type",
            415,
            "Unsupported Media Type",
            "The body is not sent as the route expects: JSON bodies need `Content-Type: application/json` "
            "(or a `+json` type), image uploads `multipart/form-data`.",
        ),
        ProblemType(
            "unprocessable",
            422,
            "Unprocessable Content",
            "The request matches the schema but breaks a rule the schema cannot express (a sale that ends "
            "before it starts, a weak password, a period backwards). The detail says which.",
        ),
        ProblemType(
            "idempotency-key-reused",
            422,
            "Unprocessable Content",
            "This Idempotency-Key was already used with a different request body; use a new key.",
        ),
        ProblemType(
            "rate-limited",
            429,
            "Too Many Requests",
            "Too many attempts; wait the `Retry-After` seconds (`retry_after` too) before trying again.",
        ),
        ProblemType("internal-error", 500, "Internal Server Error", "A bug on our side; it has been logged."),
        ProblemType(
            "service-unavailable",
            503,
            "Service Unavailable",
            "PostgreSQL or Redis is briefly unreachable, or a flash sale is opening; retry after `Retry-After`.",
        ),
        ProblemType("http-error", 0, "HTTP error", "Any other HTTP error; `status` says which."),
    )
}
# The code of a problem nothing more specific is known about, by status.
STATUS_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "unprocessable",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}


def code_for(status: int) -> str:
    return STATUS_CODES.get(status, "http-error")


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        if code is not None and code not in PROBLEM_TYPES:
            raise ValueError(f"unknown problem code {code!r}: add it to PROBLEM_TYPES and docs/errors.md")
        self.detail = detail
        self.code = code or code_for(self.status_code)
        self.extra = extra


class BadRequest(DomainError):
    status_code = 400


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Unprocessable(DomainError):
    status_code = 422


class RetryLater(DomainError):
    """An error the client should retry after `retry_after` seconds (sent as Retry-After too)."""

    def __init__(self, detail: str, retry_after: int, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, retry_after=retry_after)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    status_code = 429


class ServiceUnavailable(RetryLater):
    status_code = 503


RESERVED_MEMBERS = frozenset({"type", "code", "title", "status", "detail", "instance"})


def problem(
    request: Request,
    status_code: int,
    detail: str,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    code = code or code_for(status_code)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "code": code,
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "instance": request.url.path,
    }
    # Extension members may add to the document but never rewrite its standard members.
    body.update({k: v for k, v in extra.items() if k not in RESERVED_MEMBERS})
    return Response(body, status_code=status_code, media_type=PROBLEM_JSON, headers=headers)


def _domain_error(request: Request, exc: DomainError) -> Response[dict[str, Any]]:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryLater) else None
    return problem(request, exc.status_code, exc.detail, headers=headers, code=exc.code, **exc.extra)


class InvalidInput(HTTPException):
    """A request the edge refuses before any handler runs (core/edge.py): 400 listing the fields, like
    Litestar's own validation errors, or 415 for a body in the wrong media type."""

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None, status_code: int = 400) -> None:
        super().__init__(detail=detail, status_code=status_code, extra=errors or [])


def _http_error(request: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {}
    code = code_for(exc.status_code)
    if isinstance(exc, ValidationException | InvalidInput) and exc.status_code == 400:
        code = "validation-failed"
        if exc.extra:
            extra["errors"] = exc.extra
    elif isinstance(exc.extra, dict):
        extra.update(exc.extra)
    return problem(request, exc.status_code, exc.detail, headers=exc.headers, code=code, **extra)


def _data_error(request: Request, exc: asyncpg.DataError) -> Response[dict[str, Any]]:
    # A value the edge let through that PostgreSQL cannot take. The driver's message quotes the value and
    # the query's internals, so it stays in the log; the client learns only which request it was.
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc)
    return problem(request, 400, "the request contains a value that cannot be stored", code="invalid-value")


def _integrity_error(request: Request, exc: asyncpg.IntegrityConstraintViolationError) -> Response[dict[str, Any]]:
    log.warning("integrity violation not handled by a service: %s", exc)
    return problem(request, 409, "the request conflicts with existing data")


def _undecodable(request: Request, exc: UnicodeDecodeError | RecursionError) -> Response[dict[str, Any]]:
    # Litestar's JSON decoding lets these through for bodies that are not UTF-8 or nest absurdly deep.
    if any("serialization" in frame.filename for frame in traceback.extract_tb(exc.__traceback__)):
        return problem(
            request, 400, "the request body is not valid JSON (not UTF-8, or nested too deeply)", code="invalid-json"
        )
    return _unexpected(request, exc)


def _redis_down(request: Request, exc: RedisConnectionError | RedisTimeoutError) -> Response[dict[str, Any]]:
    # Redis restarting or unreachable: a moment's outage the client can ride out, not a bug.
    log.warning("redis unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem(request, 503, "temporarily unavailable; try again in a moment", headers={"Retry-After": "1"})


# What a request meets while PostgreSQL restarts or is unreachable: refused or vanished sockets, closed pool
# connections, "the database system is shutting down / starting up", administrator shutdown.
# asyncpg's InternalClientError ("cannot switch to state ...") is what a query meets when the server dies
# under it mid-protocol.
DATABASE_DOWN = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.exceptions._base.InternalClientError,
)
_database_down_logged = 0.0


def _database_down(request: Request, exc: Exception) -> Response[dict[str, Any]]:
    # An outage, not a bug: one line every ten seconds at most, no traceback per request.
    global _database_down_logged
    if time.monotonic() - _database_down_logged > 10:
        _database_down_logged = time.monotonic()
        log.warning("database unavailable on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return problem(
        request, 503, "the database is temporarily unavailable; try again in a moment", headers={"Retry-After": "2"}
    )


def _interface_error(request: Request, exc: asyncpg.InterfaceError) -> Response[dict[str, Any]]:
    # asyncpg says "connection is closed" for a pooled connection the server dropped; anything else is a bug.
    return (_database_down if "closed" in str(exc) else _unexpected)(request, exc)


def _unexpected(request: Request, exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "internal error; it has been logged")


exception_handlers = {
    DomainError: _domain_error,
    HTTPException: _http_error,
    asyncpg.DataError: _data_error,
    asyncpg.IntegrityConstraintViolationError: _integrity_error,
    RedisConnectionError: _redis_down,
    RedisTimeoutError: _redis_down,
    **dict.fromkeys(DATABASE_DOWN, _database_down),
    asyncpg.InterfaceError: _interface_error,
    UnicodeDecodeError: _undecodable,
    RecursionError: _undecodable,
    Exception: _unexpected,
}


class ProblemDoc(msgspec.Struct):
    code: str
    type: str
    status: int | None  # None: any status (http-error)
    title: str
    description: str


def _doc(p: ProblemType) -> ProblemDoc:
    return ProblemDoc(p.code, PROBLEM_BASE + p.code, p.status or None, p.title, p.description)


@get("/problems", exclude_from_auth=True, tags=["problems"], summary="Every problem type an error may carry")
async def problem_types() -> list[ProblemDoc]:
    return [_doc(p) for p in PROBLEM_TYPES.values()]


ProblemCode = Annotated[str, PathParameter(pattern=r"^[a-z][a-z-]{1,40}$", description="A problem's `code`")]


@get("/problems/{code:str}", exclude_from_auth=True, tags=["problems"], summary="What a problem type means")
async def problem_type(code: ProblemCode) -> ProblemDoc:
    if code not in PROBLEM_TYPES:
        raise NotFound("no such problem type; GET /problems lists them")
    return _doc(PROBLEM_TYPES[code])

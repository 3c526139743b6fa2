"""Domain errors and their RFC 9457 problem-details responses.

Services raise the specific classes below; `exception_handlers` turns them, Litestar's own HTTP errors,
and database errors that slipped past validation into `application/problem+json`. Nothing becomes a 500
unless it is a real bug, and that is logged.
"""

from __future__ import annotations

import logging
import time
import traceback
from http import HTTPStatus
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
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

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    status_code = 429


class ServiceUnavailable(RetryLater):
    status_code = 503


RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})


def problem(
    request: Request, status_code: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
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
    return problem(request, exc.status_code, exc.detail, headers=headers, **exc.extra)


def _http_error(request: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and exc.extra:
        extra["errors"] = exc.extra
    elif isinstance(exc.extra, dict):
        extra.update(exc.extra)
    return problem(request, exc.status_code, exc.detail, headers=exc.headers, **extra)


def _data_error(request: Request, exc: asyncpg.DataError) -> Response[dict[str, Any]]:
    # Values the schema accepted but PostgreSQL cannot store (a NUL byte in a string, say).
    return problem(request, 422, f"invalid value: {exc.args[0] if exc.args else 'rejected by database'}")


def _integrity_error(request: Request, exc: asyncpg.IntegrityConstraintViolationError) -> Response[dict[str, Any]]:
    log.warning("integrity violation not handled by a service: %s", exc)
    return problem(request, 409, "the request conflicts with existing data")


def _undecodable(request: Request, exc: UnicodeDecodeError | RecursionError) -> Response[dict[str, Any]]:
    # Litestar's JSON decoding lets these through for bodies that are not UTF-8 or nest absurdly deep.
    if any("serialization" in frame.filename for frame in traceback.extract_tb(exc.__traceback__)):
        return problem(request, 400, "the request body is not valid JSON (not UTF-8, or nested too deeply)")
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

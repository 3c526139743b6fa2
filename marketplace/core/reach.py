"""What a route handler's code can raise, read from its source: the statuses of the `DomainError`s (and
Litestar HTTP errors) it and every function of ours it refers to construct, whether it checks the bearer token
itself, and whether it reads the request body. core/openapi.py documents each route from this."""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import inspect
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar.exceptions import HTTPException

from marketplace.core import auth
from marketplace.core.errors import DomainError

OUR_PACKAGES = ("marketplace.", "analytics.", "recommender.", "realtime.")


@dataclass(frozen=True)
class Reach:
    statuses: frozenset[int]
    checks_token: bool  # calls auth.bearer_token itself (a route the middleware lets through)
    reads_body: bool


def _ours(obj: Any) -> bool:
    # `or ""`: a builtin's bound method (a msgspec decoder's `decode` held in a module) has __module__ None.
    module = getattr(obj, "__module__", None) or ""
    return module.startswith(OUR_PACKAGES) or module in ("marketplace", "analytics", "recommender", "realtime")


def _plain(obj: Any) -> Any:
    """The function behind a method, classmethod, staticmethod or decorated function."""
    obj = getattr(obj, "__func__", obj)
    return inspect.unwrap(obj) if callable(obj) else obj


def _resolve(node: ast.expr, scope: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return scope.get(node.id, getattr(builtins, node.id, None))
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, scope)
        if base is not None and not isinstance(base, type | types.ModuleType) and _ours(type(base)):
            base = type(base)  # a module-level instance of ours (a state machine's table): its class's method
        if base is None or not (isinstance(base, type | types.ModuleType)):
            return None
        return inspect.getattr_static(base, node.attr, None)
    return None


def _scope_of(fn: Any) -> dict[str, Any]:
    scope = dict(getattr(fn, "__globals__", {}))
    with contextlib.suppress(TypeError, ValueError):
        scope.update(inspect.getclosurevars(fn).nonlocals)
    owner = fn.__qualname__.split(".")[0] if "." in getattr(fn, "__qualname__", "") else None
    if owner and isinstance(scope.get(owner), type):
        scope["self"] = scope["cls"] = scope[owner]
    return scope


@functools.cache
def reach(fn: Callable[..., Any]) -> Reach:
    """Statuses of the DomainErrors (and Litestar HTTP errors) `fn` and the functions of ours it refers to
    can construct, read from their source."""
    statuses: set[int] = set()
    checks_token = reads_body = False
    seen: set[int] = set()
    todo = [_plain(fn)]
    while todo:
        current = todo.pop()
        if id(current) in seen or not inspect.isfunction(current) or not _ours(current):
            continue
        seen.add(id(current))
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(current)))
        except (OSError, TypeError, SyntaxError):
            continue
        scope = _scope_of(current)
        # An error class counts where it is constructed or raised, not where it is caught or tested for.
        raised = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        raised |= {id(n.exc) for n in ast.walk(tree) if isinstance(n, ast.Raise) and n.exc is not None}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "body":
                reads_body = True
            if not isinstance(node, ast.Name | ast.Attribute) or not isinstance(node.ctx, ast.Load):
                continue
            target = _resolve(node, scope)
            if isinstance(target, type) and issubclass(target, DomainError | HTTPException):
                if target is not HTTPException and id(node) in raised:
                    statuses.add(target.status_code)
            elif target is auth.bearer_token:
                checks_token = True
                todo.append(target)
            elif target is not None and _ours(_plain(target)):
                todo.append(_plain(target))
    return Reach(frozenset(statuses), checks_token, reads_body)

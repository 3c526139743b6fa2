"""The package boundaries, checked over the import graph (every import, including those inside functions;
only `if TYPE_CHECKING:` blocks are left out, since they never run).

- No cycle between packages: a package is `marketplace.<name>` (its routes included) or one of the other
  top-level packages. Routes that call a workflow live with it (workflows/controllers.py moves orders).
- A package's `queries` module (its SQL) and its names starting with `_` are private: only the package
  itself imports them.

A few lines over `ast` rather than import-linter: its contracts name packages one by one, while these two
rules hold for every package, present and future."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("marketplace", "realtime", "recommender", "analytics", "loadtest", "benchmarks")


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "marketplace" and len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node except what sits under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports() -> list[tuple[str, str, str]]:
    """(importing module, imported dotted name, file:line) for every import of our own packages."""
    found = []
    for top in TOP_LEVEL:
        for path in sorted((ROOT / top).rglob("*.py")):
            module = module_name(path)
            for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
                names: list[str] = []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                found += [(module, name, where) for name in names if name.split(".")[0] in TOP_LEVEL]
    return found


def package_graph() -> dict[str, dict[str, str]]:
    graph: dict[str, dict[str, str]] = defaultdict(dict)
    for module, name, where in imports():
        source, target = package_of(module), package_of(name)
        if source != target and target != "marketplace":
            graph[source].setdefault(target, where)
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_packages_import_each_other_without_cycles() -> None:
    graph = package_graph()
    problems = []
    for component in cycles(graph):
        edges = [f"{a} -> {b} ({graph[a][b]})" for a in component for b in component if b in graph.get(a, {})]
        problems.append(" | ".join(edges))
    assert not problems, "import cycles between packages:\n" + "\n".join(problems)


def test_a_packages_queries_and_private_names_stay_inside_it() -> None:
    leaks = []
    for module, name, where in imports():
        home = ".".join(name.split(".")[:2]) if name.startswith("marketplace.") else name.split(".")[0]
        inside = module == home or module.startswith(home + ".")
        parts = name.split(".")
        private = "queries" in parts[1:] or any(p.startswith("_") and not p.startswith("__") for p in parts[1:])
        if private and not inside:
            leaks.append(f"{where}: {module} imports {name}")
    assert not leaks, "private modules used from another package:\n" + "\n".join(leaks)


@pytest.mark.parametrize("rule", [cycles])
def test_the_cycle_finder_finds_a_cycle(rule) -> None:
    assert rule({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}}) == [["a", "b", "c"]]


def test_the_readmes_order_diagram_is_the_order_state_machine() -> None:
    from marketplace.orders.actions import ORDER_MOVES

    readme = (ROOT / "README.md").read_text()
    diagram = readme[readme.index("stateDiagram-v2") :].split("```")[0]
    drawn = {}
    for line in diagram.splitlines():
        if "-->" in line and "[*]" not in line:
            move, actors = line.split(":")
            current, target = (part.strip() for part in move.split("-->"))
            drawn[(current, target)] = {actor.strip() for actor in actors.split(",")}
    table = {(str(a), str(b)): {str(actor) for actor in actors} for (a, b), actors in ORDER_MOVES.transitions.items()}
    assert drawn == table


def test_only_orders_writes_an_orders_or_a_checkouts_status() -> None:
    """Every status change of an order or checkout goes through orders/actions.py (migrations aside)."""
    import re

    writes = re.compile(r"UPDATE\s+(orders|checkouts)\b[^;\"]*?\bSET\b[^;\"]*?\bstatus\s*=", re.IGNORECASE)
    found = []
    for top in TOP_LEVEL:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.is_relative_to(ROOT / "marketplace" / "orders"):
                continue
            for match in writes.finditer(path.read_text()):
                found.append(f"{path.relative_to(ROOT)}: {match[0][:60]!r}")
    assert not found, "status written outside orders/:\n" + "\n".join(found)
    assert writes.search("UPDATE orders SET status = 'paid'")  # the rule can fail

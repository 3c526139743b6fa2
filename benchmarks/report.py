"""One shape for every benchmark's headline figures, so each prints its target beside what it measured and
`python -m benchmarks` can gather them all into one table.

Every benchmark module has `main(argv: list[str] | None = None) -> list[Figure]`: it parses `argv` (None: the
command line), prints its own details, ends with `print_figures(...)` and returns the figures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    benchmark: str  # e.g. "flash sale"
    measure: str  # e.g. "admitted p99"
    value: float
    unit: str  # ms, s, req/s, ratio, ...
    target: float | None = None  # None: reported for context, no target
    higher_is_better: bool = False

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        sign = "≥" if self.higher_is_better else "=" if self.target == 0 else "<"
        return f"{sign} {_number(self.target)} {self.unit}".rstrip()


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"


def table(figures: Iterable[Figure]) -> str:
    rows = [("benchmark", "measure", "figure", "target", "")]
    for f in figures:
        verdict = {True: "met", False: "MISSED", None: ""}[f.met]
        rows.append((f.benchmark, f.measure, f"{_number(f.value)} {f.unit}".rstrip(), f.target_text, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_figures(figures: list[Figure]) -> list[Figure]:
    print("\n" + table(figures), flush=True)
    return figures

"""Every hot-path benchmark, one after another, then one table of their figures beside their targets.

    .venv/bin/python -m benchmarks [--only flash_sale,checkout] [--list]

Each runs with its own defaults (the sizes DESIGN.md's targets name); a benchmark that fails is reported and
the others still run. Run on a quiet machine: the load generator shares the box with the servers."""

from __future__ import annotations

import argparse
import importlib
import time
import traceback

from benchmarks.report import Figure, table

# module, and the arguments that give the targets' sizes
SUITE: dict[str, list[str]] = {
    "flash_sale": ["--buyers", "5000", "--units", "500"],
    "checkout": ["--seconds", "10", "--buyers", "100"],
    "catalog": [],
    "feed": [],
    "recommender": [],
    "analytics": [],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--list", action="store_true", help="name the benchmarks and stop")
    args = parser.parse_args()
    if args.list:
        print("\n".join(SUITE))
        return
    names = [n for n in args.only.split(",") if n] or list(SUITE)
    unknown = set(names) - set(SUITE)
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))} (choose from {', '.join(SUITE)})")
    figures: list[Figure] = []
    failed: list[str] = []
    for name in names:
        print(f"\n=== benchmarks.{name} {' '.join(SUITE[name])}", flush=True)
        started = time.perf_counter()
        try:
            figures += importlib.import_module(f"benchmarks.{name}").main(SUITE[name])
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
        print(f"=== {name}: {time.perf_counter() - started:.0f} s", flush=True)
    print("\n" + table(figures))
    missed = sum(f.met is False for f in figures)
    print(f"\n{len(figures)} figures, {sum(f.met is True for f in figures)} targets met, {missed} missed"
          + (f"; failed to run: {', '.join(failed)}" if failed else ""))  # fmt: skip


if __name__ == "__main__":
    main()

"""The flash-sale load test, small, end to end through the same command anyone runs: a served app, a Locust
crowd, and the invariant checks, which must all pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_flash_sale_load_test_sells_exactly_the_units_and_passes_its_checks(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "loadtest", "flash-sale", "--buyers", "300", "--units", "30", "--limit", "1"]
    command += ["--spawn-rate", "300", "--greedy", "0.2", "--out", str(tmp_path)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["passed"] and all(check["passed"] for check in summary["checks"])
    assert len(summary["checks"]) >= 15  # every invariant was checked, not skipped
    figures = summary["figures"]
    assert figures["orders"] == figures["paid"] == figures["orders_units"] == 30
    assert figures["outcomes"]["admitted"] == 30
    assert figures["outcomes"]["sold_out"] + figures["outcomes"].get("limit_reached", 0) >= 270
    assert "PASS  exactly the units offered were sold" in run.stdout and "FAIL" not in run.stdout
    names = {row["name"] for row in summary["endpoints"]}
    assert {"POST /flash-sales/{id}/purchase", "POST /checkouts/{id}/payments"} <= names
    assert (tmp_path / "report.html").exists() and (tmp_path / "locust_stats.csv").exists()


def test_the_group_buy_load_test_fills_no_group_past_its_seats_and_passes_its_checks(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "loadtest", "group-buy", "--buyers", "150", "--groups", "10", "--group-size", "8"]
    command += ["--spawn-rate", "300", "--unpaid", "0.05", "--greedy", "0.2", "--out", str(tmp_path)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["passed"] and all(check["passed"] for check in summary["checks"])
    assert len(summary["checks"]) >= 15  # every invariant was checked, not skipped
    figures = summary["figures"]
    assert figures["seats_taken"] == 80 and figures["filled"] + figures["expired"] == 10
    assert figures["outcomes"]["joined"] == 70 and figures["outcomes"]["full"] > 0  # the last seats were raced for
    assert "PASS  no group over-filled" in run.stdout and "FAIL" not in run.stdout
    names = {row["name"] for row in summary["endpoints"]}
    assert {"POST /group-buys/{id}/join", "POST /checkouts/{id}/payments"} <= names

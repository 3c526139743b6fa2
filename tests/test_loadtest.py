"""The flash-sale load test, small, end to end through the same command anyone runs: a served app, a Locust
crowd, and the invariant checks, which must all pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_flash_sale_load_test_sells_exactly_the_units_and_passes_its_checks() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "loadtest", "flash-sale", "--buyers", "300", "--units", "30", "--spawn-rate", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "FAIL" not in run.stdout
    assert "PASS  exactly the units offered were sold: 30 orders for 30 units" in run.stdout
    assert "'admitted': 30" in run.stdout

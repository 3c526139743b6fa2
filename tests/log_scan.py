"""The log of a whole test run holds no secret: every record any in-process logger writes during the run
(the app, its workers, the libraries it calls, at INFO and above) is kept, and when the session ends it is
scanned for the passwords, tokens, phone numbers, addresses and licence numbers the tests use. A hit fails
the run and prints the records that leaked. (Servers the tests start as subprocesses log to their own
stderr, which this does not see.)"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from marketplace.seed.loader import DEMO_PASSWORD

# What the tests send that must never be written to a log: their passwords, the default address and shop.
SECRETS = {
    "a test password": "correct horse battery",
    "the demo password": DEMO_PASSWORD,
    "a phone number": "+4915112345678",
    "an address line": "1 Market Street",
    "a licence number": "LIC-12345",
}
PATTERNS = {
    "an access token": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"),
    "a bearer header": re.compile(r"Bearer\s+[A-Za-z0-9._-]{16,}"),
    "a password field": re.compile(r"""["']?password["']?\s*[:=]\s*["'][^"']+["']""", re.IGNORECASE),
}


class Keeper(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.name}: {record.getMessage()}"
        except Exception:  # a record whose arguments do not format: keep what it has
            text = f"{record.name}: {record.msg!r} {record.args!r}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


KEEPER = Keeper()


def leaks(lines: list[str]) -> list[tuple[str, str]]:
    found = []
    for line in lines:
        for what, secret in SECRETS.items():
            if secret in line:
                found.append((what, line))
        for what, pattern in PATTERNS.items():
            if pattern.search(line):
                found.append((what, line))
    return found


# With pytest-xdist, each worker scans its own log and leaves what it found in this folder (the controller
# makes it before the workers start, and they inherit it through the environment); the controller reports
# them all when the run ends.
SCAN_DIR = "MARKETPLACE_LOG_SCAN_DIR"


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(KEEPER)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    if not hasattr(config, "workerinput"):
        os.environ[SCAN_DIR] = tempfile.mkdtemp(prefix="log-scan-")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = leaks(KEEPER.lines)
    scanned = len(KEEPER.lines)
    folder = Path(os.environ[SCAN_DIR])
    if hasattr(session.config, "workerinput"):
        name = session.config.workerinput["workerid"]
        (folder / f"{name}.json").write_text(json.dumps({"scanned": scanned, "found": found}))
        return
    for report in folder.glob("*.json"):
        worker = json.loads(report.read_text())
        scanned += worker["scanned"]
        found += [tuple(item) for item in worker["found"]]
    shutil.rmtree(folder, ignore_errors=True)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"log scan: {scanned:,} log records, {len(found)} with a secret")
    if found:
        for what, line in found[:20]:
            print(f"LOG LEAK ({what}): {line[:300]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

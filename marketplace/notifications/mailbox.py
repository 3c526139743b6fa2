"""A local SMTP server that keeps what it receives as files: `marketplace serve` starts one when no SMTP_HOST is
set, so the demo's mail can be read in `<data dir>/mail/*.eml` (any mail program opens them), and the tests
read what the notifier really sent."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Keep:
    """aiosmtpd handler: each message to its own file, written whole then renamed, so readers never see half."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # the name aiosmtpd calls
        self.count += 1
        name = f"{time.time_ns()}-{os.getpid()}-{self.count}"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.directory / f"{name}.eml")
        return "250 Message accepted for delivery"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mailbox_server(directory: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, int]]:
    """Run the server (in a thread of its own) while the block runs; yields (host, port)."""
    directory.mkdir(parents=True, exist_ok=True)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO
    controller = Controller(_Keep(directory), hostname=host, port=port or free_port(host))
    controller.start()
    try:
        yield host, controller.port
    finally:
        controller.stop()


def read_mailbox(directory: Path) -> list[EmailMessage]:
    """Every message received so far, oldest first."""
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in sorted(directory.glob("*.eml"))]  # type: ignore[misc]

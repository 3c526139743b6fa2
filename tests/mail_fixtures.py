"""A real SMTP server for the tests that read mail (aiosmtpd, as `marketplace serve` embeds it), and settings
that send to it. A test module imports `mailbox` and `settings` from here: its `settings` then wraps the
shared one, so the app, the client and every actor of that module mail through this server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import msgspec
import pytest

from marketplace.notifications.mailbox import mailbox_server, read_mailbox
from marketplace.settings import Settings


@dataclass
class Mailbox:
    directory: Path
    host: str
    port: int

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        return [m for m in read_mailbox(self.directory) if to is None or m["To"] == to]

    async def wait_for(self, to: str, subject: str, wait: float = 10.0) -> EmailMessage:
        """The first message to `to` whose subject contains `subject`, once it has arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            for message in self.messages(to):
                if subject in message["Subject"]:
                    return message
            if loop.time() > deadline:
                seen = [(m["To"], m["Subject"]) for m in self.messages()]
                raise AssertionError(f"no mail to {to} about {subject!r}; received {seen}")
            await asyncio.sleep(0.05)


def text_of(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    with mailbox_server(tmp_path / "mail") as (host, port):
        yield Mailbox(tmp_path / "mail", host, port)


@pytest.fixture
def settings(settings: Settings, mailbox: Mailbox) -> Settings:
    return msgspec.structs.replace(
        settings,
        smtp_host=mailbox.host,
        smtp_port=mailbox.port,
        smtp_starttls=False,
        notifier_poll_seconds=0.05,
        mail_retry_seconds=0.2,
    )

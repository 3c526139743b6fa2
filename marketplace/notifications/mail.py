"""Mail: the messages (Jinja2 templates, HTML and text), one-click unsubscribe tokens, and the SMTP client."""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from marketplace.notifications import ACCOUNT_KINDS, Kind
from marketplace.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _mac(secret: str, user_id: int, kind: str) -> str:
    digest = hmac.new(secret.encode(), f"unsubscribe|{user_id}|{kind}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def unsubscribe_token(secret: str, user_id: int, kind: str) -> str:
    """A link's token that turns one kind of mail off for one user, without signing in. It does not expire:
    an unsubscribe link must keep working in an old mail."""
    return f"{user_id}.{kind}.{_mac(secret, user_id, kind)}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, Kind] | None:
    """(user id, kind) of a genuine token, else None."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 18:
        return None
    user_id, kind, mac = int(parts[0]), parts[1], parts[2]
    if kind not in Kind.__members__.values() or kind in ACCOUNT_KINDS:
        return None
    if not hmac.compare_digest(mac, _mac(secret, user_id, kind)):
        return None
    return user_id, Kind(kind)


def build_message(
    settings: Settings, user_id: int, kind: str, title: str, data: dict[str, Any], to: str
) -> EmailMessage:
    """The mail of one notification: text and HTML parts, and for optional kinds the List-Unsubscribe headers
    that let mail clients offer a one-click unsubscribe (RFC 8058)."""
    base = settings.public_url.rstrip("/")
    unsubscribe = None
    if kind not in ACCOUNT_KINDS:
        unsubscribe = f"{base}/notifications/unsubscribe?token={unsubscribe_token(settings.secret_key, user_id, kind)}"
    context = {"title": title, "d": data, "base_url": base, "unsubscribe_url": unsubscribe}
    message = EmailMessage()
    message["Subject"] = title
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Message-ID"] = make_msgid(domain="marketplace.local")
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(_env.get_template(f"{kind}.txt").render(context))
    message.add_alternative(_env.get_template(f"{kind}.html").render(context), subtype="html")
    return message


async def send(settings: Settings, message: EmailMessage) -> None:
    """Hand one message to the SMTP server; any failure raises (the notifier retries later)."""
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        start_tls=None if settings.smtp_starttls else False,  # None: upgrade when the server offers it
        use_tls=settings.smtp_ssl,
        timeout=settings.smtp_timeout_seconds,
    )

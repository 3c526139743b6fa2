"""Typed settings read from the environment (prefix-free names, as a twelve-factor app expects)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import Literal

import msgspec


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # Empty URLs mean "start the embedded server under data_dir".
    database_url: str = ""
    redis_url: str = ""
    data_dir: Path = Path(".data")
    secret_key: str = ""
    # Field encryption keys (`id:base64key,...`, the first seals new values) and the key of the hashes that find
    # sealed values (a phone at login); empty: a key file in data_dir and a hash key derived from secret_key.
    field_keys: str = ""
    field_index_key: str = ""
    host: str = "127.0.0.1"
    port: int = msgspec.field(default=8000)
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    # Requests allowed per window from one IP to login, registration and the two-factor routes (and from one
    # account to the two-factor routes, which need its token).
    auth_rate_limit: int = 10
    auth_rate_window_seconds: int = 60
    # Failed logins (wrong password or two-factor code) on one account from one IP: the first ones are answered
    # at once, then each further attempt from there waits a delay that doubles with every failure, up to the
    # longest. Other IPs are not slowed, so nobody can lock an account's owner out.
    login_free_failures: int = 5
    login_delay_seconds: float = 1.0
    login_max_delay_seconds: float = 900.0
    max_body_bytes: int = 1_048_576
    # argon2id cost of new password hashes (RFC 9106 low-memory defaults).
    password_hash_memory_kib: int = 65_536
    password_hash_time_cost: int = 3
    # Buyers' search pages and product pages are cached in Redis this long (0 turns caching off);
    # listing changes invalidate them at once, stock figures may lag by this much. Product pages are one
    # indexed query, as fast as a Redis round trip (benchmarks/catalog.py), so they are not cached by default.
    search_cache_seconds: int = 30
    product_cache_seconds: int = 0
    # An unpaid checkout releases its stock after this long; the sweeper looks every few seconds.
    checkout_payment_minutes: int = 15
    sweeper_interval_seconds: float = 5.0
    # Delivered orders the buyer does not confirm complete by themselves after this many days.
    auto_complete_days: int = 14
    # Buyers may open a return, exchange or refund request this long after delivery.
    aftersales_window_days: int = 14
    # Disputes (marketplace/disputes/): the shop answers within this many hours, or the dispute escalates to
    # support; without an estimated arrival, a parcel may be reported not received this many days after shipping.
    dispute_answer_hours: int = 48
    dispute_transit_days: int = 10
    # Cash on delivery is offered up to this checkout total (minor units); couriers carry limited cash.
    cash_on_delivery_limit: int = 50_000
    # The sandbox card gateway stands in for a real one: its payment page marks a payment paid without money or
    # login. It is mounted (its page and its webhook) only when this is on: `serve --demo` and the tests turn it
    # on; never in production, where card payments (method "sandbox") are then refused.
    sandbox_gateway: bool = False
    # Where this marketplace is reachable; the sandbox gateway sends its callbacks here.
    public_url: str = "http://127.0.0.1:8000"
    # Shared with the payment gateway to sign callbacks; derived from the secret key when unset.
    sandbox_webhook_secret: str = ""
    # Shared with the sandbox carrier to sign its tracking events (mounted with SANDBOX_GATEWAY, like the sandbox
    # gateway); derived from the secret key when unset.
    sandbox_carrier_secret: str = ""
    # Shops ship paid orders within this many hours: later counts against their on-time rate and is flagged to
    # them (and listed for support); the flags are looked for this often.
    ship_within_hours: int = 48
    late_shipment_check_seconds: float = 300.0
    # Live feed: a socket with more than this many events waiting is closed with the resume code; idle
    # sockets get a heartbeat this often.
    feed_max_pending: int = 1000
    feed_heartbeat_seconds: float = 15.0
    # Published events older than this are deleted (hourly, by the leading relay); resuming works within it.
    feed_retention_days: int = 30
    # Flash sales: an admitted buyer's checkout is held this long for payment; purchase attempts allowed per
    # second from one IP and from one buyer (0 turns a limit off); how often gates are checked against PostgreSQL,
    # and how long a sale must have admitted nobody before a gate that disagrees with it is rebuilt (longer than
    # any purchase takes, so no admission is still on its way to PostgreSQL).
    flash_sale_hold_minutes: int = 5
    flash_sale_rate_per_ip: int = 20
    flash_sale_rate_per_buyer: int = 2
    flash_gate_check_seconds: float = 1.0
    flash_gate_quiet_seconds: float = 30.0
    # The recommender worker retrains this often and re-ranks browsing buyers this often.
    recommender_retrain_minutes: float = 60.0
    recommender_poll_seconds: float = 0.25
    # BLAS threads of the recommender worker's training and ranking (it shares the box with the web workers).
    recommender_threads: int = 1
    # The analytics worker recomputes customer segments this often (and whenever a marketer asks).
    segments_every_hours: float = 24.0
    # Browsing interactions feed recommendations; off only to measure what recording costs.
    record_interactions: bool = True
    # Raw interactions older than this many days are deleted (their daily counts kept); 0 keeps them all.
    # Recommendations weigh interactions by age (a 60-day half-life), so a year keeps everything that counts.
    interaction_retention_days: int = 365
    # Who may read GET /metrics: an admin, a caller sending `Authorization: Bearer <metrics_token>` (for a
    # Prometheus server), or anyone when metrics_public is set (only behind a network that keeps it private).
    metrics_token: str = ""
    metrics_public: bool = False
    # Outgoing mail (marketplace/notifications/). With no SMTP_HOST, `marketplace serve` starts an embedded SMTP
    # server that writes every message to <data dir>/mail/*.eml; the app alone with no host sends nothing.
    # smtp_starttls: upgrade when the server offers it; smtp_ssl: TLS from the first byte (port 465).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "Marketplace <no-reply@marketplace.local>"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = 10.0
    # A mail the SMTP server refuses is tried again after retry seconds, doubling up to an hour, this many times.
    mail_max_attempts: int = 8
    mail_retry_seconds: float = 30.0
    notifier_poll_seconds: float = 1.0
    # Mailed account links: a password reset is good this long, once; a verification link this long.
    password_reset_minutes: int = 30
    verify_email_hours: int = 48
    # Password reset requests for one address per window (per IP: auth_rate_limit per auth_rate_window_seconds).
    password_reset_per_email: int = 3
    password_reset_window_seconds: int = 3600
    # An email change's mailed link is good this long, once.
    email_change_hours: int = 24
    # Pre-sale questions one buyer may ask per window, across shops.
    question_rate_limit: int = 20
    question_rate_window_seconds: int = 3600
    # Risk control (docs/risk.md). LISTING_REVIEW: off (products list at once), new_or_flagged (new products of
    # shops younger than listing_review_new_shop_days, or named by a live risk alert, wait for support's
    # approval), all. The rules and the shops' trust scores run every risk_scan_minutes (0: never; `marketplace
    # risk scan` runs them at once) over the orders of the last risk_window_days; trust over trust_window_days
    # (a shipment is late after ship_within_hours, as logistics counts it).
    listing_review: Literal["off", "new_or_flagged", "all"] = "off"
    listing_review_new_shop_days: int = 30
    risk_scan_minutes: float = 15.0
    risk_window_days: int = 30
    trust_window_days: int = 180
    db_pool_min: int = 2
    db_pool_max: int = 20
    debug: bool = False

    @property
    def webhook_secret(self) -> str:
        if self.sandbox_webhook_secret:
            return self.sandbox_webhook_secret
        return hashlib.sha256(b"sandbox-webhook:" + self.secret_key.encode()).hexdigest()

    @property
    def carrier_webhook_secret(self) -> str:
        if self.sandbox_carrier_secret:
            return self.sandbox_carrier_secret
        return hashlib.sha256(b"sandbox-carrier:" + self.secret_key.encode()).hexdigest()


_ENV_NAMES = {name: name.upper() for name in Settings.__struct_fields__}


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, then explicit overrides (used by the CLI and the tests)."""
    raw: dict[str, object] = {
        field: os.environ[env] for field, env in _ENV_NAMES.items() if os.environ.get(env) not in (None, "")
    }
    raw.update({k: v for k, v in overrides.items() if v is not None})
    # strict=False lets "30" become 30 and "true" become True, as environment strings must.
    settings = msgspec.convert(raw, Settings, strict=False, dec_hook=_decode_path)
    if not settings.secret_key:
        # Resolved once here, not on every use: tokens are signed and checked on hot paths.
        settings = msgspec.structs.replace(settings, secret_key=_dev_secret(settings.data_dir))
    return settings


def _decode_path(type_: type, value: object) -> object:
    if type_ is Path and isinstance(value, str | Path):
        return Path(value)
    raise NotImplementedError


def _dev_secret(data_dir: Path) -> str:
    """Without SECRET_KEY, keep one random key per data dir so tokens survive restarts and
    every worker of one server signs with the same key."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}")
        tmp.write_text(secrets.token_urlsafe(48))
        # link() fails if another process created the key first; both then read the same one.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    return path.read_text().strip()

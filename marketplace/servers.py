"""The servers a command works on: the `marketplace`, `recommender` and `analytics` commands all start here.

`servers_for` yields settings whose URLs point at running servers: the configured ones, embedded ones it starts
for missing URLs, or (with `attach`) those of a `serve` already running on the data dir (marketplace/embedded.py).
It sits below the CLI and the app, so the other packages' commands need neither."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import click

from marketplace.core.db import migrate
from marketplace.embedded import DataDirInUse, embedded_servers
from marketplace.privacy.rotation import seal_plaintext
from marketplace.settings import Settings, load_settings

log = logging.getLogger("marketplace")
FIELD_ENCRYPTION = "0028_field_encryption"

# The commands that use the servers of a `serve` already running on their data dir (`servers_for(attach=True)`);
# seed, serve, backup and restore refuse to share it.
ATTACHING = "migrate, create-admin, watch, recommender train/evaluate/worker and analytics segments/worker"


@contextmanager
def servers_for(
    settings: Settings, need_redis: bool = True, migrated: bool = True, attach: bool = False, keep: bool = False
) -> Iterator[Settings]:
    """Settings whose URLs point at running servers (embedded ones started for missing URLs),
    with the schema migrated (unless `migrated` is false: restore replaces the schema, however broken).
    With `attach`, a command that can run beside `serve` uses the servers of a process already running on
    the data dir instead of refusing (marketplace/embedded.py). With `keep`, embedded servers that die are
    started again and stopped if this process is killed (marketplace/keeper.py). A data dir in use is a
    command-line error (click.ClickException): every caller is a command."""
    with ExitStack() as stack:
        try:
            database_url, redis_url = stack.enter_context(
                embedded_servers(
                    settings.data_dir,
                    settings.database_url,
                    settings.redis_url,
                    need_redis=need_redis,
                    attach=attach,
                    keep=keep,
                )
            )
        except DataDirInUse as exc:
            hint = "" if attach else f" ({ATTACHING} run beside it)"
            raise click.ClickException(f"{exc}{hint}") from None
        applied = asyncio.run(migrate(database_url)) if migrated else []
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        if FIELD_ENCRYPTION in applied:  # what was written in clear before it, sealed once
            sealed = asyncio.run(seal_plaintext(database_url))
            log.info("sealed the personal data of %s rows written before field encryption", sealed)
        yield load_settings(
            database_url=database_url,
            redis_url=redis_url,
            data_dir=str(settings.data_dir),
            secret_key=settings.secret_key,
        )

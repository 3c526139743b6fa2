"""Sealed backups: a dump encrypted and authenticated as it is written, so a copied backup file reveals
nothing and a damaged, truncated or altered one is refused before anything is restored.

The key is either derived from a passphrase (scrypt, a fresh salt per file) or a random key wrapped for a
recipient's RSA public key (OAEP, SHA-256), so the machine that makes backups never holds what opens them.
The body is AES-256-GCM in chunks of at most CHUNK bytes, each with its index and a last-chunk flag in its
nonce and the header as associated data: chunks cannot be reordered, dropped or cut off at the end without
the decryption failing. (The `cryptography` package provides the primitives; only this framing is ours.)

    MAGIC | header length (4 bytes) | header (JSON) | { chunk length (4 bytes) | chunk }...
"""

from __future__ import annotations

import base64
import json
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"MKTSEAL1"
CHUNK = 1 << 20
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_LENGTH = struct.Struct(">I")


class SealError(Exception):
    """A sealed file that cannot be opened: wrong passphrase or key, or a damaged file."""


@dataclass(frozen=True)
class Sealer:
    """How a new backup is sealed: by passphrase or for a recipient's public key."""

    passphrase: str | None = None
    recipient: Path | None = None

    def key_and_header(self) -> tuple[bytes, bytes]:
        if self.recipient is not None:
            public = serialization.load_pem_public_key(self.recipient.read_bytes())
            if not isinstance(public, rsa.RSAPublicKey) or public.key_size < 2048:
                raise SealError(f"{self.recipient} is not an RSA public key of at least 2048 bits")
            key = AESGCM.generate_key(256)
            wrapped = public.encrypt(key, _OAEP)
            return key, json.dumps({"wrap": "rsa-oaep-sha256", "key": _b64(wrapped)}).encode()
        if not self.passphrase:
            raise SealError("an empty passphrase seals nothing")
        salt = os.urandom(16)
        header = json.dumps({"kdf": "scrypt", "salt": _b64(salt), **SCRYPT}).encode()
        return _derive(self.passphrase, salt, SCRYPT), header


@dataclass(frozen=True)
class Opener:
    """What opens a sealed backup: its passphrase, or the recipient's private key (PEM, unencrypted or
    protected by `passphrase`)."""

    passphrase: str | None = None
    identity: Path | None = None

    def key(self, header: dict) -> bytes:
        if "wrap" in header:
            if self.identity is None:
                raise SealError("this backup was sealed for a public key: give the private key (--identity)")
            secret = self.passphrase.encode() if self.passphrase else None
            try:
                private = serialization.load_pem_private_key(self.identity.read_bytes(), password=secret)
                return private.decrypt(base64.b64decode(header["key"]), _OAEP)  # type: ignore[union-attr]
            except (ValueError, TypeError) as error:
                raise SealError(f"{self.identity} does not open this backup ({error})") from None
        if header.get("kdf") != "scrypt":
            raise SealError("this sealed backup uses a scheme this version does not know")
        if not self.passphrase:
            raise SealError("this backup is sealed with a passphrase: set BACKUP_PASSPHRASE or type it when asked")
        params = {name: int(header[name]) for name in SCRYPT}
        return _derive(self.passphrase, base64.b64decode(header["salt"]), params)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _derive(passphrase: str, salt: bytes, params: dict[str, int]) -> bytes:
    return Scrypt(salt=salt, length=32, **params).derive(passphrase.encode())


def _nonce(index: int, last: bool) -> bytes:
    return struct.pack(">QI", index, int(last))


def is_sealed(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(MAGIC)) == MAGIC


async def seal_stream(chunks: AsyncIterator[bytes], out: Path, sealed_by: tuple[bytes, bytes]) -> None:
    """Write what `chunks` yields to `out`, sealed with a `Sealer.key_and_header()`; the plain bytes never
    touch the disk."""
    key, header = sealed_by
    aead, aad = AESGCM(key), MAGIC + header
    with out.open("wb") as f:
        os.chmod(out, 0o600)
        f.write(MAGIC + _LENGTH.pack(len(header)) + header)
        index, pending = 0, b""
        async for chunk in chunks:
            pending += chunk
            while len(pending) > CHUNK:  # keep at least one byte back: the last chunk is written below
                sealed = aead.encrypt(_nonce(index, False), pending[:CHUNK], aad)
                f.write(_LENGTH.pack(len(sealed)) + sealed)
                index, pending = index + 1, pending[CHUNK:]
        sealed = aead.encrypt(_nonce(index, True), pending, aad)
        f.write(_LENGTH.pack(len(sealed)) + sealed)


def open_sealed(sealed: Path, out: Path, opener: Opener) -> None:
    """Decrypt `sealed` into `out` (readable by its owner only); a SealError, and no `out`, if the key is
    wrong or the file was altered, truncated or extended."""
    try:
        with sealed.open("rb") as f, out.open("wb") as plain:
            os.chmod(out, 0o600)
            if f.read(len(MAGIC)) != MAGIC:
                raise SealError(f"{sealed} is not a sealed backup")
            header = f.read(_read_length(f))
            try:
                aead = AESGCM(opener.key(json.loads(header)))
            except (ValueError, KeyError, TypeError) as error:
                raise SealError(f"{sealed} has a damaged header ({error})") from None
            index, aad = 0, MAGIC + header
            while True:
                chunk = f.read(_read_length(f))
                last = not f.peek(1)
                try:
                    plain.write(aead.decrypt(_nonce(index, last), chunk, aad))
                except InvalidTag:
                    raise SealError(
                        f"{sealed} does not open: the passphrase or key is wrong, or the file was altered"
                    ) from None
                if last:
                    return
                index += 1
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _read_length(f: BinaryIO) -> int:
    raw = f.read(_LENGTH.size)
    if len(raw) != _LENGTH.size:
        raise SealError("the sealed backup ends early: it was cut off")
    return _LENGTH.unpack(raw)[0]

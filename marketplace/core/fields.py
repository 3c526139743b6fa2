"""Field-level encryption of personal data and secrets at rest: two-factor secrets, phone numbers, the personal
lines of addresses (and of the order snapshots that copy them), vendors' licence numbers, phones and payout accounts.

A sealed value is `fe1.<key id>.<base64url(nonce | AES-256-GCM ciphertext)>`, with the field's purpose (such as
"users.phone") as associated data, so a ciphertext moved into another field does not open. Values are not bound to
their row: an address is copied as it is into the checkout that ships to it, without decrypting it on the hot path.
An empty value stays empty (it hides nothing).

Keys come from FIELD_KEYS (`id:base64key,id:base64key`, the first one seals new values, the others still open old
ones); without it, from `<data dir>/field_keys`, created on first use like the signing secret and extended by
`marketplace rotate-keys --new-key`. Every process re-reads that file when it changes, so a new key is used at once;
with FIELD_KEYS, deploy the new key second in the list first, then first (see docs/privacy.md).

Fields that must be found by value (a phone at login) also store a keyed hash (HMAC-SHA256 with FIELD_INDEX_KEY, by
default derived from SECRET_KEY): rotation of the encryption keys leaves it unchanged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from marketplace.settings import Settings, load_settings

PREFIX = "fe1."
KEY_FILE = "field_keys"


class FieldKeyError(RuntimeError):
    """A sealed value that cannot be opened: its key is unknown here, or the value was altered."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, AESGCM]
    active: str
    index_key: bytes

    def seal(self, value: str, purpose: str) -> str:
        if not value:
            return value
        nonce = os.urandom(12)
        body = self.keys[self.active].encrypt(nonce, value.encode(), purpose.encode())
        return f"{PREFIX}{self.active}.{base64.urlsafe_b64encode(nonce + body).decode()}"

    def open(self, value: str, purpose: str) -> str:
        if not value.startswith(PREFIX):
            return value  # written before encryption; `serve` seals these at start (rotation.seal_plaintext)
        key_id, _, body = value[len(PREFIX) :].partition(".")
        key = self.keys.get(key_id)
        if key is None:
            raise FieldKeyError(f"no field key {key_id!r} here (FIELD_KEYS or {KEY_FILE} lacks it)")
        raw = base64.urlsafe_b64decode(body)
        try:
            return key.decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except InvalidTag:
            raise FieldKeyError(f"a sealed {purpose} was altered or belongs to another field") from None

    def seal_bytes(self, data: bytes, purpose: str) -> bytes:
        """Bytes sealed the same way, kept binary: `fe1.<key id>.` then the nonce and the ciphertext."""
        nonce = os.urandom(12)
        return (
            f"{PREFIX}{self.active}.".encode() + nonce + self.keys[self.active].encrypt(nonce, data, purpose.encode())
        )

    def open_bytes(self, data: bytes, purpose: str) -> bytes:
        if not data.startswith(PREFIX.encode()):
            return data  # stored before encryption
        key_id, _, raw = data[len(PREFIX) :].partition(b".")
        key = self.keys.get(key_id.decode())
        if key is None:
            raise FieldKeyError(f"no field key {key_id.decode()!r} here (FIELD_KEYS or {KEY_FILE} lacks it)")
        try:
            return key.decrypt(raw[:12], raw[12:], purpose.encode())
        except InvalidTag:
            raise FieldKeyError(f"a sealed {purpose} was altered or belongs to another field") from None

    def is_current(self, value: str) -> bool:
        return not value or value.startswith(f"{PREFIX}{self.active}.")


def _parse(text: str, source: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in text.replace("\n", ",").split(","):
        if not item.strip():
            continue
        key_id, sep, encoded = item.strip().partition(":")
        try:
            key = base64.urlsafe_b64decode(encoded)
        except ValueError:
            key = b""
        if not sep or not key_id.isalnum() or len(key) != 32:
            raise FieldKeyError(f"{source}: each key is `id:base64url(32 bytes)` with an alphanumeric id")
        keys.setdefault(key_id, key)
    if not keys:
        raise FieldKeyError(f"{source} holds no key")
    return keys


def new_key_line() -> tuple[str, str]:
    """A fresh key and its id (a short random id, so two operators' keys never clash)."""
    key_id = "k" + secrets.token_hex(4)
    return key_id, f"{key_id}:{base64.urlsafe_b64encode(AESGCM.generate_key(256)).decode()}"


def key_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / KEY_FILE


def _dev_keys(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}")
        tmp.write_text(new_key_line()[1] + "\n")
        tmp.chmod(0o600)
        with contextlib.suppress(FileExistsError):  # another process made it first: both read that one
            os.link(tmp, path)
        tmp.unlink()
    return path.read_text()


class FieldCipher:
    """The process's keyring, from the settings; re-read when the data dir's key file changes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._ring = self._load()

    def _load(self) -> Keyring:
        s = self.settings
        if s.field_keys:
            raw, source = s.field_keys, "FIELD_KEYS"
        else:
            path = key_file(s)
            raw, source = _dev_keys(path), str(path)
            self._stamp = path.stat().st_mtime
        keys = _parse(raw, source)
        index = s.field_index_key.encode() or hashlib.sha256(b"field-index:" + s.secret_key.encode()).digest()
        return Keyring({k: AESGCM(v) for k, v in keys.items()}, next(iter(keys)), index)

    def ring(self) -> Keyring:
        if self._stamp is not None:
            with contextlib.suppress(OSError):
                if key_file(self.settings).stat().st_mtime != self._stamp:
                    with self._lock:
                        self._ring = self._load()
        return self._ring

    def seal(self, value: str | None, purpose: str) -> str | None:
        return None if value is None else self.ring().seal(value, purpose)

    def open(self, value: str | None, purpose: str) -> str | None:
        if value is None:
            return None
        try:
            return self._ring.open(value, purpose)
        except FieldKeyError:
            return self.ring().open(value, purpose)  # a key added since this process loaded the file

    def digest(self, value: str | None, purpose: str) -> bytes | None:
        if value is None:
            return None
        return hmac.new(self._ring.index_key, f"{purpose}\0{value.strip().lower()}".encode(), "sha256").digest()


_cipher: FieldCipher | None = None


def configure(settings: Settings) -> FieldCipher:
    """Load the keys of these settings for this process (the app's start, the CLI, the seed and the tests)."""
    global _cipher
    current = _cipher
    if current is None or _source(current.settings) != _source(settings):
        current = _cipher = FieldCipher(settings)
    return current


def _source(settings: Settings) -> tuple[object, ...]:
    return settings.field_keys, settings.field_index_key, settings.secret_key, Path(settings.data_dir).resolve()


def cipher() -> FieldCipher:
    """The keys configured for this process; a script that configured none gets its environment's (the keys an
    app it starts would load too)."""
    return _cipher or configure(load_settings())


# What each sealed field is (its associated data): a value opens only as the field it was sealed for.
USER_PHONE = "users.phone"
TOTP_SECRET = "users.totp_secret"
VENDOR_PHONE = "vendors.contact_phone"  # of applications and of shops alike (approval copies it across)
LICENCE = "vendors.licence_number"
PAYOUT_ACCOUNT = "vendors.payout_account"

# The personal lines of an address, sealed alike in `addresses` and in the checkout snapshots copied from it;
# city, region and country stay readable (shipping fees, delivery analytics and tax need them).
ADDRESS_SEALED = ("recipient", "phone", "line1", "line2", "postal_code")
MATCHED = ("line1", "postal_code", "country")  # what address_match compares


def seal_address(fields: dict[str, object]) -> dict[str, object]:
    ring = cipher()
    return {
        k: ring.seal(v, f"address.{k}") if k in ADDRESS_SEALED and isinstance(v, str) else v for k, v in fields.items()
    }


def open_address(fields: dict[str, object]) -> dict[str, object]:
    """The address as its owner wrote it (without the internal match key)."""
    ring = cipher()
    return {
        k: ring.open(v, f"address.{k}") if k in ADDRESS_SEALED and isinstance(v, str) else v
        for k, v in fields.items()
        if k != "match_key"
    }


def sealed_snapshot(fields: dict[str, object]) -> dict[str, object]:
    """An address as a checkout keeps it: the personal lines sealed, with its match key."""
    return {**seal_address(fields), "match_key": address_match(fields)}


def address_match(fields: dict[str, object]) -> str:
    """A keyed hash of where an address is (street line, postcode, country; not who), the same for "1 Market
    Street" and "1 market street.": what risk control groups orders by, now that the lines themselves are sealed.
    Empty for an address without a street line (an erased one)."""
    parts = ["".join(ch for ch in str(fields.get(k) or "").lower() if ch.isalnum()) for k in MATCHED]
    if not parts[0]:
        return ""
    text = "address.match\0" + "|".join(parts)
    return hmac.new(cipher().ring().index_key, text.encode(), "sha256").hexdigest()[:32]


def mask_address(fields: dict[str, object]) -> dict[str, object]:
    """What is left of an address once its reader may no longer see it: the place, not the person or the door."""
    recipient = fields.get("recipient")
    initial = f"{recipient[0]}." if isinstance(recipient, str) and recipient else ""
    kept = {k: fields[k] for k in ("city", "region", "country") if k in fields}
    return {**kept, "recipient": initial, "masked": True}


def seal(value: str | None, purpose: str) -> str | None:
    return cipher().seal(value, purpose)


def unseal(value: str | None, purpose: str) -> str | None:
    return cipher().open(value, purpose)


def digest(value: str | None, purpose: str) -> bytes | None:
    return cipher().digest(value, purpose)

"""The wallet's key file: an Ed25519 private key encrypted under the wallet password.

Argon2id (memory-hard; parameters stored with the file, at or above OWASP's guidance) turns the
password into a 256-bit key; AES-256-GCM encrypts the private key, with every other field of
the file (format, address, KDF and cipher parameters, and the exchange the wallet signs for) as
associated data, so none of them can be altered without unlocking failing. (Format 1 left the
exchange out: such a file is sealed again as format 2 the first time it is unlocked.) The file
is written atomically (temporary file, fsync, rename) with mode 0600 in a directory of mode
0700; a wallet path that is a symbolic link is refused, and a key file others may read is
warned about. Nothing in it reveals the password.
`cryptography` is imported when a key is made or unlocked: reading an address does not pay
for it (a balance query stays fast).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tachyon.errors import AlreadyExists, CorruptData, InvalidInput, WalletNotFound, WrongPassword

_log: Final = logging.getLogger("tachyon.wallet")

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_FILENAME: Final = "wallet.json"
KEYSTORE_FORMAT: Final = 2
"""1: the exchange entry outside the associated data; 2: inside it."""
_FORMATS_READ: Final = (1, 2)
PASSWORD_LENGTH_MIN: Final = 8


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. The default exceeds OWASP's (2025) minimum of 19 MiB, 2 passes, 1 lane."""

    memory_kib: int = 65_536
    iterations: int = 3
    lanes: int = 1

    def problem(self) -> str | None:
        """Why these parameters may not be used, or None."""
        for name in ("memory_kib", "iterations", "lanes"):
            value = getattr(self, name)
            low, high = getattr(KDF_MIN, name), getattr(KDF_MAX, name)
            if type(value) is not int or not low <= value <= high:
                return f"{name} {value!r} is outside {low}..{high}"
        return None


KDF_DEFAULT: Final = KdfParams()
KDF_MIN: Final = KdfParams(memory_kib=19_456, iterations=2, lanes=1)
KDF_MAX: Final = KdfParams(memory_kib=4 * 1024 * 1024, iterations=100, lanes=16)
"""Bounds a key file's parameters must keep: a forged file cannot make unlocking take
unbounded memory or time."""
SALT_LENGTH: Final = 16
NONCE_LENGTH: Final = 12


@dataclass(frozen=True)
class KeyFile:
    """A key file's contents; `exchange` says where the wallet trades (see `tachyon.wallet`)."""

    path: Path
    address: str
    exchange: dict[str, str]
    kdf: KdfParams
    salt: bytes
    nonce: bytes
    ciphertext: bytes
    format: int = KEYSTORE_FORMAT

    def header(self) -> dict[str, object]:
        return {
            "format": self.format,
            "address": self.address,
            "kdf": {
                "name": "argon2id",
                "memory_kib": self.kdf.memory_kib,
                "iterations": self.kdf.iterations,
                "lanes": self.kdf.lanes,
                "salt": _b64(self.salt),
            },
            "cipher": {"name": "aes-256-gcm", "nonce": _b64(self.nonce)},
        }

    def associated_data(self) -> bytes:
        """Every field but the ciphertext (format 1: but the exchange too), canonically."""
        fields = self.header() if self.format == 1 else {**self.header(), "exchange": self.exchange}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def unlock(self, password: str) -> Ed25519PrivateKey:
        """The private key; WrongPassword if `password` is not the wallet's."""
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PrivateKey,
        )
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

        key = _derive(password, self.salt, self.kdf)
        try:
            raw = AESGCM(key).decrypt(self.nonce, self.ciphertext, self.associated_data())
        except InvalidTag:
            raise WrongPassword(f"wrong password for the wallet at {self.path.parent}") from None
        private_key = Ed25519PrivateKey.from_private_bytes(raw)
        from tachyon.exchange.auth import address_of  # noqa: PLC0415

        if address_of(private_key) != self.address:
            raise CorruptData(f"{self.path}: the key does not match the address")
        if self.format != KEYSTORE_FORMAT:
            self._reseal(key, raw)
        return private_key

    def _reseal(self, key: bytes, raw: bytes) -> None:
        """Write this wallet again in the current format (a fresh nonce, every field bound)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

        nonce = secrets.token_bytes(NONCE_LENGTH)
        unsealed = KeyFile(self.path, self.address, self.exchange, self.kdf, self.salt, nonce, b"")
        ciphertext = AESGCM(key).encrypt(nonce, raw, unsealed.associated_data())
        sealed = KeyFile(
            self.path, self.address, self.exchange, self.kdf, self.salt, nonce, ciphertext
        )
        _publish(self.path, _document(sealed), replace=True)
        _log.warning("%s: sealed again in key file format %d", self.path, KEYSTORE_FORMAT)


def create(
    directory: Path, password: str, exchange: dict[str, str], kdf: KdfParams = KDF_DEFAULT
) -> KeyFile:
    """Make a new key in `directory` (created 0700); AlreadyExists if it holds a wallet."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    if len(password) < PASSWORD_LENGTH_MIN:
        raise InvalidInput(f"a wallet password has at least {PASSWORD_LENGTH_MIN} characters")
    problem = kdf.problem()
    if problem:
        raise InvalidInput(f"KDF parameters {kdf}: {problem}")
    path = directory / KEY_FILENAME
    _refuse_links(directory)
    if path.exists():
        raise AlreadyExists(f"a wallet already exists at {directory}")
    from tachyon.exchange.auth import address_of  # noqa: PLC0415

    private_key = Ed25519PrivateKey.generate()
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    salt, nonce = secrets.token_bytes(SALT_LENGTH), secrets.token_bytes(NONCE_LENGTH)
    unsealed = KeyFile(path, address_of(private_key), exchange, kdf, salt, nonce, b"")
    ciphertext = AESGCM(_derive(password, salt, kdf)).encrypt(
        nonce, raw, unsealed.associated_data()
    )
    key_file = KeyFile(path, unsealed.address, exchange, kdf, salt, nonce, ciphertext)
    _make_private_dir(directory)
    _publish(path, _document(key_file))
    return key_file


def _document(key_file: KeyFile) -> bytes:
    document = {
        **key_file.header(),
        "exchange": key_file.exchange,
        "ciphertext": _b64(key_file.ciphertext),
    }
    return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"


def _refuse_links(directory: Path) -> None:
    """A wallet path must be the wallet itself: through a symbolic link, a key could be
    written to, or read from, wherever the link points."""
    for path in (directory, directory / KEY_FILENAME):
        if path.is_symlink():
            raise InvalidInput(
                f"{path} is a symbolic link; give the wallet's own directory, not a link to it"
            )


def load(directory: Path) -> KeyFile:
    """Read the key file in `directory` (no password needed: it holds the public fields)."""
    path = directory / KEY_FILENAME
    _refuse_links(directory)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise WalletNotFound(
            f"no wallet at {directory} (create one with `tachyon wallet create --db-path"
            f" {directory}`)"
        ) from None
    except OSError as exc:
        raise WalletNotFound(f"cannot read the wallet at {directory}: {exc.strerror}") from exc
    try:
        document = json.loads(raw)
        if type(document) is not dict:
            raise TypeError("the document is not a JSON object")
        if type(document["format"]) is not int or document["format"] not in _FORMATS_READ:
            raise CorruptData(
                f"{path}: key file format {document['format']!r}; this tachyon reads"
                f" {KEYSTORE_FORMAT}"
            )
        kdf, cipher = document["kdf"], document["cipher"]
        if kdf["name"] != "argon2id" or cipher["name"] != "aes-256-gcm":
            raise CorruptData(f"{path}: unknown KDF or cipher {kdf['name']}/{cipher['name']}")
        exchange = document["exchange"]
        if not isinstance(exchange, dict) or not all(
            isinstance(value, str) for value in exchange.values()
        ):
            raise CorruptData(f"{path}: the exchange entry is not a map of strings")
        params = KdfParams(kdf["memory_kib"], kdf["iterations"], kdf["lanes"])
        problem = params.problem()
        salt, nonce = _unb64(kdf["salt"]), _unb64(cipher["nonce"])
        if problem or len(salt) != SALT_LENGTH or len(nonce) != NONCE_LENGTH:
            raise CorruptData(
                f"{path}: key parameters out of bounds"
                f" ({problem or f'salt {len(salt)} bytes, nonce {len(nonce)} bytes'})"
            )
        address = document["address"]
        if type(address) is not str:
            raise TypeError("the address is not text")
        ciphertext = _unb64(document["ciphertext"])
        key_file = KeyFile(
            path, address, exchange, params, salt, nonce, ciphertext, document["format"]
        )
    except (ValueError, KeyError, TypeError, RecursionError) as exc:  # JSONDecodeError: Value
        raise CorruptData(f"{path}: not a tachyon key file ({exc!r})") from exc
    _warn_if_exposed(path)
    return key_file


def _warn_if_exposed(path: Path) -> None:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        _log.warning(
            "%s may be read by other users (mode %o): run `chmod 600 %s`", path, mode, path
        )


def _derive(password: str, salt: bytes, kdf: KdfParams) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # noqa: PLC0415

    return Argon2id(
        salt=salt,
        length=32,
        iterations=kdf.iterations,
        lanes=kdf.lanes,
        memory_cost=kdf.memory_kib,
    ).derive(password.encode())


def _make_private_dir(directory: Path) -> None:
    from tachyon.storage.db import ensure_dir  # noqa: PLC0415 (only when a key is made)

    ensure_dir(directory, "wallet directory")
    directory.chmod(0o700)  # an existing directory too: it is about to hold a key


def _publish(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write `data` to a temporary file, fsync it, then put it in place atomically: linked (a
    new wallet: never replaces one created meanwhile) or, with `replace`, renamed over the
    file (sealing a wallet again)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:  # mkstemp creates the file 0600
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError:
        raise AlreadyExists(f"a wallet already exists at {path.parent}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"expected base64 text, got {type(text).__name__}")
    return base64.b64decode(text, validate=True)

"""Goal: a wallet key file opens only with its password, keeps the password and key secret, is
private on disk, and refuses any tampering or damage. Method: real Argon2id and AES-GCM files in
tmp_path, edited with plain json and byte operations, then loaded and unlocked."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tachyon.errors import (
    AlreadyExists,
    CorruptData,
    InvalidInput,
    StorageError,
    WalletNotFound,
    WrongPassword,
)
from tachyon.exchange.auth import address_of, is_address
from tachyon.wallet.keystore import (
    KDF_DEFAULT,
    KDF_MIN,
    KEY_FILENAME,
    KEYSTORE_FORMAT,
    PASSWORD_LENGTH_MIN,
    KdfParams,
    KeyFile,
    create,
    load,
)

PASSWORD: Final = "correct horse battery"
EXCHANGE: Final = {"kind": "embedded", "data_dir": "/srv/exchange"}

Document = dict[str, Any]
Edit = Callable[[Document], None]


def make(directory: Path, password: str = PASSWORD) -> KeyFile:
    return create(directory, password, dict(EXCHANGE), KDF_MIN)


def raw_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read_document(directory: Path) -> Document:
    document: Document = json.loads((directory / KEY_FILENAME).read_text())
    return document


def write_document(directory: Path, document: object) -> None:
    (directory / KEY_FILENAME).write_text(json.dumps(document))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def flip_b64(text: str) -> str:
    data = bytearray(base64.b64decode(text))
    data[len(data) // 2] ^= 0x01
    return b64(bytes(data))


# -- create, load, unlock ----------------------------------------------------------------------


def test_create_load_unlock_with_the_default_kdf(tmp_path: Path) -> None:
    directory = tmp_path / "wallet"
    created = create(directory, PASSWORD, dict(EXCHANGE))
    assert created.kdf == KDF_DEFAULT
    assert is_address(created.address)
    loaded = load(directory)
    assert loaded == created
    assert loaded.path == directory / KEY_FILENAME
    assert loaded.exchange == EXCHANGE
    private_key = loaded.unlock(PASSWORD)
    assert address_of(private_key) == created.address
    # The key signs, and its signature verifies under the address.
    signature = private_key.sign(b"message")
    private_key.public_key().verify(signature, b"message")
    assert sorted(path.name for path in directory.iterdir()) == [KEY_FILENAME]


def test_each_wallet_gets_its_own_key_salt_and_nonce(tmp_path: Path) -> None:
    one, two = make(tmp_path / "one"), make(tmp_path / "two")
    assert one.address != two.address
    assert one.salt != two.salt
    assert one.nonce != two.nonce
    assert (len(one.salt), len(one.nonce)) == (16, 12)


def test_load_keeps_the_kdf_parameters_it_was_created_with(tmp_path: Path) -> None:
    kdf = KdfParams(memory_kib=KDF_MIN.memory_kib + 1_024, iterations=3, lanes=2)
    created = create(tmp_path / "w", PASSWORD, dict(EXCHANGE), kdf)
    loaded = load(tmp_path / "w")
    assert loaded.kdf == kdf
    assert address_of(loaded.unlock(PASSWORD)) == created.address


@pytest.mark.parametrize(
    "password",
    [
        "correct horse batterY",
        "correct horse battery ",
        "correct horse batter",
        "",
        "CORRECT HORSE BATTERY",
    ],
)
def test_a_wrong_password_is_refused(tmp_path: Path, password: str) -> None:
    directory = tmp_path / "w"
    make(directory)
    with pytest.raises(WrongPassword, match="wrong password") as info:
        load(directory).unlock(password)
    assert PASSWORD not in str(info.value)


def test_a_non_ascii_password_round_trips(tmp_path: Path) -> None:
    password = "пароль-ünïcødé-🔑"
    created = make(tmp_path / "w", password)
    assert address_of(load(tmp_path / "w").unlock(password)) == created.address
    with pytest.raises(WrongPassword):
        load(tmp_path / "w").unlock(password.upper())


def test_a_password_shorter_than_the_minimum_is_refused(tmp_path: Path) -> None:
    short = "x" * (PASSWORD_LENGTH_MIN - 1)
    with pytest.raises(InvalidInput, match=f"at least {PASSWORD_LENGTH_MIN} characters"):
        make(tmp_path / "w", short)
    assert not (tmp_path / "w").exists()
    with pytest.raises(InvalidInput):
        make(tmp_path / "w", "")
    # Exactly the minimum is enough.
    created = make(tmp_path / "w", "x" * PASSWORD_LENGTH_MIN)
    assert address_of(load(tmp_path / "w").unlock("x" * PASSWORD_LENGTH_MIN)) == created.address


@pytest.mark.parametrize(
    "kdf",
    [
        KdfParams(KDF_MIN.memory_kib - 1, KDF_MIN.iterations, KDF_MIN.lanes),
        KdfParams(KDF_MIN.memory_kib, KDF_MIN.iterations - 1, KDF_MIN.lanes),
        KdfParams(8, 1, 1),
        KdfParams(0, 0, 1),
    ],
)
def test_kdf_parameters_below_the_minimum_are_refused(tmp_path: Path, kdf: KdfParams) -> None:
    with pytest.raises(InvalidInput, match="is outside"):
        create(tmp_path / "w", PASSWORD, dict(EXCHANGE), kdf)
    assert not (tmp_path / "w").exists()


def test_zero_kdf_lanes_are_refused_as_invalid_input(tmp_path: Path) -> None:
    kdf = KdfParams(KDF_MIN.memory_kib, KDF_MIN.iterations, 0)
    with pytest.raises(InvalidInput):
        create(tmp_path / "w", PASSWORD, dict(EXCHANGE), kdf)


def test_creating_twice_in_one_directory_is_refused_and_keeps_the_first(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    first = make(directory)
    before = (directory / KEY_FILENAME).read_bytes()
    with pytest.raises(AlreadyExists, match=f"a wallet already exists at {directory}"):
        make(directory, "another password")
    assert (directory / KEY_FILENAME).read_bytes() == before
    assert sorted(path.name for path in directory.iterdir()) == [KEY_FILENAME]
    assert address_of(load(directory).unlock(PASSWORD)) == first.address


# -- on disk -----------------------------------------------------------------------------------


def test_the_file_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    make(directory)
    assert mode(directory) == 0o700
    assert mode(directory / KEY_FILENAME) == 0o600


def test_missing_parent_directories_are_created_0700(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    directory = tmp_path / "a" / "b" / "c"
    make(directory)
    for path in (tmp_path / "a", tmp_path / "a" / "b", directory):
        assert mode(path) == 0o700, path
    assert mode(tmp_path) == 0o755  # an existing parent is left as it was
    assert mode(directory / KEY_FILENAME) == 0o600


def test_an_existing_directory_is_made_0700(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    make(directory)
    assert mode(directory) == 0o700


def test_a_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.write_text("not a directory")
    with pytest.raises(StorageError, match=r"wallet directory .* is not a directory"):
        make(path)
    assert path.read_text() == "not a directory"


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    for name in ("one", "two", "three"):
        make(tmp_path / name)
        assert sorted(path.name for path in (tmp_path / name).iterdir()) == [KEY_FILENAME]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one", "three", "two"]


def test_the_file_reveals_neither_the_password_nor_the_key(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    make(directory)
    content = (directory / KEY_FILENAME).read_bytes()
    text = content.decode()
    secret = PASSWORD.encode()
    key = raw_key(load(directory).unlock(PASSWORD))
    for needle in (
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
        key,
        key.hex().encode(),
        key.hex().upper().encode(),
        base64.b64encode(key),
        base64.urlsafe_b64encode(key),
        base64.b64encode(key).rstrip(b"="),
    ):
        assert needle not in content, needle
    assert PASSWORD.lower() not in text.lower()
    # Only the documented fields are stored.
    document = read_document(directory)
    assert sorted(document) == ["address", "cipher", "ciphertext", "exchange", "format", "kdf"]
    assert document["format"] == KEYSTORE_FORMAT
    assert document["cipher"]["name"] == "aes-256-gcm"
    assert document["kdf"]["name"] == "argon2id"


# -- tampering ---------------------------------------------------------------------------------


def _set(*keys_and_value: Any) -> Edit:
    *keys, value = keys_and_value

    def edit(document: Document) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value(target[keys[-1]]) if callable(value) else value

    return edit


OTHER_ADDRESS: Final = address_of(Ed25519PrivateKey.from_private_bytes(bytes(32)))

TAMPERINGS: Final[dict[str, Edit]] = {
    "address": _set("address", OTHER_ADDRESS),
    "address case": _set("address", str.upper),
    "memory": _set("kdf", "memory_kib", lambda value: value + 1_024),
    "iterations": _set("kdf", "iterations", lambda value: value + 1),
    "lanes": _set("kdf", "lanes", lambda value: value + 1),
    "salt": _set("kdf", "salt", flip_b64),
    "salt length": _set("kdf", "salt", lambda text: b64(base64.b64decode(text) + b"\x00")),
    "nonce": _set("cipher", "nonce", flip_b64),
    "nonce length": _set("cipher", "nonce", lambda text: b64(base64.b64decode(text) + b"\x00")),
    "ciphertext": _set("ciphertext", flip_b64),
    "ciphertext tag": _set("ciphertext", lambda text: b64(base64.b64decode(text)[:-1] + b"\x00")),
    "ciphertext truncated": _set("ciphertext", lambda text: b64(base64.b64decode(text)[:-1])),
    "ciphertext empty": _set("ciphertext", ""),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_a_tampered_field_makes_unlock_fail(tmp_path: Path, name: str) -> None:
    directory = tmp_path / "w"
    make(directory)
    document = read_document(directory)
    TAMPERINGS[name](document)
    assert document != read_document(directory)
    write_document(directory, document)
    with pytest.raises((WrongPassword, CorruptData)):
        load(directory).unlock(PASSWORD)


@pytest.mark.parametrize(
    "edit",
    [
        _set("kdf", "lanes", 0),
        _set("kdf", "iterations", 0),
        _set("kdf", "memory_kib", 7),
        _set("kdf", "salt", b64(b"salt")),
        _set("cipher", "nonce", b64(b"nonce")),
    ],
    ids=["lanes 0", "iterations 0", "memory 7 KiB", "salt 4 bytes", "nonce 5 bytes"],
)
def test_unusable_kdf_or_cipher_parameters_are_corrupt_data(tmp_path: Path, edit: Edit) -> None:
    directory = tmp_path / "w"
    make(directory)
    document = read_document(directory)
    edit(document)
    write_document(directory, document)
    with pytest.raises((CorruptData, WrongPassword)):
        load(directory).unlock(PASSWORD)


# -- damaged files -----------------------------------------------------------------------------


def _without(*keys: str) -> Edit:
    def edit(document: Document) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return edit


DAMAGE: Final[dict[str, Edit]] = {
    "no format": _without("format"),
    "no address": _without("address"),
    "no kdf": _without("kdf"),
    "no cipher": _without("cipher"),
    "no ciphertext": _without("ciphertext"),
    "no exchange": _without("exchange"),
    "no kdf name": _without("kdf", "name"),
    "no salt": _without("kdf", "salt"),
    "no memory": _without("kdf", "memory_kib"),
    "no iterations": _without("kdf", "iterations"),
    "no lanes": _without("kdf", "lanes"),
    "no nonce": _without("cipher", "nonce"),
    "format 2": _set("format", KEYSTORE_FORMAT + 1),
    "format 0": _set("format", 0),
    "format text": _set("format", "1"),
    "format null": _set("format", None),
    "unknown kdf": _set("kdf", "name", "scrypt"),
    "unknown cipher": _set("cipher", "name", "chacha20-poly1305"),
    "kdf not a map": _set("kdf", [1, 2, 3]),
    "memory not a number": _set("kdf", "memory_kib", "lots"),
    "salt not base64": _set("kdf", "salt", "not base64!"),
    "salt a number": _set("kdf", "salt", 12),
    "nonce not base64": _set("cipher", "nonce", "%%%"),
    "ciphertext null": _set("ciphertext", None),
    "exchange a list": _set("exchange", ["embedded"]),
    "exchange values not text": _set("exchange", {"kind": 1}),
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_document_is_corrupt_data_naming_the_file(tmp_path: Path, name: str) -> None:
    directory = tmp_path / "w"
    make(directory)
    document = read_document(directory)
    DAMAGE[name](document)
    write_document(directory, document)
    with pytest.raises(CorruptData) as info:
        load(directory)
    assert str(directory / KEY_FILENAME) in str(info.value)


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"{", b"[]", b"null", b"42", b'"wallet"', b"\xff\xfe\x00", b"{}"],
    ids=["empty", "text", "truncated", "list", "null", "number", "string", "binary", "empty map"],
)
def test_garbage_is_corrupt_data_naming_the_file(tmp_path: Path, content: bytes) -> None:
    directory = tmp_path / "w"
    make(directory)
    (directory / KEY_FILENAME).write_bytes(content)
    with pytest.raises(CorruptData) as info:
        load(directory)
    assert str(directory / KEY_FILENAME) in str(info.value)


def test_a_truncated_file_is_corrupt_data(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    make(directory)
    content = (directory / KEY_FILENAME).read_bytes()
    for length in range(0, len(content) - 2, 7):  # the last bytes are "}\n": still valid JSON
        (directory / KEY_FILENAME).write_bytes(content[:length])
        with pytest.raises(CorruptData, match=str(directory / KEY_FILENAME)):
            load(directory)


# -- missing -----------------------------------------------------------------------------------


def test_no_wallet_directory_is_wallet_not_found(tmp_path: Path) -> None:
    directory = tmp_path / "nowhere"
    with pytest.raises(WalletNotFound, match="tachyon wallet create") as info:
        load(directory)
    assert str(directory) in str(info.value)
    assert not directory.exists()


def test_a_directory_without_a_key_file_is_wallet_not_found(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    with pytest.raises(WalletNotFound, match="tachyon wallet create"):
        load(tmp_path / "w")

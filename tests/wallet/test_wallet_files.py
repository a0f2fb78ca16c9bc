"""Goal: every field a wallet acts on is authenticated, a wallet path is never a link, and the
files that hold keys and the journal are private.
Method: real key files and data directories in temporary directories, edited as an attacker
with write access to the file would."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Final

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tachyon.errors import InvalidInput, WrongPassword
from tachyon.exchange.commands import Deposit
from tachyon.storage import EmbeddedExchange
from tachyon.wallet.keystore import KDF_MIN, KEY_FILENAME, KeyFile, _derive, create, load

PASSWORD: Final = "correct horse battery"
EXCHANGE: Final = {"kind": "embedded", "data_dir": "/srv/tachyon/exchange"}
ATTACKER: Final = {"kind": "node", "url": "http://attacker.invalid:8700"}


def _edit_exchange(directory: Path, exchange: dict[str, str]) -> None:
    path = directory / KEY_FILENAME
    document = json.loads(path.read_text())
    document["exchange"] = exchange
    path.write_text(json.dumps(document))


def _write_format_1(directory: Path) -> KeyFile:
    """A wallet as format 1 wrote it: the exchange entry outside the associated data."""
    made = create(directory, PASSWORD, EXCHANGE, KDF_MIN)
    cipher = AESGCM(_derive(PASSWORD, made.salt, made.kdf))
    raw = cipher.decrypt(made.nonce, made.ciphertext, made.associated_data())
    old = KeyFile(made.path, made.address, EXCHANGE, made.kdf, made.salt, made.nonce, b"", 1)
    document = json.loads(made.path.read_text())
    document["format"] = 1
    sealed = cipher.encrypt(made.nonce, raw, old.associated_data())
    document["ciphertext"] = base64.b64encode(sealed).decode()
    made.path.write_text(json.dumps(document))
    return load(directory)


def test_an_edited_exchange_entry_no_longer_unlocks(tmp_path: Path) -> None:
    create(tmp_path / "w", PASSWORD, EXCHANGE, KDF_MIN)
    assert load(tmp_path / "w").unlock(PASSWORD).private_bytes_raw()  # as written
    _edit_exchange(tmp_path / "w", ATTACKER)
    with pytest.raises(WrongPassword):
        load(tmp_path / "w").unlock(PASSWORD)


def test_a_format_1_wallet_is_sealed_again_when_unlocked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = _write_format_1(tmp_path / "w")
    assert old.format == 1
    with caplog.at_level(logging.WARNING, logger="tachyon.wallet"):
        key = old.unlock(PASSWORD)
    assert "sealed again in key file format 2" in caplog.text
    resealed = load(tmp_path / "w")
    assert resealed.format == 2 and resealed.address == old.address
    assert resealed.unlock(PASSWORD).private_bytes_raw() == key.private_bytes_raw()
    assert (resealed.path.stat().st_mode & 0o777) == 0o600
    _edit_exchange(tmp_path / "w", ATTACKER)  # now bound like every other field
    with pytest.raises(WrongPassword):
        load(tmp_path / "w").unlock(PASSWORD)


def test_a_symlinked_wallet_path_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    link = tmp_path / "wallet"
    link.symlink_to(target)
    with pytest.raises(InvalidInput, match="symbolic link"):
        create(link, PASSWORD, EXCHANGE, KDF_MIN)
    assert list(target.iterdir()) == []
    assert (target.stat().st_mode & 0o777) == 0o755  # no chmod 0700 through the link
    real = tmp_path / "real"
    create(real, PASSWORD, EXCHANGE, KDF_MIN)
    (tmp_path / "linked").symlink_to(real)
    with pytest.raises(InvalidInput, match="symbolic link"):
        load(tmp_path / "linked")


def test_a_key_file_others_may_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made = create(tmp_path / "w", PASSWORD, EXCHANGE, KDF_MIN)
    with caplog.at_level(logging.WARNING, logger="tachyon.wallet"):
        load(tmp_path / "w")
    assert caplog.text == ""
    made.path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="tachyon.wallet"):
        load(tmp_path / "w")
    assert "may be read by other users (mode 644)" in caplog.text


def test_the_exchange_database_is_private(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path / "x") as host:
        host.submit(Deposit("alice", "USDC", 1))
    assert (os.stat(tmp_path / "x" / "exchange.db").st_mode & 0o777) == 0o600
    # One that an older tachyon left readable is made private when next opened to write.
    (tmp_path / "x" / "exchange.db").chmod(0o644)
    EmbeddedExchange.open(tmp_path / "x").close()
    assert (os.stat(tmp_path / "x" / "exchange.db").st_mode & 0o777) == 0o600

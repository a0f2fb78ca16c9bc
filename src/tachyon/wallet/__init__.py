"""Wallets: an encrypted Ed25519 key per directory whose address is the account, signing every
command it sends to an exchange (embedded, or later a node) through `ExchangePort`."""

from tachyon.wallet.keystore import (
    KDF_DEFAULT as KDF_DEFAULT,
    KDF_MIN as KDF_MIN,
    KEY_FILENAME as KEY_FILENAME,
    KdfParams as KdfParams,
    KeyFile as KeyFile,
    create as create_key_file,
    load as load_key_file,
)
from tachyon.wallet.wallet import ExchangePort as ExchangePort, Wallet as Wallet

__all__ = [
    "KDF_DEFAULT",
    "KDF_MIN",
    "KEY_FILENAME",
    "ExchangePort",
    "KdfParams",
    "KeyFile",
    "Wallet",
    "create_key_file",
    "load_key_file",
]

"""Wallets: an encrypted Ed25519 key per directory whose address is the account, signing every
command it sends to an exchange (embedded, or later a node) through `ExchangePort`.

`Wallet` and `ExchangePort` load the exchange package on first use, so reading a wallet's
address (the key store) stays cheap for a command that only reads.
"""

from typing import TYPE_CHECKING

from tachyon.wallet.keystore import (
    KDF_DEFAULT as KDF_DEFAULT,
    KDF_MIN as KDF_MIN,
    KEY_FILENAME as KEY_FILENAME,
    KdfParams as KdfParams,
    KeyFile as KeyFile,
    create as create_key_file,
    load as load_key_file,
)

if TYPE_CHECKING:
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


def __getattr__(name: str) -> object:
    if name in ("ExchangePort", "Wallet"):
        from tachyon.wallet import wallet  # noqa: PLC0415

        return getattr(wallet, name)
    raise AttributeError(f"module 'tachyon.wallet' has no attribute {name!r}")

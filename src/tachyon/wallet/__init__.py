"""Wallets: an encrypted Ed25519 key per directory whose address is the account, signing every
command it sends to an exchange (embedded, or a node) through `ExchangePort` (defined in
`tachyon.exchange.port`, re-exported here).

`Wallet` and `ExchangePort` load the exchange package on first use, and so does `__all__`
(PEP 562), so reading a wallet's address (the key store) stays cheap for a command that only
reads.
"""

import typing

from tachyon import _lazy
from tachyon.wallet.keystore import (
    KDF_DEFAULT as KDF_DEFAULT,
    KDF_MIN as KDF_MIN,
    KEY_FILENAME as KEY_FILENAME,
    KdfParams as KdfParams,
    KeyFile as KeyFile,
    create as _create,
    load as _load,
)

create_key_file = _create
load_key_file = _load

if typing.TYPE_CHECKING:
    from tachyon.exchange.port import ExchangePort as ExchangePort
    from tachyon.wallet.wallet import Wallet as Wallet

_LAZY: typing.Final = {"ExchangePort": "tachyon.exchange.port", "Wallet": "tachyon.wallet.wallet"}
_PUBLIC: typing.Final = [
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

__getattr__, __dir__ = _lazy.exports(globals(), _LAZY, _PUBLIC)

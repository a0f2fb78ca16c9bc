"""A tachyon node over the network, for trading code: `Client` (blocking) and `AsyncClient`
(asyncio, with the market stream as async iterators) answer plain data with the API's exact
decimal strings (`tachyon.client.data`), sign with a `Signer` they are given (`KeySigner`, or
a wallet's `Wallet.signer()`), and offer ccxt's unified methods on top (`tachyon.client.ccxt`:
floats and milliseconds at that edge only). `NodePort` is a node as an `ExchangePort`, on
`Client`, for a `Wallet` and the CLI's `--node` path; `MarketStream` and `BookFollower`
follow the market stream; `shapes` are the JSON shapes node and client share.

Below the wallet: it signs with a signer it is given, never with a `Wallet`. Importing the
package is light (PEP 562, as `tachyon.storage`): the HTTP client loads with `Client`, so the
node and the CLI's embedded reads can use `shapes` without it.
"""

import typing

from tachyon import _lazy

if typing.TYPE_CHECKING:
    from tachyon.client.aio import AsyncClient as AsyncClient
    from tachyon.client.calls import OrderOptions as OrderOptions
    from tachyon.client.node_port import NodePort as NodePort
    from tachyon.client.signer import KeySigner as KeySigner, Signer as Signer
    from tachyon.client.stream import (
        BookFollower as BookFollower,
        MarketStream as MarketStream,
        StreamGap as StreamGap,
    )
    from tachyon.client.sync import Client as Client

_LAZY: typing.Final = {
    "AsyncClient": "tachyon.client.aio",
    "BookFollower": "tachyon.client.stream",
    "Client": "tachyon.client.sync",
    "KeySigner": "tachyon.client.signer",
    "MarketStream": "tachyon.client.stream",
    "NodePort": "tachyon.client.node_port",
    "OrderOptions": "tachyon.client.calls",
    "Signer": "tachyon.client.signer",
    "StreamGap": "tachyon.client.stream",
}
_PUBLIC: typing.Final = [
    "AsyncClient",
    "BookFollower",
    "Client",
    "KeySigner",
    "MarketStream",
    "NodePort",
    "OrderOptions",
    "Signer",
    "StreamGap",
]

__getattr__, __dir__ = _lazy.exports(globals(), _LAZY, _PUBLIC)

"""An exchange over the network: `Client` (a node's HTTP API as an `ExchangePort`), the market
stream (`MarketStream`, `BookFollower`), and the JSON shapes node and client share (`shapes`,
read back by `decode`).

Below the wallet: it signs with a private key it is given, never with a `Wallet`. Importing
the package is light (PEP 562, as `tachyon.storage`): the HTTP client loads with `Client`,
so the node and the CLI's embedded reads can use `shapes` without it.
"""

import typing

from tachyon import _lazy

if typing.TYPE_CHECKING:
    from tachyon.client.http import Client as Client
    from tachyon.client.stream import (
        BookFollower as BookFollower,
        MarketStream as MarketStream,
        StreamGap as StreamGap,
    )

_LAZY: typing.Final = {
    "BookFollower": "tachyon.client.stream",
    "Client": "tachyon.client.http",
    "MarketStream": "tachyon.client.stream",
    "StreamGap": "tachyon.client.stream",
}
_PUBLIC: typing.Final = ["BookFollower", "Client", "MarketStream", "StreamGap"]

__getattr__, __dir__ = _lazy.exports(globals(), _LAZY, _PUBLIC)

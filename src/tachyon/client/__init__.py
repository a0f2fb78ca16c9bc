"""An exchange over the network: `Client` (a node's HTTP API as an `ExchangePort`), the market
stream (`MarketStream`, `BookFollower`), and the JSON shapes node and client share (`shapes`,
read back by `decode`).

Below the wallet: it signs with a private key it is given, never with a `Wallet`. Importing
the package is light (PEP 562, as `tachyon.storage`): the HTTP client loads with `Client`,
so the node and the CLI's embedded reads can use `shapes` without it.
"""

import importlib
import typing

if typing.TYPE_CHECKING:
    from tachyon.client.http import Client as Client
    from tachyon.client.stream import (
        BookFollower as BookFollower,
        MarketStream as MarketStream,
        StreamGap as StreamGap,
    )

_LAZY: typing.Final = {
    "BookFollower": "stream",
    "Client": "http",
    "MarketStream": "stream",
    "StreamGap": "stream",
}
_PUBLIC: typing.Final = ["BookFollower", "Client", "MarketStream", "StreamGap"]


def __getattr__(name: str) -> object:
    if name == "__all__":
        for lazy in _LAZY:
            __getattr__(lazy)
        globals()["__all__"] = _PUBLIC
        return _PUBLIC
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})

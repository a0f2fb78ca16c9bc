"""tachyon: a wallet with an embedded order-book exchange.

`from tachyon.dex import InMemoryEngine, Side` for the matching engine, `tachyon.ledger` for
balances, `tachyon.exchange.DexService` for many markets settled against one ledger.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

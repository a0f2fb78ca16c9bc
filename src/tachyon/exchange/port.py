"""ExchangePort: the one interface to an exchange, embedded or over the network.

`tachyon.storage.EmbeddedPort` implements it over a data directory and `tachyon.client.Client`
over a node's API; `tachyon.wallet.Wallet` acts through it and the CLI reads through it, never
asking which one it holds. Its values are the core's data objects in minor units, and
`tachyon.dex.open_order.OpenOrder` for what both sides can tell of an open order. Types only:
nothing here runs, so implementations need not import it (a Protocol is structural).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tachyon.dex.ids import AccountId, MarketId, TokenId
    from tachyon.dex.model import BookDepth, MarketConfig, Trade
    from tachyon.dex.open_order import OpenOrder
    from tachyon.exchange.commands import SignedCommand
    from tachyon.exchange.risk import MarketRules
    from tachyon.exchange.service import StopOrder
    from tachyon.exchange.state_machine import Outcome
    from tachyon.ledger.ledger import BalanceRecord, TokenMeta


class ExchangePort(Protocol):
    """An exchange as a wallet and the CLI use it. Every read answers the exchange as it is
    when called; every refusal is the `TachyonError` the exchange raised."""

    def submit(self, command: SignedCommand) -> Outcome:
        """Apply a wallet's signed command; its outcome once durable."""
        ...

    def balances(self, account: AccountId) -> dict[TokenId, BalanceRecord]:
        """The account's balances by token; a token it holds none of may be left out. Over
        the network only the account's own key may read them."""
        ...

    def open_orders(self, account: AccountId) -> list[OpenOrder]:
        """The account's open orders in every market, oldest first (same key rule)."""
        ...

    def stops(self, account: AccountId) -> list[StopOrder]:
        """The account's pending stop orders, in the order they were accepted (same key
        rule)."""
        ...

    def book(self, depth: int, market: MarketId) -> BookDepth:
        """The best `depth` price levels of each side, best first."""
        ...

    def recent_trades(self, limit: int, market: MarketId) -> list[Trade]:
        """The market's latest `limit` trades, newest first."""
        ...

    def markets(self) -> list[MarketConfig]: ...

    def market_rules(self) -> dict[MarketId, MarketRules]:
        """Every market's rules as the operator set them (halt, size and risk limits), with
        the name of the engine it runs on."""
        ...

    def tokens(self) -> list[TokenMeta]:
        """Every token (over the network: those its markets trade), by symbol."""
        ...

    def close(self) -> None: ...

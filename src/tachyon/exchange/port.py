"""ExchangePort: the one interface to an exchange, embedded or over the network.

`tachyon.storage.EmbeddedPort` implements it over a data directory and `tachyon.client.NodePort`
over a node's API; `tachyon.wallet.Wallet` acts through it and the CLI reads through it, never
asking which one it holds. Its values are the core's data objects in minor units,
`tachyon.dex.open_order.OpenOrder` for what both sides can tell of an open order, and
`tachyon.dex.records` for what the core does not keep: times, fees, an account's history.
Types only: nothing here runs, so implementations need not import it (a Protocol is
structural).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tachyon.dex.ids import AccountId, MarketId, TokenId
    from tachyon.dex.model import BookDepth, MarketConfig, Trade
    from tachyon.dex.open_order import OpenOrder
    from tachyon.dex.records import History, OrderRecord, Receipt, TradeRecord
    from tachyon.exchange.commands import SignedCommand
    from tachyon.exchange.risk import MarketRules
    from tachyon.exchange.service import StopOrder
    from tachyon.exchange.state_machine import Outcome
    from tachyon.exchange.withdrawals import Withdrawal
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

    def withdrawals(self, account: AccountId) -> list[Withdrawal]:
        """The account's withdrawals with a destination, oldest first (same key rule)."""
        ...

    def book(self, depth: int, market: MarketId) -> BookDepth:
        """The best `depth` price levels of each side, best first."""
        ...

    def recent_trades(self, limit: int, market: MarketId) -> list[Trade]:
        """The market's latest `limit` trades, newest first."""
        ...

    def trade_records(self, limit: int, market: MarketId) -> list[TradeRecord]:
        """The market's latest `limit` trades, newest first, each with its time and fees."""
        ...

    def order_records(self, account: AccountId) -> list[OrderRecord]:
        """The account's open orders, oldest first, each with the time it was placed (same key
        rule as `open_orders`)."""
        ...

    def history(self, account: AccountId, market: MarketId | None, limit: int) -> History:
        """The account's latest `limit` closed orders and latest `limit` fills (in `market`,
        if given), newest first (same key rule). A StorageError if the exchange does not
        record history (its read model is behind the journal)."""
        ...

    def last_receipt(self) -> Receipt | None:
        """The journal time and fees of the last command `submit` made durable through this
        port (None before any, or if the exchange did not tell)."""
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

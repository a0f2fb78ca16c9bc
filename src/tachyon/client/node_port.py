"""`NodePort`: a tachyon node as an `ExchangePort` (`tachyon.exchange.port`), on `Client`.

What the CLI's `--node` path and a `Wallet` over a node use: `Client` sends every request
(the same signing, refusals and errors), and this port reads its answers back into the core's
values in minor units (`tachyon.client.decode`) so a wallet sees what the embedded exchange
would answer.

`submit` posts a wallet's signed command and rebuilds its outcome (a `Placement`, a mass
cancel's `CancelledOrders` or a `BalanceRecord`) from the JSON answer with the market's or
token's decimals, exactly (and `last_receipt`, its journal time and its trades' fees). Public
reads (markets, book, trades) need nothing; an account's balances, open orders and history
are signed reads, so they need the account's private key: the `key` the client was given (a
wallet's, unlocked), which signs nothing else.

Every refusal the node answers in its error schema `{"error": {"code", "message"}}` is raised
again as the `TachyonError` of that code (`tachyon.client.refusals`); a node that cannot be
reached is one `StorageError` naming its URL.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final, final

import httpx2

from tachyon import errors
from tachyon.client import calls
from tachyon.client.decode import (
    balance_from_json,
    history_from_json,
    levels_from_json,
    market_from_json,
    order_record_from_json,
    placement_from_json,
    receipt_from_json,
    rules_from_json,
    stop_from_json,
    trade_record_from_json,
    withdrawal_from_json,
)
from tachyon.client.signer import KeySigner
from tachyon.client.sync import Client
from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import BookDepth, MarketConfig, Trade
from tachyon.dex.open_order import OpenOrder
from tachyon.dex.records import History, OrderRecord, Receipt, TradeRecord
from tachyon.exchange.service import CancelledOrders, StopOrder
from tachyon.exchange.withdrawals import Withdrawal
from tachyon.ledger.ledger import BalanceRecord, TokenMeta

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tachyon.exchange.commands import SignedCommand
    from tachyon.exchange.risk import MarketRules
    from tachyon.exchange.state_machine import Outcome

TIMEOUT_S: Final = 10.0


@final
class NodePort:
    """A node at `url` (e.g. http://127.0.0.1:8700); `key` signs its account's reads."""

    def __init__(
        self,
        url: str,
        *,
        key: Ed25519PrivateKey | None = None,
        timeout_s: float = TIMEOUT_S,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        signer = None if key is None else KeySigner(key)
        self.client = Client(url, signer, timeout_s=timeout_s, transport=transport)
        self.url = self.client.url
        self._markets: dict[str, MarketConfig] | None = None
        self._tokens: dict[str, int] | None = None  # decimals by symbol (they never change)
        self._receipt: Receipt | None = None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> NodePort:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the port: acting --------------------------------------------------------------------

    def submit(self, command: SignedCommand) -> Outcome:
        """Post a wallet's signed command; its outcome once the node made it durable."""
        self._receipt = None
        answer = self.client.call(calls.envelope(command.body, command.signature))
        if "withdrawal" in answer:  # a withdrawal with a destination, requested or closed
            row = answer["withdrawal"]
            decimals = self._decimals(row["token"]).get(row["token"])
            return withdrawal_from_json(decimals if decimals is not None else 0, row)
        if "trigger_price" in answer:  # a stop order
            return stop_from_json(self.market(answer["market"]), answer)
        if "order_id" in answer:
            config = self.market(answer["market"])
            self._receipt = receipt_from_json(config, answer)
            return placement_from_json(config, answer)
        if "cancelled" in answer:  # a mass cancel
            rows = answer["cancelled"]
            configs = [self.market(row["market"]) for row in rows]
            if rows:
                self._receipt = receipt_from_json(configs[0], rows[0])
            return CancelledOrders(
                [
                    placement_from_json(config, row)
                    for config, row in zip(configs, rows, strict=True)
                ]
            )
        if "balances" in answer:
            (row,) = answer["balances"]
            return balance_from_json(row, self._decimals(row["token"]).get(row["token"]))
        self._markets = None  # an operator's command may have changed a market or its fees
        if "cancelled_orders" in answer:  # a fee change: the orders it cancelled
            return [OrderId(order_id) for order_id in answer["cancelled_orders"]]
        return None  # the operator's other commands answer nothing else

    def last_receipt(self) -> Receipt | None:
        """The last placement's (or mass cancel's) journal time and its trades' fees, as the
        node answered; None before one, or after any other command."""
        return self._receipt

    # -- the port: public reads --------------------------------------------------------------

    def markets(self) -> list[MarketConfig]:
        """Every market (cached: a market's units never change)."""
        if self._markets is None:
            answer = self._request("/v1/markets")
            configs = [market_from_json(row) for row in answer["markets"]]
            self._markets = {config.market_id: config for config in configs}
        return list(self._markets.values())

    def market_rules(self) -> dict[MarketId, MarketRules]:
        """Each market's rules as the node's `/v1/markets` lists them."""
        answer = self._request("/v1/markets")
        return {
            MarketId(row["market"]): rules_from_json(self.market(row["market"]), row)
            for row in answer["markets"]
        }

    def tokens(self) -> list[TokenMeta]:
        """Every token the node's exchange has registered, by symbol."""
        self._tokens = None  # the list as the node has it now (the operator may add tokens)
        return [TokenMeta(TokenId(symbol), places) for symbol, places in self._decimals().items()]

    def book(self, depth: int, market: MarketId) -> BookDepth:
        config = self.market(market)
        answer = self._request("/v1/orderbook", {"market": market, "depth": depth})
        return BookDepth(
            levels_from_json(config, answer["bids"]), levels_from_json(config, answer["asks"])
        )

    def recent_trades(self, limit: int, market: MarketId) -> list[Trade]:
        return [record.trade for record in self.trade_records(limit, market)]

    def trade_records(self, limit: int, market: MarketId) -> list[TradeRecord]:
        config = self.market(market)
        answer = self._request("/v1/trades", {"market": market, "limit": limit})
        return [trade_record_from_json(config, row) for row in answer["trades"]]

    # -- the port: the key's own account (signed reads) --------------------------------------

    def balances(self, account: AccountId) -> dict[TokenId, BalanceRecord]:
        """Every token's balance of the key's account (tokens it never held are zero)."""
        answer = self._signed_get("/v1/account/balances", account)
        return {
            TokenId(row["token"]): balance_from_json(
                row, self._decimals(row["token"]).get(row["token"])
            )
            for row in answer["balances"]
        }

    def open_orders(self, account: AccountId) -> list[OpenOrder]:
        return [record.order for record in self.order_records(account)]

    def order_records(self, account: AccountId) -> list[OrderRecord]:
        answer = self._signed_get("/v1/account/orders", account)
        return [order_record_from_json(self.market(row["market"]), row) for row in answer["orders"]]

    def history(self, account: AccountId, market: MarketId | None, limit: int) -> History:
        """The account's latest `limit` closed orders and fills (in `market`), newest first."""
        params: dict[str, str | int] = {"limit": limit}
        if market is not None:
            params["market"] = market
        answer = self._signed_get("/v1/account/history", account, params)
        markets = {row["market"] for key in ("orders", "fills") for row in answer[key]}
        return history_from_json({MarketId(name): self.market(name) for name in markets}, answer)

    def withdrawals(self, account: AccountId) -> list[Withdrawal]:
        """The account's withdrawals with a destination, oldest first."""
        answer = self._signed_get("/v1/account/withdrawals", account)
        rows = answer["withdrawals"]
        return [
            withdrawal_from_json(self._decimals(row["token"]).get(row["token"]) or 0, row)
            for row in rows
        ]

    def stops(self, account: AccountId) -> list[StopOrder]:
        """The account's pending stop orders, in the order they were accepted."""
        answer = self._signed_get("/v1/account/stops", account)
        return [stop_from_json(self.market(row["market"]), row) for row in answer["stops"]]

    # -- beyond the port ---------------------------------------------------------------------

    def server_time_ns(self) -> int:
        answer = self._request("/v1/time")
        value = answer.get("server_time_ns")
        if type(value) is not int:
            raise errors.CorruptData(f"the node at {self.url} gave no server time")
        return value

    def market(self, market: str) -> MarketConfig:
        """MarketNotFound (as the embedded exchange words it) unless the node has `market`;
        asks the node again before refusing (a market added since the cache was filled)."""
        configs: dict[str, MarketConfig] = {each.market_id: each for each in self.markets()}
        if market not in configs:
            self._markets = None
            configs = {each.market_id: each for each in self.markets()}
        config = configs.get(market)
        if config is None:
            known = ", ".join(sorted(configs)) or "none"
            raise errors.MarketNotFound(f"unknown market {market!r}; markets: {known}")
        return config

    # -- HTTP --------------------------------------------------------------------------------

    def _decimals(self, needed: str | None = None) -> dict[str, int]:
        """Every registered token's decimals (`/v1/tokens`), by symbol: cached, and asked for
        again when `needed` is not among them (a token registered since)."""
        if self._tokens is None or (needed is not None and needed not in self._tokens):
            answer = self._request("/v1/tokens")
            self._tokens = {row["symbol"]: int(row["decimals"]) for row in answer["tokens"]}
        return self._tokens

    def _request(self, path: str, params: calls.Params | None = None) -> Any:
        return self.client.call(calls.public(path, params))

    def _signed_get(self, path: str, account: AccountId, params: calls.Params | None = None) -> Any:
        return self.client.call(calls.signed(self._signer(account), "GET", path, params))

    def _signer(self, account: AccountId) -> KeySigner | None:
        """The client's signer, if it is `account`'s (Unauthorized otherwise)."""
        signer = self.client.signer
        if signer is None or signer.address != account:
            raise errors.Unauthorized(
                f"acting for {account} on the node at {self.url} needs that account's key"
            )
        assert isinstance(signer, KeySigner)
        return signer

    def onramp_checkout(
        self, account: AccountId, amount: str, currency: str = "usd", token: str | None = None
    ) -> dict[str, Any]:
        """A Stripe Checkout Session crediting `account` once paid (the node's card on-ramp):
        `{"session_id", "url", "address", "amount", "currency", "token", "credit"}`."""
        path = "/v1/onramp/checkout"
        wanted: dict[str, str] = {"amount": amount, "currency": currency}
        if token is not None:
            wanted["token"] = token
        body = json.dumps(wanted).encode()
        call = calls.signed(self._signer(account), "POST", path, body=body)
        answer: dict[str, Any] = self.client.call(call)
        return answer

"""`Client`: a tachyon node's HTTP API, what a wallet and the CLI need of a remote exchange.

It implements the wallet's `ExchangePort` over the network: `submit` posts a signed
command and rebuilds its outcome (a `Placement` or a `BalanceRecord`) from the JSON answer with
the market's or token's decimals, exactly. Public reads (markets, book, trades) need nothing; an account's balances and open orders are signed reads,
so they need the account's private key (`account_balances(key)`, `account_orders(key)`, or a
key given to the client, which the port's `balances(account)` and `open_orders(account)` use).

Every refusal the node answers in its error schema `{"error": {"code", "message"}}` is raised
again here as the `TachyonError` subclass with that `code` (a `TachyonError` carrying the code
when no class has it), with the node's message: the caller sees what the embedded exchange
would have raised. A node that cannot be reached is one `StorageError` naming its URL.
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any, Final

import httpx2

from tachyon import errors
from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId, TradeId
from tachyon.dex.model import (
    BookDepth,
    BookLevel,
    FeeSchedule,
    MarketConfig,
    Order,
    OrderStatus,
    Side,
    Trade,
)
from tachyon.dex.units import AMOUNT_MINOR_MAX, to_minor
from tachyon.exchange.auth import address_of
from tachyon.exchange.commands import AnyCommand, SignedCommand
from tachyon.exchange.service import OwnedOrder, Placement
from tachyon.ledger.ledger import BalanceRecord, TokenMeta

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tachyon.exchange.state_machine import Outcome

TIMEOUT_S: Final = 10.0
CONNECT_TIMEOUT_S: Final = 5.0
READ_SIGNING_DOMAIN: Final = b"tachyon/read/v1\n"
"""As `tachyon.node.gateway.READ_SIGNING_DOMAIN` (the node checks what the client signs)."""
UNKNOWN_ACCOUNT: Final = AccountId("")
"""A trade's maker and taker as the node's answers give them: not at all."""


def error_class(code: str) -> type[errors.TachyonError] | None:
    """The loaded `TachyonError` subclass whose `code` is `code`, if any."""
    pending: list[type[errors.TachyonError]] = [errors.TachyonError]
    while pending:
        cls = pending.pop()
        if cls.__dict__.get("code") == code:
            return cls
        pending.extend(cls.__subclasses__())
    return None


def refusal(code: str, message: str) -> errors.TachyonError:
    """The library error a node's refusal stands for."""
    cls = error_class(code)
    if cls is not None:
        return cls(message)
    error = errors.TachyonError(message)
    error.code = code
    return error


def minor(text: object, decimals: int, name: str) -> int:
    """An exact decimal string in token units as minor units (zero allowed)."""
    if not isinstance(text, str):
        raise errors.CorruptData(f"the node's {name} {text!r} is not a decimal string")
    if text.strip("0.") == "" and text[:1] == "0":
        return 0
    return to_minor(text, decimals, name, AMOUNT_MINOR_MAX)


class Client:
    """A node at `url` (e.g. http://127.0.0.1:8700); `key` signs account reads if given."""

    def __init__(
        self,
        url: str,
        *,
        key: Ed25519PrivateKey | None = None,
        timeout_s: float = TIMEOUT_S,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self._http = httpx2.Client(
            base_url=self.url,
            timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S)),
            transport=transport,
        )
        self._markets: dict[str, MarketConfig] | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- HTTP --------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json: object = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx2.TimeoutException as exc:
            raise errors.StorageError(f"the node at {self.url} did not answer in time") from exc
        except httpx2.TransportError as exc:
            raise errors.StorageError(f"cannot reach the node at {self.url}: {exc}") from exc
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.is_success and isinstance(document, dict):
            return document
        problem = document.get("error") if isinstance(document, dict) else None
        if (
            isinstance(problem, dict)
            and isinstance(problem.get("code"), str)
            and isinstance(problem.get("message"), str)
        ):
            raise refusal(problem["code"], problem["message"])
        raise errors.StorageError(
            f"the node at {self.url} answered {method} {path} with HTTP {response.status_code}"
            " and no tachyon answer"
        )

    def _signed_get(self, path: str, key: Ed25519PrivateKey) -> Any:
        timestamp = str(time.time_ns())
        message = READ_SIGNING_DOMAIN + f"GET {path}\n{timestamp}".encode()
        headers = {
            "X-Tachyon-Address": address_of(key),
            "X-Tachyon-Timestamp": timestamp,
            "X-Tachyon-Signature": base64.b64encode(key.sign(message)).decode(),
        }
        return self._request("GET", path, headers=headers)

    # -- public reads ------------------------------------------------------------------------

    def server_time_ns(self) -> int:
        answer = self._request("GET", "/v1/time")
        value = answer.get("server_time_ns")
        if type(value) is not int:
            raise errors.CorruptData(f"the node at {self.url} gave no server time")
        return value

    def markets(self) -> list[MarketConfig]:
        """Every market (cached: a market's units never change)."""
        if self._markets is None:
            answer = self._request("GET", "/v1/markets")
            configs = [_market(row) for row in answer["markets"]]
            self._markets = {config.market_id: config for config in configs}
        return list(self._markets.values())

    def market(self, market: str) -> MarketConfig:
        """MarketNotFound (as the embedded exchange words it) unless the node has `market`."""
        configs: dict[str, MarketConfig] = {each.market_id: each for each in self.markets()}
        config = configs.get(market)
        if config is None:
            self._markets = None  # a market added since: ask once more
            configs = {each.market_id: each for each in self.markets()}
            config = configs.get(market)
        if config is None:
            known = ", ".join(sorted(configs)) or "none"
            raise errors.MarketNotFound(f"unknown market {market!r}; markets: {known}")
        return config

    def tokens(self) -> list[TokenMeta]:
        """The tokens the node's markets trade, by symbol."""
        found: dict[str, int] = {}
        for config in self.markets():
            found[config.base] = config.base_decimals
            found[config.quote] = config.quote_decimals
        return [TokenMeta(TokenId(symbol), found[symbol]) for symbol in sorted(found)]

    def book(self, depth: int, market: MarketId) -> BookDepth:
        config = self.market(market)
        answer = self._request("GET", "/v1/orderbook", params={"market": market, "depth": depth})
        return BookDepth(
            levels_from_json(config, answer["bids"]), levels_from_json(config, answer["asks"])
        )

    def recent_trades(self, limit: int, market: MarketId) -> list[Trade]:
        config = self.market(market)
        answer = self._request("GET", "/v1/trades", params={"market": market, "limit": limit})
        return [trade_from_json(config, row) for row in answer["trades"]]

    # -- signed account reads ----------------------------------------------------------------

    def account_balances(self, key: Ed25519PrivateKey) -> dict[TokenId, BalanceRecord]:
        """Every token's balance of `key`'s account (tokens it never held are zero)."""
        answer = self._signed_get("/v1/account/balances", key)
        decimals = {meta.symbol: meta.decimals for meta in self.tokens()}
        held: dict[TokenId, BalanceRecord] = {}
        for row in answer["balances"]:
            token = TokenId(row["token"])
            places = decimals.get(token, _places(row))
            held[token] = BalanceRecord(
                minor(row["available"], places, "available"), minor(row["locked"], places, "locked")
            )
        return held

    def account_orders(self, key: Ed25519PrivateKey) -> list[OwnedOrder]:
        """`key`'s account's open orders, oldest first. The node does not say what each order
        holds: `locked` is 0 (its token is the one it would lock)."""
        answer = self._signed_get("/v1/account/orders", key)
        owner = AccountId(address_of(key))
        owned = []
        for row in answer["orders"]:
            config = self.market(row["market"])
            side = Side(row["side"])
            order = Order(
                OrderId(row["order_id"]),
                owner,
                side,
                minor(row["price"], config.quote_decimals, "price"),
                minor(row["qty"], config.base_decimals, "qty"),
                minor(row["remaining_qty"], config.base_decimals, "remaining_qty"),
                minor(row["filled_qty"], config.base_decimals, "filled_qty"),
                False,
            )
            token = config.quote if side is Side.BID else config.base
            owned.append(OwnedOrder(config.market_id, order, 0, token))
        return owned

    # -- the wallet's port -------------------------------------------------------------------

    def submit(self, command: AnyCommand) -> Outcome:
        """Post a wallet's signed command; its outcome once the node made it durable."""
        if not isinstance(command, SignedCommand):
            raise errors.Unauthorized("a node takes only commands signed by a wallet's key")
        envelope = {
            "body": base64.b64encode(command.body).decode(),
            "signature": base64.b64encode(command.signature).decode(),
        }
        answer = self._request("POST", "/v1/commands", json=envelope)
        if "order_id" in answer:
            config = self.market(answer["market"])
            return Placement(
                OrderId(answer["order_id"]),
                [trade_from_json(config, row) for row in answer["trades"]],
                OrderStatus(answer["status"]),
                minor(answer["filled_qty"], config.base_decimals, "filled_qty"),
                minor(answer["open_qty"], config.base_decimals, "open_qty"),
            )
        (row,) = answer["balances"]
        decimals = {meta.symbol: meta.decimals for meta in self.tokens()}
        places = decimals.get(row["token"], _places(row))
        return BalanceRecord(
            minor(row["available"], places, "available"), minor(row["locked"], places, "locked")
        )

    def balances(self, account: AccountId) -> dict[TokenId, BalanceRecord]:
        return self.account_balances(self._key_of(account))

    def open_orders(self, account: AccountId) -> list[OwnedOrder]:
        return self.account_orders(self._key_of(account))

    def _key_of(self, account: AccountId) -> Ed25519PrivateKey:
        if self.key is None or address_of(self.key) != account:
            raise errors.Unauthorized(
                f"reading {account} on the node at {self.url} needs that account's key"
            )
        return self.key


def _market(row: dict[str, Any]) -> MarketConfig:
    base_decimals, quote_decimals = row["base_decimals"], row["quote_decimals"]
    return MarketConfig(
        TokenId(row["base"]),
        TokenId(row["quote"]),
        minor(row["tick_size"], quote_decimals, "tick_size"),
        minor(row["lot_size"], base_decimals, "lot_size"),
        minor(row["min_qty"], base_decimals, "min_qty"),
        base_decimals,
        quote_decimals,
        FeeSchedule(
            row["maker_bps"],
            row["taker_bps"],
            None if row["fee_token"] == row["quote"] else TokenId(row["fee_token"]),
            AccountId(row["fee_account"]),
        ),
    )


def levels_from_json(config: MarketConfig, rows: list[dict[str, str]]) -> list[BookLevel]:
    return [
        BookLevel(
            minor(row["price"], config.quote_decimals, "price"),
            minor(row["qty"], config.base_decimals, "qty"),
        )
        for row in rows
    ]


def trade_from_json(config: MarketConfig, row: dict[str, Any]) -> Trade:
    return Trade(
        TradeId(row["trade_id"]),
        minor(row["price"], config.quote_decimals, "price"),
        minor(row["qty"], config.base_decimals, "qty"),
        OrderId(row["maker_order_id"]),
        OrderId(row["taker_order_id"]),
        UNKNOWN_ACCOUNT,
        UNKNOWN_ACCOUNT,
        Side(row["taker_side"]),
    )


def _places(row: dict[str, Any]) -> int:
    """Decimals of a token no market names: as many as its amounts show."""

    def shown(text: object) -> int:
        return len(text.partition(".")[2]) if isinstance(text, str) else 0

    return max(shown(row.get("available")), shown(row.get("locked")))

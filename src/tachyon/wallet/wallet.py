"""Wallet: one account (the address of its key) that signs every command it sends.

A `Wallet` talks to an exchange through the `ExchangePort` protocol (`tachyon.exchange.port`),
which the embedded exchange (`tachyon.storage.EmbeddedPort`) and a node's client
(`tachyon.client.NodePort`) implement: the wallet builds each command for its own account with a
fresh nonce, signs its canonical bytes and submits the signed envelope. Reading needs no
password; acting needs the key unlocked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, final

import msgspec

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import STP_DEFAULT, SelfTradePrevention, Side, TimeInForce
from tachyon.errors import InvalidInput
from tachyon.exchange.auth import address_of, sign
from tachyon.exchange.commands import (
    AccountCommand,
    AmendOrder,
    CancelAll,
    CancelClientOrder,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    RequestWithdrawal,
    SignedCommand,
    Withdraw,
    encode_command,
)
from tachyon.exchange.service import CancelledOrders, Placement, StopOrder
from tachyon.exchange.withdrawals import Withdrawal
from tachyon.ledger.ledger import BalanceRecord
from tachyon.wallet.keystore import KeyFile

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tachyon.client.signer import KeySigner
    from tachyon.dex.open_order import OpenOrder
    from tachyon.exchange.port import ExchangePort
    from tachyon.exchange.state_machine import Outcome

Clock = Callable[[], int]


@final
class Wallet:
    """An account on an exchange; `unlock` it with the password before acting."""

    def __init__(
        self, key_file: KeyFile, exchange: ExchangePort, clock: Clock = time.time_ns
    ) -> None:
        self.key_file = key_file
        self.address = AccountId(key_file.address)
        self.exchange = exchange
        self._clock = clock
        self._key: Ed25519PrivateKey | None = None
        self._last_nonce = 0

    def unlock(self, password: str) -> None:
        """WrongPassword if the password does not open the key."""
        self._key = self.key_file.unlock(password)

    def use_key(self, private_key: Ed25519PrivateKey) -> None:
        """Act with a key already unlocked from this wallet's key file."""

        if address_of(private_key) != self.address:
            raise InvalidInput(f"that key is not the key of {self.address}")
        self._key = private_key

    def signer(self) -> KeySigner:
        """This wallet's key as a `tachyon.client` signer (for `Client` and `AsyncClient`)."""
        from tachyon.client.signer import KeySigner  # noqa: PLC0415 (only for a client)

        if self._key is None:
            raise InvalidInput("the wallet is locked: unlock it with its password first")
        return KeySigner(self._key)

    # -- acting (signed) ----------------------------------------------------------------------

    def deposit(self, token: TokenId, amount: int) -> BalanceRecord:
        """The dev profile's faucet: credit this account (the node refuses it in production)."""
        return self._balance(self._submit(Deposit(self.address, token, amount, self._nonce())))

    def withdraw(self, token: TokenId, amount: int) -> BalanceRecord:
        return self._balance(self._submit(Withdraw(self.address, token, amount, self._nonce())))

    def place_limit(
        self,
        market: MarketId,
        side: Side,
        price: int,
        qty: int,
        *,
        tif: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = STP_DEFAULT,
    ) -> Placement:
        command = PlaceLimit(
            self.address, market, side, price, qty, tif, post_only, stp, self._nonce()
        )
        return self._placement(self._submit(command))

    def place_market(
        self,
        market: MarketId,
        side: Side,
        qty: int | None,
        *,
        max_quote: int | None = None,
        stp: SelfTradePrevention = STP_DEFAULT,
    ) -> Placement:
        command = PlaceMarket(self.address, market, side, qty, max_quote, stp, self._nonce())
        return self._placement(self._submit(command))

    def cancel(self, order_id: OrderId) -> Placement | StopOrder:
        """Cancel an open order or a pending stop order of this wallet."""
        outcome = self._submit(CancelOrder(self.address, order_id, self._nonce()))
        assert isinstance(outcome, Placement | StopOrder), outcome
        return outcome

    def request_withdrawal(self, token: TokenId, amount: int, destination: str) -> Withdrawal:
        """Withdraw `amount` of `token` to `destination`: locked, pending the operator."""
        command = RequestWithdrawal(self.address, token, amount, destination, self._nonce())
        outcome = self._submit(command)
        assert isinstance(outcome, Withdrawal), outcome
        return outcome

    def withdrawals(self) -> list[Withdrawal]:
        """This wallet's withdrawals with a destination, oldest first."""
        return self.exchange.withdrawals(self.address)

    def place_order(
        self,
        market: MarketId,
        side: Side,
        price: int | None,
        qty: int | None,
        *,
        max_quote: int | None = None,
        tif: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = STP_DEFAULT,
        display_qty: int | None = None,
        expire_at_ns: int | None = None,
        client_order_id: str | None = None,
    ) -> Placement:
        """A limit order (a price) or a market order (None) with the options `place_limit`
        and `place_market` lack: an iceberg's `display_qty`, a good-till-date `expire_at_ns`,
        a `client_order_id` (a retry under the same id answers the first order's result)."""
        command = PlaceOrder(
            self.address,
            market,
            side,
            price,
            qty,
            max_quote,
            tif,
            post_only,
            stp,
            display_qty,
            expire_at_ns,
            client_order_id,
            self._nonce(),
        )
        return self._placement(self._submit(command))

    def place_stop(
        self,
        market: MarketId,
        side: Side,
        trigger_price: int,
        price: int | None,
        qty: int | None,
        *,
        max_quote: int | None = None,
        stp: SelfTradePrevention = STP_DEFAULT,
        client_order_id: str | None = None,
    ) -> StopOrder:
        """A stop-limit (a price) or stop-market (None) order; see `DexService.place_stop`."""
        command = PlaceStop(
            self.address,
            market,
            side,
            trigger_price,
            price,
            qty,
            max_quote,
            stp,
            client_order_id,
            self._nonce(),
        )
        outcome = self._submit(command)
        assert isinstance(outcome, StopOrder), outcome
        return outcome

    def stops(self) -> list[StopOrder]:
        """This wallet's pending stop orders."""
        return self.exchange.stops(self.address)

    def cancel_client_order(self, client_order_id: str) -> Placement | StopOrder:
        """Cancel the order (or stop) placed with `client_order_id`."""
        outcome = self._submit(CancelClientOrder(self.address, client_order_id, self._nonce()))
        assert isinstance(outcome, Placement | StopOrder), outcome
        return outcome

    def amend(
        self,
        order_id: OrderId | None,
        price: int | None = None,
        qty: int | None = None,
        *,
        stp: SelfTradePrevention = STP_DEFAULT,
        client_order_id: str | None = None,
    ) -> Placement:
        """Change an open order's price or total quantity (filled part included), named by
        its id or its client order id; see `DexService.amend` for what keeps its place."""
        command = AmendOrder(
            self.address, order_id, price, qty, stp, client_order_id, self._nonce()
        )
        return self._placement(self._submit(command))

    def cancel_all(
        self, market: MarketId | None = None, side: Side | None = None
    ) -> CancelledOrders:
        """Cancel every open order of this wallet's account (on `market`, on `side`)."""
        outcome = self._submit(CancelAll(self.address, market, side, self._nonce()))
        assert isinstance(outcome, CancelledOrders), outcome
        return outcome

    def act(self, command: AccountCommand) -> Outcome:
        """Sign `command` (for this wallet's account) with a fresh nonce, submit it and return
        its outcome once durable: the operator's commands, and any other account command."""
        fresh = msgspec.structs.replace(command, nonce=self._nonce())
        return self._submit(fresh)

    def signed(self, command: AccountCommand) -> SignedCommand:
        """`command` signed by this wallet's key (it must be for this wallet's account)."""
        if self._key is None:
            raise InvalidInput("the wallet is locked: unlock it with its password first")
        if command.account != self.address:
            raise InvalidInput(f"this wallet signs for {self.address}, not {command.account}")
        body = encode_command(command)
        return SignedCommand(body, sign(self._key, body))

    # -- reading (no password) ---------------------------------------------------------------

    def balances(self) -> dict[TokenId, BalanceRecord]:
        return self.exchange.balances(self.address)

    def open_orders(self) -> list[OpenOrder]:
        return self.exchange.open_orders(self.address)

    # -- internals ---------------------------------------------------------------------------

    def _nonce(self) -> int:
        """The clock in ns, strictly above this object's last nonce (a clock set back, or a
        burst within one tick). The exchange is not asked: it accepts a nonce inside the
        receive window of the command's time that the account has not used."""
        if self._key is None:
            raise InvalidInput("the wallet is locked: unlock it with its password first")
        self._last_nonce = max(self._clock(), self._last_nonce + 1)
        return self._last_nonce

    def _submit(self, command: AccountCommand) -> Outcome:
        return self.exchange.submit(self.signed(command))

    @staticmethod
    def _placement(outcome: Outcome) -> Placement:
        assert isinstance(outcome, Placement), outcome
        return outcome

    @staticmethod
    def _balance(outcome: Outcome) -> BalanceRecord:
        assert isinstance(outcome, BalanceRecord), outcome
        return outcome

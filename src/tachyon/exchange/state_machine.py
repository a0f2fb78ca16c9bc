"""Exchange: the pure state machine that the journal drives, one command at a time.

Pure: no I/O, no clock. The state (every book, the ledger, registries, id counters, the
receive window and each account's recent nonces, the last sequence number and time) changes
only through `apply`, which is given each admitted command's sequence number and timestamp by
its caller. The same commands with the same numbers give the same state, byte for byte:
`state_bytes` is canonical and `state_hash` hashes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Final, NamedTuple, final, get_args

import msgspec

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import FeeSchedule, MarketConfig, TimeInForce
from tachyon.dex.units import to_decimal
from tachyon.errors import AccountInDebt, TachyonError, TickDue
from tachyon.exchange import lifecycle, risk
from tachyon.exchange.admission import Admitted
from tachyon.exchange.client_orders import ClientOrders
from tachyon.exchange.commands import (
    AccountCommand,
    AddMarket,
    AdminCommand,
    AmendOrder,
    CancelAll,
    CancelClientOrder,
    CancelOrder,
    CreditPayment,
    Deposit,
    DisputePayment,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    RefundPayment,
    RegisterToken,
    RequestWithdrawal,
    SetFees,
    SetReceiveWindow,
    Tick,
    Withdraw,
)
from tachyon.exchange.events import (
    CommandRefused,
    Event,
    OrderCancelled,
    PaymentCredited,
    PaymentReversed,
    ReceiveWindowSet,
)
from tachyon.exchange.nonces import RECEIVE_WINDOW_MS_DEFAULT, Nonces, check_window_ms
from tachyon.exchange.payments import Payment
from tachyon.exchange.risk import MarketRules
from tachyon.exchange.service import CancelledOrders, DexService, Placement, StopOrder
from tachyon.exchange.venue import Venue
from tachyon.exchange.withdrawals import Withdrawal
from tachyon.ledger.ledger import BalanceRecord, TokenMeta

Outcome = (
    Placement | StopOrder | CancelledOrders | BalanceRecord | Withdrawal | list[OrderId] | None
)
"""What applying a command gave: a placement or cancellation, a stop order accepted or
cancelled, a mass cancel's cancellations, a balance after a deposit, a withdrawal or a card
payment's credit, refund or dispute step (None if the step moved nothing), a withdrawal with a
destination as requested or closed, the orders a fee change cancelled, or nothing
(registrations, settings, a clock tick)."""

_encoder: Final = msgspec.msgpack.Encoder()


@final
@dataclass(frozen=True, slots=True)
class Refusal:
    """What `Exchange.apply` gives for a signed command whose body the state machine refused:
    its nonce is used and its sequence number taken (the host journals it as `Refused`), the
    rest of the state is as it was, and `error` is what its caller is told."""

    error: TachyonError


class Applied(NamedTuple):
    """A command's outcome (or the `Refusal` of a signed command's body) and the ordered
    events of the change it made."""

    outcome: Outcome | Refusal
    events: list[Event]


class Exchange:
    """A `DexService` plus what deterministic replay needs: last sequence, time and nonces."""

    __slots__ = ("client_orders", "nonces", "seq", "service", "ts_ns", "venue")

    def __init__(self, service: DexService | None = None) -> None:
        """A fresh exchange has the default BASE/USDC market, as a fresh `DexService` does,
        and the default receive window (`RECEIVE_WINDOW_MS_DEFAULT`, a minute)."""
        self.service = DexService() if service is None else service
        self.seq = 0  # the last applied command's sequence number
        self.ts_ns = 0  # and its timestamp
        self.nonces = Nonces(RECEIVE_WINDOW_MS_DEFAULT)
        self.venue = Venue()  # the operator and each market's rules and risk limits
        self.client_orders = ClientOrders()  # each account's recent client order ids

    def apply(self, admitted: Admitted, seq: int, ts_ns: int) -> Outcome | Refusal:
        """`execute`'s outcome, for a caller that needs no events."""
        return self.execute(admitted, seq, ts_ns).outcome

    def execute(self, admitted: Admitted, seq: int, ts_ns: int) -> Applied:
        """Apply the admitted command numbered `seq` at `ts_ns`: its outcome (or the Refusal
        of a signed command's body, whose only event is `CommandRefused`) and its events. A
        command that raises (a nonce outside the window or used already, an unsigned command
        refused) has changed nothing and leaves `seq` where it was, so the caller may reuse the
        number."""
        assert seq == self.seq + 1, f"command {seq} applied after {self.seq}"
        assert ts_ns >= self.ts_ns, f"command {seq} is older than command {self.seq}"
        command = admitted.command
        kind = type(command)
        nonce = 0
        applied: Applied
        if kind is not Tick and self.tick_due(ts_ns):
            raise TickDue(
                f"a good-till-date order expires at or before {ts_ns}: apply a Tick first"
            )
        if kind in _ACCOUNT_KINDS:  # isinstance costs seven times more on structs
            account, nonce = command.account, command.nonce  # type: ignore[union-attr]
            if nonce:
                self.nonces.check(account, nonce, ts_ns)  # type: ignore[arg-type]
        try:
            if kind in _DEBT_BARRED and account in self.service.debtors:
                self._refuse_debtor(command, ts_ns)  # type: ignore[arg-type]
            if kind in _ORDER_KINDS and self.venue.rules:
                applied = self._place_by_the_rules(command)  # type: ignore[arg-type]
            elif kind in _LIFECYCLE:
                outcome, events = _LIFECYCLE[kind](self, command, ts_ns)
                applied = Applied(outcome, events)
            elif kind in _ADMIN_KINDS:
                outcome, events = self.venue.apply_admin(self.service, command)  # type: ignore[arg-type]
                applied = Applied(outcome, events)
            elif kind in _UNSIGNED_ADMIN_KINDS:
                self.venue.check_unsigned_admin(kind.__name__)
                if kind is SetReceiveWindow:
                    applied = self._set_receive_window(command)  # type: ignore[arg-type]
                else:
                    applied = _APPLY[kind](self.service, command)
            else:
                applied = _APPLY[kind](self.service, command)
            if kind in _TRADING_KINDS and self.service.has_stops():
                applied = Applied(applied.outcome, lifecycle.fire_stops(self, applied.events))
        except TachyonError as exc:
            if admitted.signed is None:
                raise
            # The nonce is used all the same: the bytes never apply.
            refused = CommandRefused(account, nonce, exc.code, str(exc))  # type: ignore[arg-type]
            applied = Applied(Refusal(exc), [refused])
        if nonce:
            self.nonces.use(account, nonce, ts_ns)  # type: ignore[arg-type]
        self.seq = seq
        self.ts_ns = ts_ns
        return applied

    def _place_by_the_rules(self, command: PlaceLimit | PlaceMarket) -> Applied:
        """An order on a market the operator set rules for: the risk stage first
        (`lifecycle.place_judged`), which refuses before anything is locked."""
        rules = self.venue.rules.get(command.market)  # type: ignore[call-overload]
        if rules is None:
            return _APPLY[type(command)](self.service, command)
        service = self.service
        owner = AccountId(command.account)
        order: lifecycle.JudgedOrder
        if type(command) is PlaceLimit:
            order = (command.side, command.price, command.qty, None, command.tif)
            place = partial(_limit, service, command)
        else:
            assert type(command) is PlaceMarket
            order = (command.side, None, command.qty, command.max_quote, TimeInForce.IOC)
            place = partial(_market, service, command)
        market = command.market
        return _placed(lifecycle.place_judged(service, rules, owner, market, order, place))

    def _refuse_debtor(self, command: AccountCommand, now_ns: int) -> None:
        """AccountInDebt: an account that owes a reversed card payment places no order and
        withdraws nothing until a credit settles its debt; it may cancel, and an amend that
        only lowers an order's quantity at its price is a partial cancel."""
        if type(command) is AmendOrder and command.price is None and command.qty is not None:
            owned = self.service.get_order(lifecycle.amended_order_id(self, command, now_ns))
            if owned is not None and command.qty < owned.order.qty:
                return
        owes = self.service.debts(AccountId(command.account))
        decimals = {meta.symbol: meta.decimals for meta in self.service.tokens()}
        debt = ", ".join(
            f"{to_decimal(amount, decimals[token])} {token}" for token, amount in owes.items()
        )
        raise AccountInDebt(
            f"account {command.account} owes {debt} (a reversed card payment): it may not place"
            " orders or withdraw until a deposit settles it; nothing was changed"
        )

    def tick_due(self, now_ns: int) -> bool:
        """Whether a good-till-date order expires at or before `now_ns`: a host then applies
        a `Tick` at that time before anything else (and `execute` refuses anything else)."""
        at = self.service.next_expiry()
        return at is not None and at <= now_ns

    def _tick(self, command: Tick, now_ns: int) -> tuple[None, list[Event]]:
        return None, self.service.expire(now_ns)

    def _amend(self, command: AmendOrder, now_ns: int) -> tuple[Placement, list[Event]]:
        """An amend, judged as the order it makes (`risk.check_amend`) on a market with rules;
        one the service refuses anyway (not open, not the account's, nothing to change, a
        total not above what is done) goes to it unjudged, for its own error."""
        service = self.service
        order_id = lifecycle.amended_order_id(self, command, now_ns)
        owned = service.get_order(order_id)
        rules = None if owned is None else self.venue.rules.get(owned.market)
        if owned is not None and rules is not None and owned.order.owner == command.account:
            order = owned.order
            price = order.price if command.price is None else command.price
            qty = order.qty if command.qty is None else command.qty
            open_qty = qty - (order.qty - order.remaining_qty)
            if price > 0 and open_qty > 0:
                amend = (order.side, price, qty, open_qty, order.price, order.remaining_qty)
                config = service.get_market(owned.market)
                risk.check_amend(service, rules, AccountId(command.account), config, amend)
        placement = service.amend(
            command.account,  # type: ignore[arg-type]
            order_id,
            command.price,
            command.qty,
            stp=command.stp,
        )
        return placement, placement.events

    def _set_receive_window(self, command: SetReceiveWindow) -> Applied:
        check_window_ms(command.window_ms)
        self.nonces.window_ms = command.window_ms
        return Applied(None, [ReceiveWindowSet(command.window_ms)])

    @property
    def receive_window_ms(self) -> int:
        """How far (ms) a nonce may lie from its command's time; set by `SetReceiveWindow`."""
        return self.nonces.window_ms

    def market_rules(self) -> dict[MarketId, MarketRules]:
        """Every market's rules as the operator set them (`Venue`), with its engine's name."""
        service, venue = self.service, self.venue
        return {
            config.market_id: replace(
                venue.rules_of(config.market_id), engine=service.engine_of(config.market_id)
            )
            for config in service.markets()
        }

    def last_nonce(self, account: AccountId) -> int:
        """The highest nonce `account` used, or its floor; 0 if it never used one."""
        return self.nonces.last(account)

    # -- state -----------------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        state: dict[str, object] = {
            "seq": self.seq,
            "ts_ns": self.ts_ns,
            "receive_window_ms": self.nonces.window_ms,
            "nonces": self.nonces.to_state(),
            "service": self.service.to_state(),
        }
        venue = self.venue.to_state()
        if venue:  # only once configured: an exchange without an operator keeps its bytes
            state["venue"] = venue
        if self.client_orders:  # likewise, once an order named itself
            state["client_orders"] = self.client_orders.to_state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Exchange:
        """Rebuild from `to_state` output, holding every invariant of `check_invariants` (the
        service checks its own as it loads); AssertionError if it does not."""
        exchange = cls(DexService.from_state(state["service"]))
        exchange.seq = int(state["seq"])
        exchange.ts_ns = int(state["ts_ns"])
        # Snapshots before format 3 have no window (the default's) and one last nonce each.
        window_ms = state.get("receive_window_ms", RECEIVE_WINDOW_MS_DEFAULT)
        exchange.nonces = Nonces.from_state(window_ms, state["nonces"])
        exchange.venue = Venue.from_state(state.get("venue", {}))
        exchange.client_orders = ClientOrders.from_state(state.get("client_orders", []))
        return exchange

    def state_bytes(self) -> bytes:
        """The whole state, canonically encoded (msgpack, deterministic order)."""
        return _encoder.encode(self.to_state())

    def state_hash(self) -> str:
        return state_hash_of(self.state_bytes())

    def check_invariants(self) -> None:
        """The service's invariants and the nonces'; and no order rests past its expiry."""
        self.service.check_invariants()
        self.nonces.check_invariants()
        expiry = self.service.next_expiry()
        assert expiry is None or expiry > self.ts_ns, f"an order rests past its expiry {expiry}"


def state_hash_of(state_bytes: bytes) -> str:
    """The hex SHA-256 of canonical state bytes: two states are equal iff their hashes are."""
    return hashlib.sha256(state_bytes).hexdigest()


def decode_state(state_bytes: bytes) -> Exchange:
    """The exchange that `state_bytes` encodes (ValueError or AssertionError if they do not
    hold together)."""
    state = msgspec.msgpack.decode(state_bytes)
    if not isinstance(state, dict):
        raise ValueError("exchange state must be a map")
    return Exchange.from_state(state)


# The dispatchers hand the service a command's fields as they are: the ids are the plain
# strings and ints the command holds, and a NewType call (`AccountId(...)`) is a Python-level
# call in 3.11, which the busiest commands would pay twice each.


def _placed(placement: Placement) -> Applied:
    return Applied(placement, placement.events)


def _place_limit(service: DexService, command: PlaceLimit) -> Applied:
    return _placed(_limit(service, command, command.qty))


def _limit(service: DexService, command: PlaceLimit, _qty: int | None) -> Placement:
    """`command`'s placement (the risk stage never changes a limit order's quantity)."""
    return service.place_limit(
        command.account,  # type: ignore[arg-type]
        command.side,
        command.price,
        command.qty,
        market=command.market,  # type: ignore[arg-type]
        tif=command.tif,
        post_only=command.post_only,
        stp=command.stp,
    )


def _market(service: DexService, command: PlaceMarket, qty: int | None) -> Placement:
    """`command`'s placement for `qty` (what the price band leaves of its quantity)."""
    return service.place_market(
        command.account,  # type: ignore[arg-type]
        command.side,
        qty,
        market=command.market,  # type: ignore[arg-type]
        max_quote=command.max_quote,
        stp=command.stp,
    )


def _cancel(service: DexService, command: CancelOrder) -> Applied:
    if service.is_stop(command.order_id):  # type: ignore[arg-type]
        stop = service.cancel_stop(command.account, command.order_id)  # type: ignore[arg-type]
        return Applied(stop, stop.events)
    return _placed(service.cancel(command.account, command.order_id))  # type: ignore[arg-type]


def _cancel_all(service: DexService, command: CancelAll) -> Applied:
    cancelled = service.cancel_all(
        command.account,  # type: ignore[arg-type]
        None if command.market is None else MarketId(command.market),
        command.side,
    )
    return Applied(cancelled, cancelled.events)


def _place_market(service: DexService, command: PlaceMarket) -> Applied:
    return _placed(_market(service, command, command.qty))


def _deposit(service: DexService, command: Deposit) -> Applied:
    account, token = AccountId(command.account), TokenId(command.token)
    events = service.deposit(account, token, command.amount)
    return Applied(service.balance(account, token), events)


def _request_withdrawal(service: DexService, command: RequestWithdrawal) -> Applied:
    return Applied(
        *service.request_withdrawal(
            AccountId(command.account), TokenId(command.token), command.amount, command.destination
        )
    )


def _withdraw(service: DexService, command: Withdraw) -> Applied:
    account, token = AccountId(command.account), TokenId(command.token)
    events = service.withdraw(account, token, command.amount)
    return Applied(service.balance(account, token), events)


def _credit_payment(service: DexService, command: CreditPayment) -> Applied:
    account, token = AccountId(command.to), TokenId(command.token)
    payment = Payment(
        command.session_id,
        command.payment_intent_id,
        account,
        token,
        command.amount,
        command.currency,
        command.currency_amount,
    )
    events = service.credit_payment(payment, command.event_id)
    return Applied(service.balance(account, token), events)


def _refund_payment(service: DexService, command: RefundPayment) -> Applied:
    events = service.refund_payment(
        command.payment_intent_id, command.currency, command.amount_refunded, command.event_id
    )
    return Applied(_balance_after(service, events), events)


def _dispute_payment(service: DexService, command: DisputePayment) -> Applied:
    events = service.dispute_payment(
        command.payment_intent_id,
        command.currency,
        command.dispute_id,
        command.amount,
        command.status,
        command.event_id,
    )
    return Applied(_balance_after(service, events), events)


def _balance_after(service: DexService, events: list[Event]) -> BalanceRecord | None:
    """The balance a payment's reversal moved (None: it moved nothing)."""
    for event in events:
        if type(event) is PaymentReversed or type(event) is PaymentCredited:
            return service.balance(event.account, event.token)
    return None


def _set_fees(service: DexService, command: SetFees) -> Applied:
    events = service.set_fees(MarketId(command.market), _fees(command))
    cancelled = [event.order_id for event in events if type(event) is OrderCancelled]
    return Applied(cancelled, events)


def _add_market(service: DexService, command: AddMarket) -> Applied:
    return Applied(None, service.add_market(_market_config(command)))


def _register_token(service: DexService, command: RegisterToken) -> Applied:
    return Applied(
        None, service.register_token(TokenMeta(TokenId(command.symbol), command.decimals))
    )


# How each kind of command changes the service, by exact type: a dict lookup, where a `match`
# on classes costs an isinstance per case. A signed command is applied as its body.
# (`SetReceiveWindow` changes the exchange itself: `Exchange._set_receive_window`.)
_APPLY: Final[dict[type[Any], Callable[[DexService, Any], Applied]]] = {
    PlaceLimit: _place_limit,
    CancelOrder: _cancel,
    CancelAll: _cancel_all,
    PlaceMarket: _place_market,
    Deposit: _deposit,
    Withdraw: _withdraw,
    RequestWithdrawal: _request_withdrawal,
    CreditPayment: _credit_payment,
    RefundPayment: _refund_payment,
    DisputePayment: _dispute_payment,
    SetFees: _set_fees,
    AddMarket: _add_market,
    RegisterToken: _register_token,
}
_ACCOUNT_KINDS: Final = frozenset(get_args(AccountCommand))
_ADMIN_KINDS: Final = frozenset(get_args(AdminCommand))
_UNSIGNED_ADMIN_KINDS: Final = frozenset({RegisterToken, AddMarket, SetFees, SetReceiveWindow})
_ORDER_KINDS: Final = frozenset({PlaceLimit, PlaceMarket})
# What an account in debt may not do (`Exchange._refuse_debtor`).
_DEBT_BARRED: Final = frozenset(
    {PlaceLimit, PlaceMarket, PlaceOrder, PlaceStop, AmendOrder, Withdraw, RequestWithdrawal}
)
# The commands `tachyon.exchange.lifecycle` applies (they read the exchange's client order ids
# and the command's time), and the commands whose fills may trigger stops.
_LIFECYCLE: Final[dict[type[Any], Callable[[Exchange, Any, int], tuple[Any, list[Event]]]]] = {
    PlaceOrder: lifecycle.place_order,
    PlaceStop: lifecycle.place_stop,
    CancelClientOrder: lifecycle.cancel_client_order,
    AmendOrder: Exchange._amend,
    Tick: Exchange._tick,
}
_TRADING_KINDS: Final = frozenset({PlaceLimit, PlaceMarket, PlaceOrder, AmendOrder})


def _fees(command: SetFees | AddMarket) -> FeeSchedule:
    fee_token = None if command.fee_token is None else TokenId(command.fee_token)
    return FeeSchedule(
        command.maker_bps, command.taker_bps, fee_token, AccountId(command.fee_account)
    )


def _market_config(command: AddMarket) -> MarketConfig:
    return MarketConfig(
        TokenId(command.base),
        TokenId(command.quote),
        command.tick_size,
        command.lot_size,
        command.min_qty,
        command.base_decimals,
        command.quote_decimals,
        _fees(command),
    )

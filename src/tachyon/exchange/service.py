"""DexService: many markets, each an `OrderBookEngine`, settled against one `TokenLedger`.

Pure: no I/O, no clock, no randomness. The seed's wallet flow for many owners: lock funds
up-front, match, settle each fill atomically with maker/taker fees, release what an order no
longer needs. After every call each owner's locked funds equal exactly what their open orders
still need (`check_invariants`). A call that raises has changed nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, Final, NamedTuple, NoReturn

import msgspec

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.engine_spec import check_amend, check_limit_options, check_market_options
from tachyon.dex.events import EngineResult, Reduced
from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import (
    DEFAULT_MARKET,
    STP_DEFAULT,
    BookDepth,
    FeeSchedule,
    MarketConfig,
    Order,
    OrderStatus,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)
from tachyon.dex.units import BPS_DENOMINATOR, QTY_MAX
from tachyon.dex.validation import (
    reject_choice,
    validate_limit,
    validate_market,
    validate_price,
)
from tachyon.errors import (
    AlreadyExists,
    InvalidConfig,
    InvalidInput,
    InvalidOrder,
    MarketNotFound,
    OrderNotFound,
    OrderNotOwned,
)
from tachyon.exchange.engines import (
    DEFAULT_ENGINE,
    engine_capabilities,
    engine_factory,
    engine_loader,
)
from tachyon.exchange.events import (
    CancelReason,
    DebtSettled,
    Deposited,
    Event,
    FeesChanged,
    Filled,
    MarketAdded,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    PaymentCredited,
    PaymentReversed,
    StopAccepted,
    StopCancelled,
    TokenRegistered,
    WithdrawalClosed,
    WithdrawalRequested,
    Withdrawn,
)
from tachyon.exchange.payments import Payment, Payments, Reversal
from tachyon.exchange.withdrawals import (
    COMPLETED,
    DESTINATION_MAX,
    REFERENCE_MAX,
    REJECTED,
    Withdrawal,
    Withdrawals,
    check_text,
)
from tachyon.ledger.ledger import (
    HOLD_CELL,
    HOLD_FILLED,
    HOLD_IS_BID,
    HOLD_LOCKED,
    HOLD_MARKET,
    HOLD_OWNER,
    HOLD_PRICE,
    HOLD_REMAINING,
    HOLD_TALLY,
    TALLY_BID_QTY,
    TALLY_ORDERS,
    BalanceRecord,
    Hold,
    SettlementTerms,
    TokenLedger,
    TokenMeta,
    fill_fees,
)

DEFAULT_MARKET_ID: Final = DEFAULT_MARKET.market_id

_BID: Final = Side.BID
_GTC: Final = TimeInForce.GTC
_NEW: Final = OrderStatus.NEW
_PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED
_FILLED: Final = OrderStatus.FILLED
_CANCELLED: Final = OrderStatus.CANCELLED
_CANCEL_MAKER: Final = SelfTradePrevention.CANCEL_MAKER
_ASK: Final = Side.ASK
_USER: Final = CancelReason.USER
_UNFILLED: Final = CancelReason.UNFILLED
_SELF_TRADE: Final = CancelReason.SELF_TRADE
_FEES: Final = CancelReason.FEES
_EXPIRED: Final = CancelReason.EXPIRED


class Placement(msgspec.Struct, frozen=True, gc=False):
    """What placing (or cancelling) an order did, in its market: a summary, and the `events`.

    The events are assembled when read, from what the call recorded here: the order (owner,
    side, price, quantity), the market's rules when it traded (`config`, immutable: its fees
    give each fill's fees by `fill_fees`, as settlement charged them), what the last maker has
    left (`last_maker_remaining`: every maker before it is filled), the self-trade events with
    their place among the fills (`reduced`), why an unfilled rest was cancelled (`cause`), and
    what an earlier maker left open (`makers_left`: an iceberg that refilled).
    Building an event struct costs about as much as the whole of an order's matching; a caller
    that never reads them (most library use, the benchmarks) does not pay for them, and one that
    does (the host, for the journal's observers) gets the same values every time.

    A frozen struct, as `Trade` is: every order answers with one, and a struct costs half what a
    named tuple does to build and is never tracked by the garbage collector. `placed` is False
    for a cancel's answer, whose `qty` is what the cancel took off the book. A placement a node
    answered with (`tachyon.client`) is a summary: no owner or side, so no events."""

    order_id: OrderId
    trades: list[Trade]
    status: OrderStatus
    filled_qty: int
    open_qty: int
    market: MarketId
    owner: AccountId | None = None
    side: Side | None = None
    price: int | None = None
    qty: int | None = None
    placed: bool = True
    cause: CancelReason | None = None
    config: MarketConfig | None = None
    last_maker_remaining: int = 0
    reduced: Sequence[tuple[int, Event]] = ()
    amended: tuple[int, int, bool] | None = None  # an amend's: (old price, old open qty, kept)
    makers_left: dict[int, int] | None = None  # by trade id: an earlier maker still open

    @property
    def events(self) -> list[Event]:
        """What the call did, in order (see `tachyon.exchange.events`)."""
        market, order_id, owner, side, price = (
            self.market,
            self.order_id,
            self.owner,
            self.side,
            self.price,
        )
        if owner is None or side is None:
            return []  # a summary: the events stayed with the exchange that made them
        if not self.placed:
            assert self.qty is not None and self.cause is not None
            return [
                OrderCancelled(
                    market, order_id, owner, side, price, self.qty, self.filled_qty, self.cause
                )
            ]
        events: list[Event] = [
            OrderAccepted(market, order_id, owner, side, price, self.qty)
            if self.amended is None
            else _amended_event(self)
        ]
        trades, config = self.trades, self.config
        for trade in trades:
            assert config is not None, "a placement that traded records its market's rules"
            maker_fee, taker_fee = fill_fees(config, trade.price, trade.qty)
            if trade is trades[-1]:
                remaining = self.last_maker_remaining
            else:  # filled, unless an iceberg refilled at the back of its level
                left = self.makers_left
                remaining = 0 if left is None else left.get(trade.trade_id, 0)
            events.append(Filled(market, trade, maker_fee, taker_fee, remaining))
        for shift, (after, event) in enumerate(self.reduced, start=1):
            events.insert(shift + after, event)  # after the acceptance and `after` fills
        if self.open_qty:
            assert price is not None and self.qty is not None, "only a limit order rests"
            events.append(
                OrderRested(
                    market, order_id, owner, side, price, self.qty, self.open_qty, self.filled_qty
                )
            )
        elif self.cause is not None:
            unfilled = 0 if self.qty is None else self.qty - self.filled_qty
            events.append(
                OrderCancelled(
                    market, order_id, owner, side, price, unfilled, self.filled_qty, self.cause
                )
            )
        return events


def _amended_event(placement: Placement) -> OrderAmended:
    assert placement.amended is not None and placement.owner is not None
    assert placement.side is not None and placement.price is not None
    assert placement.qty is not None
    old_price, old_open_qty, kept_priority = placement.amended
    return OrderAmended(
        placement.market,
        placement.order_id,
        placement.owner,
        placement.side,
        placement.price,
        placement.qty,
        old_price,
        old_open_qty,
        kept_priority,
    )


class CancelledOrders(msgspec.Struct, frozen=True, gc=False):
    """What a mass cancel did: each cancelled order's placement, oldest order first."""

    placements: list[Placement]

    @property
    def events(self) -> list[Event]:
        return [event for placement in self.placements for event in placement.events]


class StopOrder(msgspec.Struct, frozen=True, gc=False):
    """A stop order as accepted (`status` "pending"), cancelled ("cancelled") or triggered
    ("triggered"), with what it locks while pending and the events of the call."""

    order_id: OrderId
    market: MarketId
    owner: AccountId
    side: Side
    trigger_price: int
    price: int | None
    qty: int | None
    max_quote: int | None
    stp: SelfTradePrevention
    locked: int
    status: str = "pending"
    events: list[Event] = msgspec.field(default_factory=list)
    time_ns: int | None = None  # when it was accepted (the command's time; None: not given)


class OwnedOrder(NamedTuple):
    """An open order with its market and the funds it holds."""

    market: MarketId
    order: Order
    locked: int
    locked_token: TokenId


class _Market(SettlementTerms):
    """A market's engine and rules, with its settlement terms, flattened for the hot path."""

    __slots__ = (
        "buy_stops",
        "engine",
        "engine_name",
        "lot",
        "min_qty",
        "sell_stops",
        "tallies",
        "tick",
    )

    def __init__(
        self,
        config: MarketConfig,
        engine: OrderBookEngine,
        engine_name: str | None,
        ledger: TokenLedger,
    ) -> None:
        super().__init__(config, ledger)
        self.engine = engine
        self.engine_name = engine_name  # None: handed in, so it cannot be restored by name
        self.tick = config.tick_size
        self.lot = config.lot_size
        self.min_qty = config.min_qty
        self.tallies: dict[AccountId, _Tally] = {}  # by owner
        # Pending stops as heaps, nearest trigger first: (trigger, id) for bids, which fire as
        # the last trade rises to them, (-trigger, id) for asks; entries of stops that left
        # (cancelled) are dropped when they come up.
        self.buy_stops: list[tuple[int, OrderId]] = []
        self.sell_stops: list[tuple[int, OrderId]] = []


# An open order's settlement record is the ledger's `Hold`: [owner, market, is a bid, price,
# remaining qty, funds it holds (quote for bids, base for asks), qty filled, the owner's ledger
# cell of the held token, the owner's tally on the market]. Short names for its slots:
_OWNER, _MARKET, _IS_BID, _PRICE = HOLD_OWNER, HOLD_MARKET, HOLD_IS_BID, HOLD_PRICE
_REMAINING, _LOCKED, _FILLED_QTY, _CELL = HOLD_REMAINING, HOLD_LOCKED, HOLD_FILLED, HOLD_CELL
_TALLY, _ORDERS, _BID_QTY = HOLD_TALLY, TALLY_ORDERS, TALLY_BID_QTY
_OpenOrder = Hold
# An owner's tally on one market: [its open orders there by id, their open bid quantity], kept
# as orders rest, fill and close, so that the risk stage counts them without a scan.
_Tally = list[Any]
_NO_TALLY: Final[_Tally] = [{}, 0]  # read-only: an owner with no orders on a market
# The two slots of a ledger cell (see `TokenLedger.holdings`).
_AVAILABLE, _HELD = 0, 1


class DexService:
    """The exchange facade: markets, balances, orders of many owners, fees."""

    __slots__ = (
        "_engine_name",
        "_expiring",
        "_expiry_heap",
        "_fee_accounts",
        "_ledger",
        "_markets",
        "_next_order_id",
        "_open",
        "_payments",
        "_stops",
        "_withdrawals",
        "debtors",
    )

    def __init__(
        self, *, engine: str = DEFAULT_ENGINE, default_market: MarketConfig | None = DEFAULT_MARKET
    ) -> None:
        """`engine` names the engine every market gets unless `add_market` is handed one."""
        engine_factory(engine)  # refuse an unknown name now, not at the first market
        self._engine_name = engine
        self._ledger = TokenLedger()
        self._markets: dict[MarketId, _Market] = {}
        self._open: dict[OrderId, _OpenOrder] = {}
        self._fee_accounts: set[AccountId] = set()
        self._next_order_id = OrderId(1)
        # Good-till-date orders: their times by id, and a heap of (time, id) to find the next
        # (an entry whose order closed first is dropped when it comes up).
        self._expiring: dict[OrderId, int] = {}
        self._expiry_heap: list[tuple[int, OrderId]] = []
        # Pending stop orders by id (so in the order they were accepted): [StopOrder, the
        # owner's ledger cell of the token it locks].
        self._stops: dict[OrderId, tuple[StopOrder, list[int]]] = {}
        self._withdrawals = Withdrawals()
        self._payments = Payments()
        # Accounts that owe a reversed card payment (the ledger's live map): a membership test
        # per order, so a plain attribute.
        self.debtors = self._ledger.debtors()
        if default_market is not None:
            self.add_market(default_market)

    @classmethod
    def with_engine(cls, engine: OrderBookEngine) -> DexService:
        """A service whose only market is `engine`'s (the seed's engine swap)."""
        service = cls(default_market=None)
        service.add_market(engine.config, engine)
        return service

    # -- markets and tokens ----------------------------------------------------------------

    def add_market(
        self,
        config: MarketConfig,
        engine: OrderBookEngine | None = None,
        *,
        engine_name: str | None = None,
    ) -> list[Event]:
        """Open a market, registering its tokens; its engine is `engine`, else the one named
        `engine_name`, else the service's configured kind."""
        if config.market_id in self._markets:
            raise AlreadyExists(f"market {config.market_id} already exists")
        # Check both tokens before registering either, so a refusal registers nothing.
        known = {meta.symbol: meta.decimals for meta in self._ledger.tokens()}
        for symbol, decimals in (
            (config.base, config.base_decimals),
            (config.quote, config.quote_decimals),
        ):
            if known.get(symbol, decimals) != decimals:
                raise AlreadyExists(
                    f"token {symbol} is registered with {known[symbol]} decimals, not {decimals}"
                )
        if engine is None:
            engine_name = engine_name or self._engine_name
            engine = engine_factory(engine_name)(config)
        elif engine.config.market_id != config.market_id:
            raise InvalidConfig(f"engine serves {engine.config.market_id}, not {config.market_id}")
        else:
            engine_name = None
        self._ledger.set_meta(TokenMeta(config.base, config.base_decimals))
        self._ledger.set_meta(TokenMeta(config.quote, config.quote_decimals))
        self._markets[config.market_id] = _Market(config, engine, engine_name, self._ledger)
        self._fee_accounts.add(config.fees.fee_account)
        return [MarketAdded(config)]

    def register_token(self, meta: TokenMeta) -> list[Event]:
        """Register a token that no market trades yet (so it can be deposited)."""
        self._ledger.set_meta(meta)
        return [TokenRegistered(meta.symbol, meta.decimals)]

    def get_market(self, market: MarketId) -> MarketConfig:
        return self._market(market).config

    def markets(self) -> list[MarketConfig]:
        return [self._markets[market_id].config for market_id in sorted(self._markets)]

    def tokens(self) -> list[TokenMeta]:
        return self._ledger.tokens()

    def engine_of(self, market: MarketId) -> str | None:
        """The name of the engine `market` runs on (None: one handed in)."""
        return self._market(market).engine_name

    def fee_accounts(self) -> list[AccountId]:
        """Every account that receives fees, in order."""
        return sorted(self._fee_accounts)

    def set_fees(self, market: MarketId, fees: FeeSchedule) -> list[Event]:
        """Change a market's fees. Open orders then hold what the new maker fee needs: excess is
        released; a shortfall is locked from available, or the order is cancelled if it cannot
        be (an `OrderCancelled` for `CancelReason.FEES` after the `FeesChanged`)."""
        state = self._market(market)
        if fees.fee_token not in (None, state.base, state.quote):
            raise InvalidConfig(
                f"fee token {fees.fee_token} is neither {state.base} nor {state.quote}"
            )
        state.set_fees(fees)
        self._fee_accounts.add(fees.fee_account)
        events: list[Event] = [FeesChanged(state.market_id, fees)]
        for order_id, order in list(self._open.items()):
            if order[_MARKET] is not state:
                continue
            need = state.need(order[_IS_BID], order[_PRICE], order[_REMAINING], state.hold_bps)
            locked, cell = order[_LOCKED], order[_CELL]
            if need > locked and cell[_AVAILABLE] < need - locked:
                state.engine.cancel(order_id)
                self._close(order_id, order)
                events.append(_cancelled(order_id, order, _FEES))
                continue
            # Hold exactly the new need: release the excess or lock the shortfall.
            cell[_AVAILABLE] -= need - locked
            cell[_HELD] += need - locked
            order[_LOCKED] = need
        return events

    # -- funds -----------------------------------------------------------------------------

    def deposit(self, owner: AccountId, token: TokenId, amount: int) -> list[Event]:
        """Credit `amount` minor units of `token` to `owner` (the seed's demo deposits); it
        settles the owner's debt of `token` first."""
        _check_account(owner)
        settled = self._ledger.credit(owner, token, amount)
        return self._settled(owner, token, settled, [Deposited(owner, token, amount)])

    def _settled(
        self, owner: AccountId, token: TokenId, settled: int, events: list[Event]
    ) -> list[Event]:
        """`events`, and a `DebtSettled` if a credit paid `settled` of the owner's debt."""
        if settled:
            left = self._ledger.debts(owner).get(token, 0)
            events.append(DebtSettled(owner, token, settled, left))
        return events

    # -- card payments (`tachyon.exchange.payments`) -------------------------------------------

    def credit_payment(self, payment: Payment, event_id: str) -> list[Event]:
        """Credit a card payment's account, once per checkout session (settling its debt of
        the token first); PaymentAlreadyApplied for a session credited already."""
        _check_account(payment.account, self._fee_accounts)
        self._payments.check_new(payment)
        account, token = payment.account, payment.token
        settled = self._ledger.credit(account, token, payment.amount)
        self._payments.add(payment)
        credited = PaymentCredited(
            account,
            token,
            payment.amount,
            "payment",
            payment.payment_intent_id,
            event_id,
            payment.session_id,
        )
        return self._settled(account, token, settled, [credited])

    def refund_payment(
        self, payment_intent_id: str, currency: str, amount_refunded: int, event_id: str
    ) -> list[Event]:
        """Debit a payment's account what its refunds added since the last (`Payments`)."""
        reversal = self._payments.refund(payment_intent_id, currency, amount_refunded)
        return self._reverse(reversal, "refund", event_id)

    def dispute_payment(
        self,
        payment_intent_id: str,
        currency: str,
        dispute_id: str,
        amount: int,
        status: str,
        event_id: str,
    ) -> list[Event]:
        """Debit a payment's account what a dispute takes, or credit back what one won."""
        reversal = self._payments.dispute(payment_intent_id, currency, dispute_id, amount, status)
        return self._reverse(reversal, "dispute", event_id)

    def _reverse(self, reversal: Reversal, reason: str, event_id: str) -> list[Event]:
        payment = reversal.payment
        account, token, intent = payment.account, payment.token, payment.payment_intent_id
        if reversal.debit:
            taken, owed = self._ledger.reverse(account, token, reversal.debit)
            return [
                PaymentReversed(
                    account, token, reversal.debit, taken, owed, reason, intent, event_id
                )
            ]
        if reversal.credit:
            settled = self._ledger.credit(account, token, reversal.credit)
            won = PaymentCredited(account, token, reversal.credit, "dispute_won", intent, event_id)
            return self._settled(account, token, settled, [won])
        return []

    def in_debt(self, owner: AccountId) -> bool:
        """Whether `owner` owes a reversed card payment (it may then not trade or withdraw)."""
        return self._ledger.in_debt(owner)

    def debts(self, owner: AccountId) -> dict[TokenId, int]:
        return self._ledger.debts(owner)

    def withdraw(self, owner: AccountId, token: TokenId, amount: int) -> list[Event]:
        """Debit `amount` from `owner`'s available balance; locked funds stay with their orders."""
        _check_account(owner)
        self._ledger.debit(owner, token, amount)
        return [Withdrawn(owner, token, amount)]

    def request_withdrawal(
        self, owner: AccountId, token: TokenId, amount: int, destination: str
    ) -> tuple[Withdrawal, list[Event]]:
        """Lock `amount` of `token` from `owner`'s available balance into a pending withdrawal
        to `destination` (see `tachyon.exchange.withdrawals`)."""
        _check_account(owner, self._fee_accounts)
        check_text(destination, "destination", DESTINATION_MAX)
        self._ledger.lock(owner, token, amount)
        withdrawal = self._withdrawals.add(owner, token, amount, destination)
        event = WithdrawalRequested(withdrawal.withdrawal_id, owner, token, amount, destination)
        return withdrawal, [event]

    def close_withdrawal(
        self, withdrawal_id: int, completed: bool, reference: str | None = None
    ) -> tuple[Withdrawal, list[Event]]:
        """Complete a pending withdrawal (its locked amount leaves the ledger) or reject it
        (the amount is available again); `reference` is the operator's note."""
        if reference is not None:
            check_text(reference, "reference", REFERENCE_MAX)
        if type(completed) is not bool:
            raise InvalidInput(f"completed {completed!r} must be true or false")
        pending = self._withdrawals.pending(withdrawal_id)
        account, token, amount = pending.account, pending.token, pending.amount
        if completed:
            self._ledger.spend_locked(account, token, amount)
        else:
            self._ledger.unlock(account, token, amount)
        closed = self._withdrawals.close(pending, COMPLETED if completed else REJECTED, reference)
        event = WithdrawalClosed(
            withdrawal_id, account, token, amount, closed.state, closed.reference
        )
        return closed, [event]

    def withdrawals(self, owner: AccountId | None = None) -> list[Withdrawal]:
        """Every withdrawal (of `owner`), oldest first, with its state."""
        return self._withdrawals.of(owner)

    def balance(self, owner: AccountId, token: TokenId) -> BalanceRecord:
        return self._ledger.balance(owner, token)

    def balances(self, owner: AccountId) -> dict[TokenId, BalanceRecord]:
        return self._ledger.balances(owner)

    @property
    def next_order_id(self) -> OrderId:
        """The id the next order (or stop order) will take."""
        return self._next_order_id

    @property
    def ledger(self) -> TokenLedger:
        """The ledger, for reading; change it only through this service."""
        return self._ledger

    # -- orders ----------------------------------------------------------------------------

    def place_limit(
        self,
        owner: AccountId,
        side: Side,
        price: int,
        qty: int,
        *,
        market: MarketId = DEFAULT_MARKET_ID,
        tif: TimeInForce = _GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = STP_DEFAULT,
        display_qty: int | None = None,
    ) -> Placement:
        """Lock what the order may spend, match it, settle each fill, release the excess. An
        iceberg (`display_qty`) locks for its whole quantity, as any order does."""
        state = self._markets.get(market) or self._market(market)
        if type(owner) is not str or not owner or owner in self._fee_accounts:
            _check_account(owner, self._fee_accounts)
        # Integers only in the lock; a failing one names the market's rules first (the engine
        # checks them and the options before anything changes).
        if type(qty) is not int or type(price) is not int:
            validate_limit(state.config, side, price, qty, tif, post_only, stp, display_qty)
        is_bid = side is _BID
        # `need` at the lock rate and at the maker rate (if it rests whole), inline.
        spend = price * qty // state.base_unit if is_bid else qty
        if is_bid is not state.fee_in_base:
            locked = spend + spend * state.lock_bps // BPS_DENOMINATOR
            need = spend + spend * state.hold_bps // BPS_DENOMINATOR
        else:
            locked = need = spend
        cell = (state.quote_cells if is_bid else state.base_cells).get(owner)
        if cell is None or not 0 < locked <= cell[_AVAILABLE]:
            order = (side, price, qty, tif, post_only, stp, display_qty)
            self._refuse_limit(state, owner, order, locked)
        result = state.engine.execute_limit(
            owner,
            side,
            price,
            qty,
            tif=tif,
            post_only=post_only,
            stp=stp,
            order_id=self._next_order_id,
            display_qty=display_qty,
        )
        order_id, trades, resting, reductions, _, stopped = result
        self._next_order_id = order_id + 1  # type: ignore[assignment]
        if trades or reductions:
            return self._after_taking(state, owner, side, price, qty, cell, locked, result)
        # Nothing crossed: the order rests whole (or, IOC or FOK, is cancelled whole).
        if resting:
            # It rests as a maker, so it holds what the maker fee needs.
            cell[_AVAILABLE] -= need
            cell[_HELD] += need
            tally = state.tallies.get(owner) or _tally_of(state, owner)
            record = [owner, state, is_bid, price, qty, need, 0, cell, tally]
            self._open[order_id] = record
            tally[_ORDERS][order_id] = record
            if is_bid:
                tally[_BID_QTY] += qty
            return Placement(
                order_id, trades, _NEW, 0, qty, state.market_id, owner, side, price, qty
            )
        cause = _SELF_TRADE if stopped else _UNFILLED
        market = state.market_id
        return Placement(
            order_id, trades, _CANCELLED, 0, 0, market, owner, side, price, qty, cause=cause
        )

    def place_market(
        self,
        owner: AccountId,
        side: Side,
        qty: int | None,
        *,
        market: MarketId = DEFAULT_MARKET_ID,
        max_quote: int | None = None,
        stp: SelfTradePrevention = STP_DEFAULT,
    ) -> Placement:
        """Take liquidity now; never rests. A bid locks what the book says `qty` costs (or
        `max_quote`, plus the taker fee) and cannot spend more; unused funds are released."""
        state = self._markets.get(market) or self._market(market)
        if type(owner) is not str or not owner or owner in self._fee_accounts:
            _check_account(owner, self._fee_accounts)
        if not (
            type(qty) is int
            and 0 < qty <= QTY_MAX
            and not qty % state.lot
            and qty >= state.min_qty
            and max_quote is None
            and type(side) is Side
            and (stp is STP_DEFAULT or type(stp) is SelfTradePrevention)
        ):
            validate_market(state.config, side, qty, max_quote, stp)
        is_bid = side is _BID
        engine = state.engine
        budget = asked = max_quote  # the engine may spend: a bid's own cap, or its estimate
        if not is_bid:
            assert qty is not None
            locked = state.need(False, 0, qty, state.taker_bps)
        else:
            if max_quote is None:
                assert qty is not None
                max_quote = engine.estimate_market_cost(side, qty)[1]
                # The estimate prices the levels the bid takes, in the order it takes them: it
                # bounds the spend unless cancel_maker lets the bid walk on past its own orders
                # (the others take no more than the estimate's quantity, or stop sooner).
                budget = (max_quote or None) if stp is _CANCEL_MAKER else None
            locked = (
                max_quote
                if state.fee_in_base
                else max_quote + max_quote * state.taker_bps // BPS_DENOMINATOR
            )
        cell = (state.quote_cells if is_bid else state.base_cells).get(owner)
        if cell is None or not 0 < locked <= cell[_AVAILABLE]:
            if locked:
                if state.engine_name is not None:  # an option the engine lacks, before funds
                    check_market_options(
                        engine_capabilities(state.engine_name),
                        state.engine_name,
                        side,
                        qty,
                        asked,
                        stp,
                    )
                self._refuse_lock(state, owner, is_bid, locked)
            # A bid for which the book has nothing to sell locks nothing and can fill nothing.
            cell = [0, 0]
        result = engine.execute_market(
            owner, side, qty, max_quote=budget, stp=stp, order_id=self._next_order_id
        )
        self._next_order_id = result[0] + 1  # type: ignore[assignment]
        return self._after_taking(state, owner, side, None, qty, cell, locked, result)

    def cancel(self, owner: AccountId, order_id: OrderId) -> Placement:
        """Cancel one of `owner`'s open orders and release what it holds (a pending stop:
        `cancel_stop`)."""
        record = self._open.get(order_id)
        if record is None:
            if order_id in self._stops:
                raise OrderNotFound(f"order {order_id} is a stop order: cancel it as one")
            raise OrderNotFound(f"order {order_id!r} is not open (unknown, filled or cancelled)")
        if record[_OWNER] != owner:
            raise OrderNotOwned(f"order {order_id} belongs to another account")
        market: _Market = record[_MARKET]
        if not market.engine.cancel(order_id):
            raise AssertionError(f"engine lost open order {order_id}")
        self._close(order_id, record)
        return Placement(
            order_id,
            [],
            _CANCELLED,
            record[_FILLED_QTY],
            0,
            market.market_id,
            owner,
            _BID if record[_IS_BID] else _ASK,
            record[_PRICE],
            record[_REMAINING],
            False,
            _USER,
        )

    def amend(
        self,
        owner: AccountId,
        order_id: OrderId,
        price: int | None = None,
        qty: int | None = None,
        *,
        stp: SelfTradePrevention = STP_DEFAULT,
    ) -> Placement:
        """Change one of `owner`'s open orders: its price, its total quantity (filled part
        included, Binance's rule), or both; None keeps what it is. A smaller quantity at the
        same price keeps its place; anything else goes to the back of the new level and
        matches first what crosses there (taking with `stp`), as a new order would. The lock
        follows: what the amended order may spend is checked before anything changes, and
        the order then holds exactly what its open quantity needs."""
        record = self._open.get(order_id)
        if record is None:
            raise OrderNotFound(f"order {order_id!r} is not open (unknown, filled or cancelled)")
        if record[_OWNER] != owner:
            raise OrderNotOwned(f"order {order_id} belongs to another account")
        if price is None and qty is None:
            raise InvalidOrder(f"an amend of order {order_id} needs a new price or qty")
        state: _Market = record[_MARKET]
        old_price, old_open = record[_PRICE], record[_REMAINING]
        is_bid = record[_IS_BID]
        side = _BID if is_bid else _ASK
        price, qty, open_qty = _amended(state, order_id, price, qty, stp)
        kept = price == old_price and open_qty < old_open
        # It may take at the new price (the lock rate); what it holds now counts toward that.
        locked = state.need(is_bid, price, open_qty, state.lock_bps)
        cell = record[_CELL]
        if locked > cell[_AVAILABLE] + record[_LOCKED]:
            self._refuse_lock(state, owner, is_bid, locked - record[_LOCKED])
        result = state.engine.amend(order_id, price, qty, stp=stp)  # refusals change nothing
        filled_before = record[_FILLED_QTY]
        market = state.market_id
        if kept:
            self._hold(record, open_qty)
            status = _PARTIALLY_FILLED if filled_before else _NEW
            return Placement(
                order_id, [], status, filled_before, open_qty, market, owner, side, price,
                qty, amended=(old_price, old_open, True),
            )  # fmt: skip
        expire_at = self._expiring.get(order_id)
        self._close(order_id, record)  # it releases all it held, then locks as a new order
        placement = self._after_taking(state, owner, side, price, open_qty, cell, locked, result)
        filled = filled_before + placement.filled_qty
        if placement.open_qty:
            self._open[order_id][_FILLED_QTY] = filled
            if expire_at is not None:  # the same order: its time stays
                self._expiring[order_id] = expire_at
        status = placement.status
        if status is _NEW and filled:
            status = _PARTIALLY_FILLED
        return msgspec.structs.replace(
            placement,
            status=status,
            filled_qty=filled,
            qty=qty,
            amended=(old_price, old_open, False),
        )

    def cancel_all(
        self, owner: AccountId, market: MarketId | None = None, side: Side | None = None
    ) -> CancelledOrders:
        """Cancel every open order of `owner` (on `market`, on `side`, when given), oldest
        first, releasing what each holds. A market that does not exist is refused."""
        _check_account(owner)
        states = list(self._markets.values()) if market is None else [self._market(market)]
        if side is not None and type(side) is not Side:
            reject_choice("side", side, Side)
        order_ids = sorted(
            order_id
            for state in states
            for order_id, record in state.tallies.get(owner, _NO_TALLY)[_ORDERS].items()
            if side is None or record[_IS_BID] is (side is _BID)
        )
        return CancelledOrders([self.cancel(owner, order_id) for order_id in order_ids])

    # -- good-till-date --------------------------------------------------------------------

    def place_order(
        self,
        owner: AccountId,
        side: Side,
        price: int | None,
        qty: int | None,
        *,
        market: MarketId = DEFAULT_MARKET_ID,
        max_quote: int | None = None,
        tif: TimeInForce = _GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = STP_DEFAULT,
        display_qty: int | None = None,
        expire_at_ns: int | None = None,
    ) -> Placement:
        """`place_limit` (a price) or `place_market` (None) with the options they lack: an
        iceberg's `display_qty`, and `expire_at_ns`, the time a resting (GTC) order is
        cancelled at (`expire`; the caller refuses a time already past)."""
        if price is None:
            if tif is not _GTC or post_only or display_qty is not None or expire_at_ns is not None:
                raise InvalidOrder(
                    "a market order (no price) takes no tif, post-only, display qty or expiry"
                )
            return self.place_market(owner, side, qty, market=market, max_quote=max_quote, stp=stp)
        if max_quote is not None:
            raise InvalidOrder("max_quote bounds a market bid; a limit order has a price")
        if expire_at_ns is not None:
            if type(expire_at_ns) is not int or expire_at_ns <= 0:
                raise InvalidOrder(f"expire_at_ns {expire_at_ns!r} must be a positive integer")
            if tif is not _GTC:
                raise InvalidOrder(f"a good-till-date order rests until its time: not {tif}")
        placement = self.place_limit(
            owner,
            side,
            price,
            qty,  # type: ignore[arg-type]
            market=market,
            tif=tif,
            post_only=post_only,
            stp=stp,
            display_qty=display_qty,
        )
        if expire_at_ns is not None and placement.open_qty:
            self._expiring[placement.order_id] = expire_at_ns
            heapq.heappush(self._expiry_heap, (expire_at_ns, placement.order_id))
        return placement

    def next_expiry(self) -> int | None:
        """The earliest time an open good-till-date order expires at (None: none does)."""
        heap, expiring = self._expiry_heap, self._expiring
        while heap and expiring.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # its order closed before its time
        return heap[0][0] if heap else None

    def expire(self, now_ns: int) -> list[Event]:
        """Cancel every good-till-date order whose time is at or before `now_ns`, earliest
        first (then by id): an `OrderCancelled` (reason `expired`) each."""
        events: list[Event] = []
        heap = self._expiry_heap
        while (at := self.next_expiry()) is not None and at <= now_ns:
            order_id = heapq.heappop(heap)[1]
            record = self._open[order_id]
            if not record[_MARKET].engine.cancel(order_id):
                raise AssertionError(f"engine lost open order {order_id}")
            self._close(order_id, record)
            events.append(_cancelled(order_id, record, _EXPIRED))
        return events

    def expiry_of(self, order_id: OrderId) -> int | None:
        """When an open good-till-date order expires (None: not one)."""
        return self._expiring.get(order_id)

    # -- stop orders -----------------------------------------------------------------------

    def place_stop(
        self,
        owner: AccountId,
        side: Side,
        trigger_price: int,
        price: int | None,
        qty: int | None,
        *,
        market: MarketId = DEFAULT_MARKET_ID,
        max_quote: int | None = None,
        stp: SelfTradePrevention = STP_DEFAULT,
        time_ns: int | None = None,
    ) -> StopOrder:
        """Accept a stop order and lock what the order it becomes may spend: a stop-limit what
        its limit order locks, a stop-market ask its quantity, a stop-market bid its
        `max_quote` (required) with the taker fee. A stop whose condition already holds (the
        last trade at or beyond its trigger) is refused: it would trigger at once. `time_ns`:
        when it was accepted, kept with it (the caller's clock: the command's time)."""
        state = self._market(market)
        _check_account(owner, self._fee_accounts)
        config = state.config
        validate_price(config, trigger_price)
        if price is not None:
            if max_quote is not None:
                raise InvalidOrder("max_quote bounds a stop-market bid; this stop has a price")
            validate_limit(config, side, price, qty, _GTC, False, stp)
        else:
            validate_market(config, side, qty, max_quote, stp)
            if side is _BID and max_quote is None:
                raise InvalidOrder(
                    "a stop-market bid needs max_quote: the most it may spend, which it locks"
                )
        is_bid = side is _BID
        last = state.engine.top()[2]
        if last is not None and (last >= trigger_price if is_bid else last <= trigger_price):
            raise InvalidOrder(
                f"a {'buy' if is_bid else 'sell'} stop at {trigger_price} would trigger at once:"
                f" the last trade was at {last}; nothing was placed"
            )
        if price is not None:
            assert qty is not None
            locked = state.need(is_bid, price, qty, state.lock_bps)
        elif is_bid:
            assert max_quote is not None
            fee = 0 if state.fee_in_base else max_quote * state.taker_bps // BPS_DENOMINATOR
            locked = max_quote + fee
        else:
            assert qty is not None
            locked = qty
        token = state.quote if is_bid else state.base
        self._ledger.require_available(owner, token, locked)
        cell = (state.quote_cells if is_bid else state.base_cells)[owner]
        cell[_AVAILABLE] -= locked
        cell[_HELD] += locked
        order_id = self._next_order_id
        self._next_order_id = OrderId(order_id + 1)
        stop = StopOrder(
            order_id, state.market_id, owner, side, trigger_price, price, qty, max_quote, stp,
            locked, time_ns=time_ns,
        )  # fmt: skip
        self._add_stop(state, stop, cell)
        accepted = StopAccepted(
            stop.market, order_id, owner, side, trigger_price, price, qty, max_quote
        )
        return msgspec.structs.replace(stop, events=[accepted])

    def cancel_stop(self, owner: AccountId, order_id: OrderId) -> StopOrder:
        """Cancel one of `owner`'s pending stop orders and release what it locks."""
        entry = self._stops.get(order_id)
        if entry is None:
            raise OrderNotFound(f"stop order {order_id!r} is not pending (unknown or done)")
        if entry[0].owner != owner:
            raise OrderNotOwned(f"order {order_id} belongs to another account")
        stop = self._release_stop(order_id)
        event = StopCancelled(stop.market, order_id, owner, stop.side, str(_USER))
        return msgspec.structs.replace(stop, status="cancelled", events=[event])

    def is_stop(self, order_id: OrderId) -> bool:
        return order_id in self._stops

    def stops(self, owner: AccountId | None = None) -> list[StopOrder]:
        """The pending stop orders (of `owner`), in the order they were accepted."""
        return [stop for stop, _ in self._stops.values() if owner in (None, stop.owner)]

    def has_stops(self) -> bool:
        return bool(self._stops)

    def triggered_stops(self, market: MarketId) -> list[tuple[StopOrder, int]]:
        """Take the stops of `market` whose trigger its last trade price has reached, in the
        order they were accepted, releasing what they lock (the caller places each): each
        with that price. Reads only the nearest triggers: nothing to fire costs two looks."""
        state = self._market(market)
        last = state.engine.top()[2]
        if last is None:
            return []
        fired: list[OrderId] = []
        stops, buys, sells = self._stops, state.buy_stops, state.sell_stops
        while buys and buys[0][0] <= last:
            if (order_id := heapq.heappop(buys)[1]) in stops:
                fired.append(order_id)
        while sells and -sells[0][0] >= last:
            if (order_id := heapq.heappop(sells)[1]) in stops:
                fired.append(order_id)
        fired.sort()  # in the order they were accepted
        return [(self._release_stop(order_id), last) for order_id in fired]

    def _add_stop(self, state: _Market, stop: StopOrder, cell: list[int]) -> None:
        self._stops[stop.order_id] = (stop, cell)
        if stop.side is _BID:
            heapq.heappush(state.buy_stops, (stop.trigger_price, stop.order_id))
        else:
            heapq.heappush(state.sell_stops, (-stop.trigger_price, stop.order_id))

    def _release_stop(self, order_id: OrderId) -> StopOrder:
        stop, cell = self._stops.pop(order_id)
        cell[_AVAILABLE] += stop.locked
        cell[_HELD] -= stop.locked
        return stop

    def get_order(self, order_id: OrderId) -> OwnedOrder | None:
        record = self._open.get(order_id)
        if record is None:
            return None
        return self._owned(order_id, record)

    def open_orders(self, owner: AccountId) -> list[OwnedOrder]:
        """`owner`'s open orders in every market, oldest first."""
        records = [
            item
            for state in self._markets.values()
            for item in state.tallies.get(owner, _NO_TALLY)[_ORDERS].items()
        ]
        records.sort(key=itemgetter(0))
        return [self._owned(oid, record) for oid, record in records]

    # -- market data -----------------------------------------------------------------------

    def open_order_count(self, owner: AccountId, market: MarketId) -> int:
        """How many orders `owner` has open on `market`."""
        return len(self._market(market).tallies.get(owner, _NO_TALLY)[_ORDERS])

    def exposure(self, owner: AccountId, market: MarketId = DEFAULT_MARKET_ID) -> tuple[int, int]:
        """`owner`'s position in `market`'s base token (`base_position`) and how many orders it
        has open on `market`: what the risk stage reads of an owner, in one call."""
        state = self._markets.get(market) or self._market(market)
        cell = state.base_cells.get(owner)
        held = cell[_AVAILABLE] + cell[_HELD] if cell else 0
        held += self._open_bid_qty(owner, state.base)
        return held, len(state.tallies.get(owner, _NO_TALLY)[_ORDERS])

    def base_position(self, owner: AccountId, token: TokenId) -> int:
        """`owner`'s holdings of `token` with what its open bids would buy: available and
        locked, plus the open quantity of its bids on every market whose base is `token`."""
        record = self._ledger.balance(owner, token)
        return record.available + record.locked + self._open_bid_qty(owner, token)

    def _open_bid_qty(self, owner: AccountId, base: TokenId) -> int:
        """The open quantity of `owner`'s bids on every market whose base is `base`."""
        total = 0  # a loop: sum() over a generator cost the risk stage ~1,900 instructions
        for state in self._markets.values():
            if state.base == base:
                total += state.tallies.get(owner, _NO_TALLY)[_BID_QTY]
        return total

    def snapshot(self, depth: int, market: MarketId = DEFAULT_MARKET_ID) -> BookDepth:
        return self._market(market).engine.snapshot(depth)

    def top(
        self, market: MarketId = DEFAULT_MARKET_ID
    ) -> tuple[int | None, int | None, int | None]:
        """The market's best bid and ask prices and its last trade's price (None: none)."""
        return (self._markets.get(market) or self._market(market)).engine.top()

    def recent_trades(self, limit: int, market: MarketId = DEFAULT_MARKET_ID) -> list[Trade]:
        return self._market(market).engine.recent_trades(limit)

    def estimate_market_cost(
        self,
        side: Side,
        qty: int,
        market: MarketId = DEFAULT_MARKET_ID,
        limit_price: int | None = None,
    ) -> tuple[int, int]:
        return self._market(market).engine.estimate_market_cost(side, qty, limit_price)

    # -- state ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        """The whole service as plain values in a deterministic order (see `from_state`).
        Open orders' settlement records are not saved: they follow from the books, because
        every open order holds exactly what its remaining quantity needs."""
        markets: list[object] = []
        for market_id in sorted(self._markets):
            state = self._markets[market_id]
            if state.engine_name is None:
                raise InvalidConfig(
                    f"market {market_id}'s engine was handed in; it cannot be saved"
                )
            markets.append(
                [config_to_state(state.config), state.engine_name, state.engine.to_state()]
            )
        saved: dict[str, object] = {
            "engine": self._engine_name,
            "next_order_id": self._next_order_id,
            "fee_accounts": sorted(self._fee_accounts),
            "ledger": self._ledger.to_state(),
            "markets": markets,
        }
        # Only once used, so that an exchange without them keeps its bytes.
        if self._expiring:
            saved["expiries"] = sorted([oid, at] for oid, at in self._expiring.items())
        if self._stops:
            saved["stops"] = [stop_row(stop) for stop, _ in self._stops.values()]
        if self._withdrawals:
            saved["withdrawals"] = self._withdrawals.to_state()
        if self._payments:
            saved["payments"] = self._payments.to_state()
        return saved

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DexService:
        """Rebuild a service from `to_state` output whose integrity the caller has proven (a
        snapshot's hash). Raises KeyError, TypeError or ValueError on state that is not shaped
        like `to_state` output, AssertionError on state that breaks an invariant.

        The settlement records are derived from the books, so they agree with the books by
        construction; what is checked is what derivation cannot guarantee: conservation, each
        book's own invariants, and that the ledger locks exactly what the open orders need.
        The result then holds every invariant of `check_invariants`, at a fraction of its cost
        (opening a snapshot of 100,000 orders took half the time it took with that check)."""
        service = cls(engine=str(state["engine"]), default_market=None)
        ledger_state = state["ledger"]
        service._ledger = TokenLedger.from_state(
            ledger_state["tokens"], ledger_state["balances"], ledger_state.get("debts")
        )
        service.debtors = service._ledger.debtors()
        orders: list[tuple[OrderId, Order, _Market]] = []
        for config_state, engine_name, engine_state in state["markets"]:
            config = config_from_state(config_state)
            engine = engine_loader(engine_name)(config, engine_state)
            market = _Market(config, engine, engine_name, service._ledger)
            service._markets[config.market_id] = market
            orders.extend([(order.order_id, order, market) for order in engine.open_orders()])
        orders.sort(key=itemgetter(0))  # ids are unique; each market's run is sorted already
        locked_by: dict[tuple[AccountId, TokenId], int] = {}
        for order_id, order, market in orders:
            owner, is_bid, price, remaining = (
                order.owner,
                order.side is _BID,
                order.price,
                order.remaining_qty,
            )
            need = market.need(is_bid, price, remaining, market.hold_bps)
            cells = market.quote_cells if is_bid else market.base_cells
            tally = market.tallies.get(owner) or _tally_of(market, owner)
            filled = order.filled_qty
            record = [owner, market, is_bid, price, remaining, need, filled, cells[owner], tally]
            service._open[order_id] = record
            tally[_ORDERS][order_id] = record
            if is_bid:
                tally[_BID_QTY] += remaining
            key = (owner, market.quote if is_bid else market.base)
            locked_by[key] = locked_by.get(key, 0) + need
        for row in state.get("stops", ()):
            stop = stop_of_row(row)
            market = service._markets[stop.market]
            cells = market.quote_cells if stop.side is _BID else market.base_cells
            service._add_stop(market, stop, cells[stop.owner])
            key = (stop.owner, market.quote if stop.side is _BID else market.base)
            locked_by[key] = locked_by.get(key, 0) + stop.locked
        service._withdrawals = Withdrawals.from_state(state.get("withdrawals", [1, []]))
        service._payments = Payments.from_state(state.get("payments", [[], []]))
        for key, amount in service._withdrawals.locked_by().items():
            locked_by[key] = locked_by.get(key, 0) + amount
        service._ledger.check_conservation()
        service._check_locks(locked_by)
        for market in service._markets.values():
            market.engine.check_invariants()
        service._fee_accounts = {AccountId(account) for account in state["fee_accounts"]}
        service._next_order_id = OrderId(int(state["next_order_id"]))
        for order_id, at in state.get("expiries", ()):
            assert order_id in service._open, f"expiry of order {order_id}, which is not open"
            service._expiring[OrderId(order_id)] = int(at)
            service._expiry_heap.append((int(at), OrderId(order_id)))
        heapq.heapify(service._expiry_heap)
        return service

    # -- invariants ------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Assert conservation, engine consistency, and locked == what open orders need."""
        self._ledger.check_conservation()
        locked_by_orders: dict[tuple[AccountId, TokenId], int] = {}
        on_books = {
            order.order_id: order
            for state in self._markets.values()
            for order in state.engine.open_orders()
        }
        assert on_books.keys() == self._open.keys(), "open orders differ from the books"
        holdings = {token.symbol: self._ledger.holdings(token.symbol) for token in self.tokens()}
        for order_id, order in self._open.items():
            owner, state, is_bid, price, remaining, locked, filled, cell, tally = order
            need = state.need(is_bid, price, remaining, state.hold_bps)
            assert locked == need, f"order {order_id} holds {locked}, needs {need}"
            on_book = on_books[order_id]
            assert on_book.remaining_qty == remaining, f"order {order_id} remaining"
            assert on_book.filled_qty == filled, f"order {order_id} filled"
            token = state.quote if is_bid else state.base
            assert holdings[token][owner] is cell, f"order {order_id} ledger cell"
            assert state.tallies[owner] is tally and tally[_ORDERS][order_id] is order
            key = (owner, token)
            locked_by_orders[key] = locked_by_orders.get(key, 0) + need
        for stop, cell in self._stops.values():
            state = self._markets[stop.market]
            token = state.quote if stop.side is _BID else state.base
            assert holdings[token][stop.owner] is cell, f"stop {stop.order_id} ledger cell"
            key = (stop.owner, token)
            locked_by_orders[key] = locked_by_orders.get(key, 0) + stop.locked
        for key, amount in self._withdrawals.locked_by().items():
            locked_by_orders[key] = locked_by_orders.get(key, 0) + amount
        assert self._expiring.keys() <= self._open.keys(), "an expiry of an order not open"
        for state in self._markets.values():
            state.engine.check_invariants()
        self._check_locks(locked_by_orders)
        self._check_tallies()

    def _check_tallies(self) -> None:
        """Assert that each owner's tally on each market counts exactly its open orders there."""
        counted = 0
        for state in self._markets.values():
            for owner, (orders, bid_qty) in state.tallies.items():
                assert all(self._open[oid] is record for oid, record in orders.items())
                assert all(record[_OWNER] == owner for record in orders.values())
                bids = sum(record[_REMAINING] for record in orders.values() if record[_IS_BID])
                assert bid_qty == bids, f"{owner}'s open bid quantity on {state.market_id}"
                counted += len(orders)
        assert counted == len(self._open), "an open order is missing from its owner's tally"

    def _check_locks(self, locked_by_orders: dict[tuple[AccountId, TokenId], int]) -> None:
        """Assert that every account locks exactly what its open orders need, per token."""
        for token_meta in self._ledger.tokens():
            for account, record in self._ledger.accounts(token_meta.symbol).items():
                expected = locked_by_orders.get((account, token_meta.symbol), 0)
                assert record.locked == expected, (
                    f"{account} locks {record.locked} {token_meta.symbol}, orders need {expected}"
                )

    # -- settlement ------------------------------------------------------------------------

    def _refuse_limit(
        self,
        state: _Market,
        owner: AccountId,
        order: tuple[Side, int, int, TimeInForce, bool, SelfTradePrevention, int | None],
        locked: int,
    ) -> NoReturn:
        """Refuse a limit order its owner cannot lock `locked` for, naming first a rule it
        breaks, then an option its engine lacks, then the shortfall."""
        side, price, qty, tif, post_only, stp, display_qty = order
        validate_limit(state.config, side, price, qty, tif, post_only, stp, display_qty)
        name = state.engine_name
        if name is not None:  # an option the engine lacks, before the funds
            check_limit_options(engine_capabilities(name), name, tif, post_only, stp, display_qty)
        self._refuse_lock(state, owner, side is _BID, locked)

    def _refuse_lock(self, state: _Market, owner: AccountId, is_bid: bool, amount: int) -> NoReturn:
        """Refuse an order whose owner cannot lock `amount` of what it spends (quote for a bid,
        base for an ask), naming the shortfall or the bad amount as the ledger does."""
        self._ledger.require_available(owner, state.quote if is_bid else state.base, amount)
        raise AssertionError(f"{owner} has {amount} available, yet the fast check refused it")

    def _after_taking(
        self,
        state: _Market,
        owner: AccountId,
        side: Side,
        price: int | None,
        qty: int | None,
        cell: list[int],
        locked: int,
        result: EngineResult,
    ) -> Placement:
        """Settle the taker's fills, release what self-trade prevention took from its own
        resting orders, then record what rests (GTC only) and hold what it needs.

        The caller checked that the owner has `locked` available; the funds move only now, net
        of what the order spent (nothing runs in between, and a refused order moves nothing).
        """
        order_id, trades, open_qty, reductions, taker_cut, stopped = result
        is_bid = side is _BID
        spent = filled = last_maker_remaining = 0
        makers_left = None
        if trades:
            spent, filled, last_maker_remaining, makers_left = self._ledger.settle_fills(
                state, owner, is_bid, trades, self._open, self._close
            )
        reduced: Sequence[tuple[int, Event]] = ()
        if reductions:
            reduced = self._release_reduced(state, reductions)
        need = 0
        cause = None
        if open_qty:
            assert price is not None, "only a limit order rests"
            need = state.need(is_bid, price, open_qty, state.hold_bps)
            tally = state.tallies.get(owner) or _tally_of(state, owner)
            record = [owner, state, is_bid, price, open_qty, need, filled, cell, tally]
            self._open[order_id] = record
            tally[_ORDERS][order_id] = record
            if is_bid:
                tally[_BID_QTY] += open_qty
            status = _PARTIALLY_FILLED if filled else _NEW
        elif filled and (qty is None or filled == qty):
            status = _FILLED
        else:
            status = _CANCELLED
            cause = _SELF_TRADE if stopped or taker_cut else _UNFILLED
        assert spent + need <= locked, f"order {order_id} spent more than it locked"
        cell[_AVAILABLE] -= spent + need
        cell[_HELD] += need
        market = state.market_id
        return Placement(
            order_id,
            trades,
            status,
            filled,
            open_qty,
            market,
            owner,
            side,
            price,
            qty,
            True,
            cause,
            state.config,
            last_maker_remaining,
            reduced,
            None,
            makers_left,
        )

    def _release_reduced(
        self, state: _Market, reduced: Sequence[Reduced]
    ) -> list[tuple[int, Event]]:
        """Self-trade prevention shrank or cancelled these resting orders of the taker's owner:
        release their excess; their events, each with the number of fills before it."""
        market = state.market_id
        events: list[tuple[int, Event]] = []
        for reduction in reduced:
            order_id, remaining = reduction.order_id, reduction.remaining
            order = self._open[order_id]
            if remaining:
                self._hold(order, remaining)
                event: Event = OrderReduced(
                    market,
                    order_id,
                    reduction.owner,
                    reduction.side,
                    reduction.price,
                    remaining,
                    order[_FILLED_QTY],
                )
            else:
                self._close(order_id, order)
                event = _cancelled(order_id, order, _SELF_TRADE)
            events.append((reduction.after, event))
        return events

    @staticmethod
    def _hold(order: _OpenOrder, remaining: int) -> None:
        """Keep exactly what `remaining` needs locked for this open order; release the rest."""
        state: _Market = order[_MARKET]
        need = state.need(order[_IS_BID], order[_PRICE], remaining, state.hold_bps)
        excess = order[_LOCKED] - need
        assert excess >= 0, "an open order needs more than it holds"
        cell = order[_CELL]
        cell[_AVAILABLE] += excess
        cell[_HELD] -= excess
        if order[_IS_BID]:
            order[_TALLY][_BID_QTY] -= order[_REMAINING] - remaining
        order[_REMAINING] = remaining
        order[_LOCKED] = need

    def _close(self, order_id: OrderId, order: _OpenOrder, spent: int = 0) -> None:
        """Forget a filled or cancelled order: it spent `spent` of what it holds (its last fill)
        and releases the rest."""
        del self._open[order_id]
        if self._expiring:
            self._expiring.pop(order_id, None)
        tally = order[_TALLY]
        del tally[_ORDERS][order_id]
        if order[_IS_BID]:
            tally[_BID_QTY] -= order[_REMAINING]
        locked = order[_LOCKED]
        assert locked >= spent >= 0, f"order {order_id} spent more than it held"
        cell = order[_CELL]
        cell[_AVAILABLE] += locked - spent
        cell[_HELD] -= locked

    def _owned(self, order_id: OrderId, record: _OpenOrder) -> OwnedOrder:
        state: _Market = record[_MARKET]
        order = state.engine.get_order(order_id)
        assert order is not None
        token = state.quote if record[_IS_BID] else state.base
        return OwnedOrder(state.config.market_id, order, record[_LOCKED], token)

    def _market(self, market: MarketId) -> _Market:
        state = self._markets.get(market)
        if state is None:
            known = ", ".join(sorted(self._markets)) or "none"
            raise MarketNotFound(f"unknown market {market!r}; markets: {known}")
        return state


def _amended(
    state: _Market,
    order_id: OrderId,
    price: int | None,
    qty: int | None,
    stp: SelfTradePrevention,
) -> tuple[int, int, int]:
    """An amend's new price, total and open quantity (None keeps each as it is), refused
    unless the new order would be valid and its total exceeds what is done."""
    if state.engine_name is not None:  # an engine that cannot amend says so first
        check_amend(engine_capabilities(state.engine_name), state.engine_name)
    order = state.engine.get_order(order_id)
    assert order is not None, f"engine lost open order {order_id}"
    price = order.price if price is None else price
    qty = order.qty if qty is None else qty
    validate_limit(state.config, order.side, price, qty, _GTC, order.post_only, stp)
    done = order.qty - order.remaining_qty
    if qty - done <= 0:
        raise InvalidOrder(
            f"qty {qty} is order {order_id}'s new total, filled part included: it must"
            f" exceed the {done} it has done; nothing was changed"
        )
    return price, qty, qty - done


def _tally_of(state: _Market, owner: AccountId) -> _Tally:
    """`owner`'s tally on the market `state` (new and empty at first)."""
    return state.tallies.setdefault(owner, [{}, 0])


def stop_row(stop: StopOrder) -> list[object]:
    """A stop order as plain values (its snapshot row; `stop_of_row` reads it back)."""
    return [
        stop.order_id,
        stop.market,
        stop.owner,
        str(stop.side),
        stop.trigger_price,
        stop.price,
        stop.qty,
        stop.max_quote,
        str(stop.stp),
        stop.locked,
        stop.time_ns,
    ]


def stop_of_row(row: list[Any]) -> StopOrder:
    order_id, market, owner, side, trigger, price, qty, max_quote, stp, locked, time_ns = row
    return StopOrder(
        OrderId(order_id),
        MarketId(market),
        AccountId(owner),
        Side(side),
        trigger,
        price,
        qty,
        max_quote,
        SelfTradePrevention(stp),
        locked,
        time_ns=time_ns,
    )


def config_to_state(config: MarketConfig) -> list[object]:
    """A market's configuration as a flat list (see `config_from_state`)."""
    fees = config.fees
    return [
        config.base,
        config.quote,
        config.tick_size,
        config.lot_size,
        config.min_qty,
        config.base_decimals,
        config.quote_decimals,
        fees.maker_bps,
        fees.taker_bps,
        fees.fee_token,
        fees.fee_account,
    ]


def config_from_state(row: list[Any]) -> MarketConfig:
    """The inverse of `config_to_state`; the config's own checks refuse a bad row."""
    base, quote, tick, lot, min_qty, base_decimals, quote_decimals = row[:7]
    maker_bps, taker_bps, fee_token, fee_account = row[7:]
    fees = FeeSchedule(maker_bps, taker_bps, fee_token, AccountId(fee_account))
    return MarketConfig(
        TokenId(base), TokenId(quote), tick, lot, min_qty, base_decimals, quote_decimals, fees
    )


def _check_account(
    owner: object, fee_accounts: set[AccountId] | frozenset[AccountId] = frozenset()
) -> None:
    if type(owner) is not str or not owner:
        raise InvalidOrder(f"account {owner!r} must be a non-empty string")
    if owner in fee_accounts:
        raise InvalidOrder(f"account {owner} is the fee account; it cannot trade")


def _cancelled(order_id: OrderId, order: _OpenOrder, reason: CancelReason) -> OrderCancelled:
    """The event of an open order leaving the book (its record as it was)."""
    state: _Market = order[_MARKET]
    side = _BID if order[_IS_BID] else _ASK
    return OrderCancelled(
        state.market_id,
        order_id,
        order[_OWNER],
        side,
        order[_PRICE],
        order[_REMAINING],
        order[_FILLED_QTY],
        reason,
    )

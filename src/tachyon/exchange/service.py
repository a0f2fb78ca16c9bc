"""DexService: many markets, each an `OrderBookEngine`, settled against one `TokenLedger`.

Pure: no I/O, no clock, no randomness. The seed's wallet flow for many owners: lock funds
up-front, match, settle each fill atomically with maker/taker fees, release what an order no
longer needs. After every call each owner's locked funds equal exactly what their open orders
still need (`check_invariants`). A call that raises has changed nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final, NamedTuple

from tachyon.dex.engine import OrderBookEngine
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
from tachyon.dex.units import BPS_DENOMINATOR, PRICE_MAX, QTY_MAX
from tachyon.dex.validation import validate_limit, validate_market
from tachyon.errors import (
    AlreadyExists,
    InvalidConfig,
    InvalidOrder,
    MarketNotFound,
    OrderNotFound,
    OrderNotOwned,
    TachyonError,
)
from tachyon.exchange.engines import DEFAULT_ENGINE, engine_factory
from tachyon.ledger.ledger import BalanceRecord, TokenLedger, TokenMeta

DEFAULT_MARKET_ID: Final = DEFAULT_MARKET.market_id

_BID: Final = Side.BID
_GTC: Final = TimeInForce.GTC
_NEW: Final = OrderStatus.NEW
_PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED
_FILLED: Final = OrderStatus.FILLED
_CANCELLED: Final = OrderStatus.CANCELLED
_new_tuple = tuple.__new__


class Placement(NamedTuple):
    """What placing (or cancelling) an order did."""

    order_id: OrderId
    trades: list[Trade]
    status: OrderStatus
    filled_qty: int
    open_qty: int


class OwnedOrder(NamedTuple):
    """An open order with its market and the funds it holds."""

    market: MarketId
    order: Order
    locked: int
    locked_token: TokenId


class _Market:
    """A market's engine and its fee rules, flattened for the settlement loop."""

    __slots__ = (
        "base",
        "base_unit",
        "config",
        "engine",
        "fee_account",
        "fee_in_base",
        "lock_bps",
        "maker_bps",
        "quote",
        "taker_bps",
        "zero_fees",
    )

    def __init__(self, config: MarketConfig, engine: OrderBookEngine) -> None:
        self.engine = engine
        self.base = config.base
        self.quote = config.quote
        self.base_unit = config.base_unit
        self.config = config
        self.set_fees(config.fees)

    def set_fees(self, fees: FeeSchedule) -> None:
        self.config = dataclasses.replace(self.config, fees=fees)
        self.maker_bps = fees.maker_bps
        self.taker_bps = fees.taker_bps
        # A new order may fill as taker and rest as maker: lock for the dearer of the two.
        self.lock_bps = max(fees.maker_bps, fees.taker_bps)
        self.fee_in_base = self.config.fee_token == self.base
        self.fee_account = fees.fee_account
        self.zero_fees = not (fees.maker_bps or fees.taker_bps)

    def need(self, is_bid: bool, price: int, qty: int, bps: int) -> int:
        """What an order of `qty` at `price` must hold to pay for its fills and fees at `bps`."""
        if is_bid:
            cost = price * qty // self.base_unit
            return cost if self.fee_in_base else cost + cost * bps // BPS_DENOMINATOR
        return qty + qty * bps // BPS_DENOMINATOR if self.fee_in_base else qty


class _OpenOrder:
    """An open order's settlement record: what it still may fill and what it holds for that."""

    __slots__ = ("is_bid", "locked", "market", "owner", "price", "remaining", "token")

    def __init__(
        self,
        owner: AccountId,
        market: _Market,
        is_bid: bool,
        price: int,
        remaining: int,
        locked: int,
    ) -> None:
        self.owner = owner
        self.market = market
        self.is_bid = is_bid
        self.price = price
        self.remaining = remaining
        self.locked = locked  # in the quote token for bids, the base token for asks
        self.token = market.quote if is_bid else market.base

    def need(self, remaining: int) -> int:
        return self.market.need(self.is_bid, self.price, remaining, self.market.maker_bps)


class DexService:
    """The exchange facade: markets, balances, orders of many owners, fees."""

    __slots__ = (
        "_by_owner",
        "_engine_name",
        "_fee_accounts",
        "_ledger",
        "_markets",
        "_next_order_id",
        "_open",
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
        self._by_owner: dict[AccountId, dict[OrderId, _OpenOrder]] = {}
        self._fee_accounts: set[AccountId] = set()
        self._next_order_id = 1
        if default_market is not None:
            self.add_market(default_market)

    @classmethod
    def with_engine(cls, engine: OrderBookEngine) -> DexService:
        """A service whose only market is `engine`'s (the seed's engine swap)."""
        service = cls(default_market=None)
        service.add_market(engine.config, engine)
        return service

    # -- markets and tokens ----------------------------------------------------------------

    def add_market(self, config: MarketConfig, engine: OrderBookEngine | None = None) -> None:
        """Open a market, registering its tokens; `engine` defaults to the configured kind."""
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
            engine = engine_factory(self._engine_name)(config)
        elif engine.config.market_id != config.market_id:
            raise InvalidConfig(f"engine serves {engine.config.market_id}, not {config.market_id}")
        self._ledger.set_meta(TokenMeta(config.base, config.base_decimals))
        self._ledger.set_meta(TokenMeta(config.quote, config.quote_decimals))
        self._markets[config.market_id] = _Market(config, engine)
        self._fee_accounts.add(config.fees.fee_account)

    def register_token(self, meta: TokenMeta) -> None:
        """Register a token that no market trades yet (so it can be deposited)."""
        self._ledger.set_meta(meta)

    def get_market(self, market: MarketId) -> MarketConfig:
        return self._market(market).config

    def markets(self) -> list[MarketConfig]:
        return [self._markets[market_id].config for market_id in sorted(self._markets)]

    def tokens(self) -> list[TokenMeta]:
        return self._ledger.tokens()

    def set_fees(self, market: MarketId, fees: FeeSchedule) -> list[OrderId]:
        """Change a market's fees. Open orders then hold what the new maker fee needs: excess is
        released; a shortfall is locked from available, or the order is cancelled if it cannot
        be. Returns the ids of orders so cancelled."""
        state = self._market(market)
        if fees.fee_token not in (None, state.base, state.quote):
            raise InvalidConfig(
                f"fee token {fees.fee_token} is neither {state.base} nor {state.quote}"
            )
        state.set_fees(fees)
        self._fee_accounts.add(fees.fee_account)
        cancelled: list[OrderId] = []
        for order_id, order in list(self._open.items()):
            if order.market is not state:
                continue
            need = order.need(order.remaining)
            if need < order.locked:
                self._ledger.unlock(order.owner, order.token, order.locked - need)
            elif need > order.locked:
                if self._ledger.balance(order.owner, order.token).available < need - order.locked:
                    state.engine.cancel(order_id)
                    self._close(order_id, order, order.locked)
                    cancelled.append(order_id)
                    continue
                self._ledger.lock(order.owner, order.token, need - order.locked)
            order.locked = need
        return cancelled

    # -- funds -----------------------------------------------------------------------------

    def deposit(self, owner: AccountId, token: TokenId, amount: int) -> None:
        """Credit `amount` minor units of `token` to `owner` (the seed's demo deposits)."""
        _check_account(owner)
        self._ledger.credit(owner, token, amount)

    def withdraw(self, owner: AccountId, token: TokenId, amount: int) -> None:
        """Debit `amount` from `owner`'s available balance; locked funds stay with their orders."""
        _check_account(owner)
        self._ledger.debit(owner, token, amount)

    def balance(self, owner: AccountId, token: TokenId) -> BalanceRecord:
        return self._ledger.balance(owner, token)

    def balances(self, owner: AccountId) -> dict[TokenId, BalanceRecord]:
        return self._ledger.balances(owner)

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
    ) -> Placement:
        """Lock what the order may spend, match it, settle each fill, release the excess."""
        state = self._markets.get(market) or self._market(market)
        if owner in self._fee_accounts or type(owner) is not str or not owner:
            _check_account(owner, self._fee_accounts)
        config = state.config
        if not (  # the engine's checks, here too: an order is judged before funds are
            type(qty) is int
            and type(price) is int
            and 0 < qty <= QTY_MAX
            and 0 < price <= PRICE_MAX
            and not qty % config.lot_size
            and qty >= config.min_qty
            and not price % config.tick_size
            and type(side) is Side
            and (tif is _GTC or type(tif) is TimeInForce)
            and (stp is STP_DEFAULT or type(stp) is SelfTradePrevention)
            # mypy trusts the annotation; an untyped caller may still pass "yes" or 1.
            and type(post_only) is bool  # type: ignore[redundant-expr]
            and (not post_only or tif is _GTC)
        ):
            validate_limit(config, side, price, qty, tif, post_only, stp)
        is_bid = side is _BID
        token = state.quote if is_bid else state.base
        locked = state.need(is_bid, price, qty, state.lock_bps)
        self._ledger.lock(owner, token, locked)
        try:
            order_id, trades = state.engine.place_limit(
                owner,
                side,
                price,
                qty,
                tif=tif,
                post_only=post_only,
                stp=stp,
                order_id=OrderId(self._next_order_id),
            )
        except TachyonError:
            self._ledger.unlock(owner, token, locked)
            raise
        rests = tif is _GTC
        return self._after_taking(
            state, owner, order_id, is_bid, price, qty, token, locked, trades, rests
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
        if owner in self._fee_accounts or type(owner) is not str or not owner:
            _check_account(owner, self._fee_accounts)
        config = state.config
        if not (
            type(qty) is int
            and 0 < qty <= QTY_MAX
            and not qty % config.lot_size
            and qty >= config.min_qty
            and max_quote is None
            and type(side) is Side
            and (stp is STP_DEFAULT or type(stp) is SelfTradePrevention)
        ):
            validate_market(config, side, qty, max_quote, stp)
        is_bid = side is _BID
        engine = state.engine
        if not is_bid:
            assert qty is not None
            token = state.base
            locked = state.need(False, 0, qty, state.taker_bps)
        else:
            token = state.quote
            if max_quote is None:
                assert qty is not None
                max_quote = engine.estimate_market_cost(side, qty)[1]
            locked = (
                max_quote
                if state.fee_in_base
                else max_quote + max_quote * state.taker_bps // BPS_DENOMINATOR
            )
        if locked:
            self._ledger.lock(owner, token, locked)
        order_id = OrderId(self._next_order_id)
        # A bid for which the book has nothing to sell locks nothing and can fill nothing.
        budget = max_quote if is_bid and max_quote else None
        try:
            order_id, trades = engine.place_market(
                owner, side, qty, max_quote=budget, stp=stp, order_id=order_id
            )
        except TachyonError:
            if locked:
                self._ledger.unlock(owner, token, locked)
            raise
        return self._after_taking(
            state, owner, order_id, is_bid, 0, qty, token, locked, trades, False
        )

    def cancel(self, owner: AccountId, order_id: OrderId) -> Placement:
        """Cancel one of `owner`'s open orders and release what it holds."""
        record = self._open.get(order_id)
        if record is None:
            raise OrderNotFound(f"order {order_id!r} is not open (unknown, filled or cancelled)")
        if record.owner != owner:
            raise OrderNotOwned(f"order {order_id} belongs to another account")
        engine = record.market.engine
        order = engine.get_order(order_id)
        cancelled = engine.cancel(order_id, owner)  # never inside an assert: it changes the book
        assert order is not None and cancelled, f"engine lost order {order_id}"
        self._close(order_id, record, record.locked)
        return Placement(order_id, [], _CANCELLED, order.filled_qty, 0)

    def get_order(self, order_id: OrderId) -> OwnedOrder | None:
        record = self._open.get(order_id)
        if record is None:
            return None
        return self._owned(order_id, record)

    def open_orders(self, owner: AccountId) -> list[OwnedOrder]:
        """`owner`'s open orders in every market, oldest first."""
        return [self._owned(oid, record) for oid, record in self._by_owner.get(owner, {}).items()]

    # -- market data -----------------------------------------------------------------------

    def snapshot(self, depth: int, market: MarketId = DEFAULT_MARKET_ID) -> BookDepth:
        return self._market(market).engine.snapshot(depth)

    def recent_trades(self, limit: int, market: MarketId = DEFAULT_MARKET_ID) -> list[Trade]:
        return self._market(market).engine.recent_trades(limit)

    def estimate_market_cost(
        self, side: Side, qty: int, market: MarketId = DEFAULT_MARKET_ID
    ) -> tuple[int, int]:
        return self._market(market).engine.estimate_market_cost(side, qty)

    # -- invariants ------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Assert conservation, engine consistency, and locked == what open orders need."""
        self._ledger.check_conservation()
        locked_by_orders: dict[tuple[AccountId, TokenId], int] = {}
        for order_id, order in self._open.items():
            need = order.need(order.remaining)
            assert order.locked == need, f"order {order_id} holds {order.locked}, needs {need}"
            assert order.market.engine.open_qty(order_id) == order.remaining, (
                f"order {order_id} remaining"
            )
            assert self._by_owner[order.owner][order_id] is order
            key = (order.owner, order.token)
            locked_by_orders[key] = locked_by_orders.get(key, 0) + need
        for state in self._markets.values():
            state.engine.check_invariants()
        for token_meta in self._ledger.tokens():
            for account, record in self._ledger.accounts(token_meta.symbol).items():
                expected = locked_by_orders.get((account, token_meta.symbol), 0)
                assert record.locked == expected, (
                    f"{account} locks {record.locked} {token_meta.symbol}, orders need {expected}"
                )
        assert sum(len(orders) for orders in self._by_owner.values()) == len(self._open)

    # -- settlement ------------------------------------------------------------------------

    def _after_taking(
        self,
        state: _Market,
        owner: AccountId,
        order_id: OrderId,
        is_bid: bool,
        price: int,
        qty: int | None,
        token: TokenId,
        locked: int,
        trades: list[Trade],
        rests: bool,
    ) -> Placement:
        """Settle the taker's fills, then record what rests (GTC only) and release the rest."""
        self._next_order_id = order_id + 1
        filled = 0
        if trades:
            spent, filled = self._settle(state, owner, is_bid, trades)
            locked -= spent
        reduced = state.engine.drain_reduced()
        if reduced:
            self._release_reduced(state, reduced)
        # Ask the engine even when nothing traded: self-trade prevention may have cancelled it.
        open_qty = state.engine.open_qty(order_id) if rests else 0
        if open_qty:
            need = state.need(is_bid, price, open_qty, state.maker_bps)
            record = _OpenOrder(owner, state, is_bid, price, open_qty, need)
            self._open[order_id] = record
            orders = self._by_owner.get(owner)
            if orders is None:
                orders = self._by_owner[owner] = {}
            orders[order_id] = record
            locked -= need
            status = _PARTIALLY_FILLED if filled else _NEW
        else:
            status = _FILLED if filled and (qty is None or filled == qty) else _CANCELLED
        assert locked >= 0, f"order {order_id} spent more than it locked"
        if locked:
            self._ledger.unlock(owner, token, locked)
        return _new_tuple(Placement, (order_id, trades, status, filled, open_qty))

    def _settle(
        self, state: _Market, taker: AccountId, taker_is_bid: bool, trades: list[Trade]
    ) -> tuple[int, int]:
        """Settle each fill from locked funds; return (what the taker spent, qty it filled)."""
        settle_fill = self._ledger.settle_fill
        open_orders = self._open
        base, quote, base_unit = state.base, state.quote, state.base_unit
        fee_in_base, fee_account = state.fee_in_base, state.fee_account
        maker_bps, taker_bps, zero_fees = state.maker_bps, state.taker_bps, state.zero_fees
        taker_spent = filled = 0
        for trade in trades:
            qty = trade.qty
            cost = trade.price * qty // base_unit
            if zero_fees:
                maker_fee = taker_fee = 0
            else:
                fee_basis = qty if fee_in_base else cost
                maker_fee = fee_basis * maker_bps // BPS_DENOMINATOR
                taker_fee = fee_basis * taker_bps // BPS_DENOMINATOR
            maker_id = trade.maker_order_id
            maker = open_orders[maker_id]
            if taker_is_bid:
                settle_fill(
                    base,
                    quote,
                    taker,
                    maker.owner,
                    qty,
                    cost,
                    taker_fee,
                    maker_fee,
                    fee_in_base,
                    fee_account,
                )
                taker_spent += cost if fee_in_base else cost + taker_fee
                maker_spent = qty + maker_fee if fee_in_base else qty
            else:
                settle_fill(
                    base,
                    quote,
                    maker.owner,
                    taker,
                    qty,
                    cost,
                    maker_fee,
                    taker_fee,
                    fee_in_base,
                    fee_account,
                )
                taker_spent += qty + taker_fee if fee_in_base else qty
                maker_spent = cost if fee_in_base else cost + maker_fee
            filled += qty
            remaining = maker.remaining - qty
            locked = maker.locked - maker_spent
            if not remaining:
                self._close(maker_id, maker, locked)
            elif zero_fees:  # without fees, what an order needs is linear in its remaining qty
                maker.remaining = remaining
                maker.locked = locked
            else:
                self._hold(maker, remaining, locked)
        return taker_spent, filled

    def _release_reduced(self, state: _Market, reduced: Sequence[tuple[OrderId, int]]) -> None:
        """Self-trade prevention shrank or cancelled these resting orders: release their excess."""
        for order_id, remaining in reduced:
            order = self._open[order_id]
            if remaining:
                self._hold(order, remaining, order.locked)
            else:
                self._close(order_id, order, order.locked)

    def _hold(self, order: _OpenOrder, remaining: int, locked: int) -> None:
        """Keep exactly what `remaining` needs locked for this open order; release the rest."""
        need = order.need(remaining)
        assert need <= locked, "an open order needs more than it holds"
        if need < locked:
            self._ledger.unlock(order.owner, order.token, locked - need)
        order.remaining = remaining
        order.locked = need

    def _close(self, order_id: OrderId, order: _OpenOrder, locked: int) -> None:
        """Forget a filled or cancelled order and release what it still holds."""
        del self._open[order_id]
        del self._by_owner[order.owner][order_id]
        assert locked >= 0
        if locked:
            self._ledger.unlock(order.owner, order.token, locked)

    def _owned(self, order_id: OrderId, record: _OpenOrder) -> OwnedOrder:
        order = record.market.engine.get_order(order_id)
        assert order is not None
        return OwnedOrder(record.market.config.market_id, order, record.locked, record.token)

    def _market(self, market: MarketId) -> _Market:
        state = self._markets.get(market)
        if state is None:
            known = ", ".join(sorted(self._markets)) or "none"
            raise MarketNotFound(f"unknown market {market!r}; markets: {known}")
        return state


def _check_account(
    owner: object, fee_accounts: set[AccountId] | frozenset[AccountId] = frozenset()
) -> None:
    if type(owner) is not str or not owner:
        raise InvalidOrder(f"account {owner!r} must be a non-empty string")
    if owner in fee_accounts:
        raise InvalidOrder(f"account {owner} is the fee account; it cannot trade")

"""Goal: no flow of deposits, withdrawals, orders of every kind, cancels and fee changes by many
owners ever creates, loses or double-spends a unit. Method: a Hypothesis RuleBasedStateMachine
drives DexService over two markets and checks every invariant after every step, once per
installed engine (an option the engine lacks is refused like any other order: nothing changes)."""

from __future__ import annotations

import itertools
from typing import Final

from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tachyon.dex import (
    AccountId,
    FeeSchedule,
    MarketConfig,
    MarketId,
    OrderId,
    SelfTradePrevention,
    Side,
    TimeInForce,
    TokenId,
    Trade,
)
from tachyon.errors import TachyonError
from tachyon.exchange import DEFAULT_ENGINE, DEFAULT_MARKET_ID, DexService
from tests.support.engines import EngineUnderTest

OWNERS: Final = [AccountId(name) for name in ("ann", "ben", "cat", "dan")]
ETH: Final = MarketConfig(
    base=TokenId("ETH"),
    quote=TokenId("USDC"),
    tick_size=20,
    lot_size=5,
    min_qty=10,
    base_decimals=2,
    quote_decimals=6,
    fees=FeeSchedule(maker_bps=10, taker_bps=25),
)
MARKETS: Final = [DEFAULT_MARKET_ID, ETH.market_id]
TOKENS: Final = [TokenId("BASE"), TokenId("ETH"), TokenId("USDC")]
MID: Final = {DEFAULT_MARKET_ID: 1_000, ETH.market_id: 2_000}
FUNDING: Final = 10**8

owners = st.sampled_from(OWNERS)
markets = st.sampled_from(MARKETS)
sides = st.sampled_from(list(Side))
stps = st.sampled_from(list(SelfTradePrevention))
tifs = st.sampled_from(list(TimeInForce))


class ExchangeMachine(RuleBasedStateMachine):
    def __init__(self, engine: str = DEFAULT_ENGINE) -> None:
        super().__init__()
        self.service = DexService(engine=engine)
        self.service.add_market(ETH)
        self.supply = dict.fromkeys(TOKENS, 0)
        for owner in OWNERS:  # everyone can trade from the first step
            for token in TOKENS:
                self.service.deposit(owner, token, FUNDING)
                self.supply[token] += FUNDING
        self.order_price: dict[OrderId, int] = {}
        # When each order took its place in its level: placed, or amended to the back.
        self.arrival: dict[OrderId, int] = {}
        self.ticks = itertools.count()
        self.icebergs: set[OrderId] = set()  # refilled at the back: no FIFO by arrival
        self.order_ids: list[OrderId] = []
        self.next_order_id = 1
        for market in MARKETS:  # a book to trade against from the first step
            config = self.config(market)
            for distance, owner in enumerate(OWNERS, start=1):
                for side, sign in ((Side.BID, -1), (Side.ASK, 1)):
                    price = (MID[market] + sign * distance) * config.tick_size
                    self.order_price[OrderId(self.next_order_id)] = price
                    placed = self.service.place_limit(
                        owner, side, price, 10 * config.lot_size, market=market
                    )
                    self.order_ids.append(placed.order_id)
                    self.arrival[placed.order_id] = next(self.ticks)
                    self.next_order_id += 1

    # -- helpers ---------------------------------------------------------------------------

    def capture(self) -> object:
        service = self.service
        return (
            service.ledger.to_state(),
            [service.snapshot(1_000, market) for market in MARKETS],
            [service.recent_trades(50, market) for market in MARKETS],
            [service.open_orders(owner) for owner in OWNERS],
        )

    def attempt_order(self, place: object, side: Side) -> None:
        """Run a placement; on refusal, nothing may have changed and no id is consumed."""
        before = self.capture()
        try:
            assert callable(place)
            placement = place()
        except TachyonError:
            assert self.capture() == before, "a refused order changed state"
            return
        assert placement.order_id == self.next_order_id, "order ids are not in sequence"
        self.next_order_id += 1
        self.order_ids.append(placement.order_id)
        self.check_trades(placement.trades, side, placement.order_id)
        self.arrival[placement.order_id] = next(self.ticks)
        assert placement.filled_qty == sum(trade.qty for trade in placement.trades)

    def check_trades(self, trades: list[Trade], side: Side, taker_id: OrderId) -> None:
        previous: Trade | None = None
        for trade in trades:
            assert trade.taker_order_id == taker_id and trade.taker_side is side
            assert trade.price == self.order_price[trade.maker_order_id], "trade not at maker price"
            assert self.arrival[trade.maker_order_id] < self.arrival.get(taker_id, 1 << 62)
            if previous is not None:  # price priority, then time priority within a price
                better_first = (
                    previous.price <= trade.price
                    if side is Side.BID
                    else previous.price >= trade.price
                )
                assert better_first, "a worse price filled before a better one"
                icebergs = {previous.maker_order_id, trade.maker_order_id} & self.icebergs
                if previous.price == trade.price and not icebergs:
                    assert (
                        self.arrival[previous.maker_order_id] < self.arrival[trade.maker_order_id]
                    ), "FIFO broken within a level"
            previous = trade

    def config(self, market: MarketId) -> MarketConfig:
        return self.service.get_market(market)

    # -- rules -----------------------------------------------------------------------------

    @rule(owner=owners, token=st.sampled_from(TOKENS), amount=st.integers(1, 10**9))
    def deposit(self, owner: AccountId, token: TokenId, amount: int) -> None:
        self.service.deposit(owner, token, amount)
        self.supply[token] += amount

    @rule(owner=owners, token=st.sampled_from(TOKENS), amount=st.integers(-5, 10**7))
    def withdraw(self, owner: AccountId, token: TokenId, amount: int) -> None:
        before = self.capture()
        try:
            self.service.withdraw(owner, token, amount)
        except TachyonError:
            assert amount <= 0 or self.service.balance(owner, token).available < amount
            assert self.capture() == before
            return
        self.supply[token] -= amount

    @rule(
        owner=owners,
        market=markets,
        side=sides,
        offset=st.integers(-6, 6),
        lots=st.integers(-1, 40),
        tif=tifs,
        post_only=st.booleans(),
        stp=stps,
    )
    def place_limit(
        self,
        owner: AccountId,
        market: MarketId,
        side: Side,
        offset: int,
        lots: int,
        tif: TimeInForce,
        post_only: bool,
        stp: SelfTradePrevention,
    ) -> None:
        config = self.config(market)
        price = (MID[market] + offset) * config.tick_size
        qty = lots * config.lot_size
        post = post_only and tif is TimeInForce.GTC

        def place() -> object:
            return self.service.place_limit(
                owner, side, price, qty, market=market, tif=tif, post_only=post, stp=stp
            )

        self.order_price[OrderId(self.next_order_id)] = price
        self.attempt_order(place, side)

    @rule(
        owner=owners,
        market=markets,
        side=sides,
        lots=st.integers(0, 60),
        budget=st.none() | st.integers(1, 10**7),
        stp=stps,
    )
    def place_market(
        self,
        owner: AccountId,
        market: MarketId,
        side: Side,
        lots: int,
        budget: int | None,
        stp: SelfTradePrevention,
    ) -> None:
        qty = lots * self.config(market).lot_size or None
        max_quote = budget if side is Side.BID else None

        def place() -> object:
            return self.service.place_market(
                owner, side, qty, market=market, max_quote=max_quote, stp=stp
            )

        self.attempt_order(place, side)

    @rule(
        owner=owners,
        market=markets,
        side=sides,
        offset=st.integers(-6, 6),
        lots=st.integers(2, 40),
        shown=st.integers(0, 40),
        post_only=st.booleans(),
    )
    def place_iceberg(
        self,
        owner: AccountId,
        market: MarketId,
        side: Side,
        offset: int,
        lots: int,
        shown: int,
        post_only: bool,
    ) -> None:
        """An iceberg (`place_order`'s `display_qty`): it locks and fills like any order."""
        config = self.config(market)
        price = (MID[market] + offset) * config.tick_size
        qty, display = lots * config.lot_size, shown * config.lot_size

        def place() -> object:
            return self.service.place_order(
                owner, side, price, qty, market=market, post_only=post_only, display_qty=display
            )

        self.order_price[OrderId(self.next_order_id)] = price
        self.icebergs.add(OrderId(self.next_order_id))
        self.attempt_order(place, side)

    @precondition(lambda self: bool(self.order_ids))
    @rule(owner=owners, pick=st.integers(0, 10**6))
    def cancel(self, owner: AccountId, pick: int) -> None:
        order_id = self.order_ids[pick % len(self.order_ids)]
        open_order = self.service.get_order(order_id)
        before = self.capture()
        try:
            self.service.cancel(owner, order_id)
        except TachyonError:
            assert open_order is None or open_order.order.owner != owner
            assert self.capture() == before
            return
        assert open_order is not None and open_order.order.owner == owner
        assert self.service.get_order(order_id) is None

    @precondition(lambda self: bool(self.order_ids))
    @rule(
        owner=owners,
        pick=st.integers(0, 10**6),
        offset=st.none() | st.integers(-6, 6),
        lots=st.none() | st.integers(-1, 40),
        stp=stps,
    )
    def amend(
        self,
        owner: AccountId,
        pick: int,
        offset: int | None,
        lots: int | None,
        stp: SelfTradePrevention,
    ) -> None:
        """Amend an order (often its owner's) to a new price or total; a refusal changes
        nothing, an amend keeps the order's id and leaves it with the total asked for."""
        order_id = self.order_ids[pick % len(self.order_ids)]
        open_order = self.service.get_order(order_id)
        if open_order is not None and pick % 4:
            owner = open_order.order.owner  # mostly the owner's own
        market = open_order.market if open_order else DEFAULT_MARKET_ID
        config = self.config(market)
        price = None if offset is None else (MID[market] + offset) * config.tick_size
        qty = None if lots is None else lots * config.lot_size
        before = self.capture()
        try:
            placement = self.service.amend(owner, order_id, price, qty, stp=stp)
        except TachyonError:
            assert self.capture() == before
            return
        assert open_order is not None and open_order.order.owner == owner
        assert placement.order_id == order_id
        if qty is not None:
            assert placement.qty == qty
        kept = (price is None or price == open_order.order.price) and (
            qty is not None and qty < open_order.order.qty
        )
        if not kept:  # to the back of its level (the new price's), taking first
            del self.arrival[order_id]
            self.order_price[order_id] = open_order.order.price if price is None else price
            side = open_order.order.side
            self.check_trades(placement.trades, side, order_id)
            self.arrival[order_id] = next(self.ticks)

    @rule(owner=owners, market=st.none() | markets, side=st.none() | st.sampled_from(list(Side)))
    def cancel_all(self, owner: AccountId, market: MarketId | None, side: Side | None) -> None:
        others = {o: self.service.open_orders(o) for o in OWNERS if o != owner}
        cancelled = self.service.cancel_all(owner, market, side)
        assert all(p.owner == owner for p in cancelled.placements)
        left = [
            owned
            for owned in self.service.open_orders(owner)
            if market in (None, owned.market) and side in (None, owned.order.side)
        ]
        assert left == [], "a mass cancel left one of the owner's orders open"
        assert others == {o: self.service.open_orders(o) for o in OWNERS if o != owner}

    @rule(
        market=markets,
        maker=st.integers(-50, 50),
        taker=st.integers(0, 50),
        in_base=st.booleans(),
    )
    def set_fees(self, market: MarketId, maker: int, taker: int, in_base: bool) -> None:
        """Fees in either token; a negative maker fee is a rebate, at most the taker fee."""
        config = self.config(market)
        fee_token = config.base if in_base else None
        maker = max(maker, -taker)
        self.service.set_fees(
            market, FeeSchedule(maker_bps=maker, taker_bps=taker, fee_token=fee_token)
        )

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def funds_conserved_and_locks_exact(self) -> None:
        # Conservation, no negative balance, locked == open-order needs, books uncrossed.
        self.service.check_invariants()
        for token, supply in self.supply.items():
            accounts = self.service.ledger.accounts(token)
            assert sum(record.total for record in accounts.values()) == supply, (
                f"{token} not conserved"
            )
            assert self.service.ledger.total_supply(token) == supply

    @invariant()
    def books_not_crossed(self) -> None:
        for market in MARKETS:
            depth = self.service.snapshot(1, market)
            if depth.bids and depth.asks:
                assert depth.bids[0].price < depth.asks[0].price


def test_exchange_machine(make: EngineUnderTest) -> None:
    class OnThisEngine(ExchangeMachine):
        def __init__(self) -> None:
            super().__init__(make.name)

    run_state_machine_as_test(OnThisEngine, settings=settings(settings(), stateful_step_count=80))

"""Goal: a command's events are exactly the change it made, and every fill is settled by the
ledger's one settlement.
Method: seeded random flows of every kind of command (limits of every time in force and
self-trade mode, market orders by quantity and by budget, cancels, deposits, withdrawals, fee
changes, registrations) applied through `Exchange.execute`; a model that knows only the events
keeps each account's holdings and every open order, and must agree with the service after every
command. The settlement is spied on: every fill of the service passes through it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tachyon.dex.ids import AccountId, TokenId
from tachyon.dex.model import FeeSchedule, MarketConfig, Side
from tachyon.errors import TachyonError
from tachyon.exchange.admission import admit
from tachyon.exchange.commands import PlaceLimit
from tachyon.exchange.events import (
    CancelReason,
    Deposited,
    Event,
    FeesChanged,
    Filled,
    MarketAdded,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRecalled,
    OrderReduced,
    OrderRested,
    StopAccepted,
    StopCancelled,
    StopTriggered,
    TokenRegistered,
    Withdrawn,
)
from tachyon.exchange.service import DexService, Placement
from tachyon.exchange.state_machine import Exchange
from tachyon.ledger.ledger import TokenLedger, fill_fees
from tests.exchange.helpers import ALICE, BOB, ETH_USDC, USDC, fund, make_service
from tests.storage.helpers import make_flow

SEEDS = range(8)


@dataclass
class _Model:
    """What the events alone say: each (account, token)'s holdings (available + locked), each
    open order's (owner, market, side, price, remaining), and each market's rules."""

    holdings: dict[tuple[str, str], int] = field(default_factory=dict)
    orders: dict[int, tuple[str, str, Side, int, int]] = field(default_factory=dict)
    markets: dict[str, MarketConfig] = field(default_factory=dict)

    def move(self, account: str, token: str, amount: int) -> None:
        key = (account, token)
        self.holdings[key] = self.holdings.get(key, 0) + amount

    def apply(self, events: list[Event]) -> None:
        taker: OrderAccepted | OrderAmended | None = None
        for event in events:
            match event:
                case MarketAdded(config=config):
                    self.markets[config.market_id] = config
                case FeesChanged(market=market, fees=fees):
                    config = self.markets[market]
                    self.markets[market] = MarketConfig(
                        config.base,
                        config.quote,
                        config.tick_size,
                        config.lot_size,
                        config.min_qty,
                        config.base_decimals,
                        config.quote_decimals,
                        fees,
                    )
                case TokenRegistered():
                    pass
                case Deposited(account=account, token=token, amount=amount):
                    self.move(account, token, amount)
                case Withdrawn(account=account, token=token, amount=amount):
                    self.move(account, token, -amount)
                case OrderAccepted():
                    taker = event
                case OrderAmended():  # it leaves its place; its rest says where it went
                    del self.orders[event.order_id]
                    taker = event
                case StopAccepted() | StopTriggered() | StopCancelled() | OrderRecalled():
                    pass  # locks only: holdings and the book are as they were
                case Filled():
                    self._fill(event)
                case OrderRested():
                    assert event.order_id not in self.orders
                    self.orders[event.order_id] = (
                        event.owner,
                        event.market,
                        event.side,
                        event.price,
                        event.open_qty,
                    )
                case OrderReduced():
                    owner, where, side, price, _ = self.orders[event.order_id]
                    self.orders[event.order_id] = (owner, where, side, price, event.remaining)
                case OrderCancelled():
                    if taker is not None and event.order_id == taker.order_id:
                        assert event.order_id not in self.orders  # its rest never rested
                    else:
                        del self.orders[event.order_id]

    def _fill(self, event: Filled) -> None:
        trade, config = event.trade, self.markets[event.market]
        cost = config.notional(trade.price, trade.qty)
        taker_is_bid = trade.taker_side is Side.BID
        buyer, seller = (
            (trade.taker_owner, trade.maker_owner)
            if taker_is_bid
            else (trade.maker_owner, trade.taker_owner)
        )
        self.move(buyer, config.base, trade.qty)
        self.move(buyer, config.quote, -cost)
        self.move(seller, config.base, -trade.qty)
        self.move(seller, config.quote, cost)
        fee_token = config.fee_token
        maker_pays = event.maker_fee
        taker_pays = event.taker_fee
        self.move(trade.maker_owner, fee_token, -maker_pays)
        self.move(trade.taker_owner, fee_token, -taker_pays)
        self.move(config.fees.fee_account, fee_token, maker_pays + taker_pays)
        owner, market, side, price, remaining = self.orders[trade.maker_order_id]
        assert remaining - trade.qty == event.maker_remaining
        if event.maker_remaining:
            self.orders[trade.maker_order_id] = (owner, market, side, price, event.maker_remaining)
        else:
            del self.orders[trade.maker_order_id]


def _service_holdings(service: DexService) -> dict[tuple[str, str], int]:
    return {
        (account, meta.symbol): record.total
        for meta in service.tokens()
        for account, record in service.ledger.accounts(meta.symbol).items()
        if record.total
    }


def _service_orders(
    service: DexService, owners: set[str]
) -> dict[int, tuple[str, str, Side, int, int]]:
    return {
        owned.order.order_id: (
            owned.order.owner,
            owned.market,
            owned.order.side,
            owned.order.price,
            owned.order.remaining_qty,
        )
        for owner in owners
        for owned in service.open_orders(AccountId(owner))
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_applying_the_events_to_a_model_gives_the_services_state(seed: int) -> None:
    flow = make_flow(seed, 400)
    exchange = Exchange()
    model = _Model()
    for config in exchange.service.markets():  # the default market comes with a new exchange
        model.markets[config.market_id] = config
    kinds: set[str] = set()
    owners: set[str] = set()
    for command, ts_ns in zip(flow.commands, flow.stamps, strict=True):
        seq = exchange.seq
        try:
            applied = exchange.execute(admit(command), seq + 1, ts_ns)
        except TachyonError:
            assert exchange.seq == seq
            continue
        model.apply(applied.events)
        kinds.update(type(event).__name__ for event in applied.events)
        owners.update(account for account, _ in model.holdings)
        assert {k: v for k, v in model.holdings.items() if v} == _service_holdings(exchange.service)
        assert model.orders == _service_orders(exchange.service, owners)
        outcome = applied.outcome
        if isinstance(outcome, Placement) and outcome.owner is not None:
            # The same values every read; stops its fills triggered come after its own.
            assert applied.events[: len(outcome.events)] == outcome.events
    # The flows reach every kind of event (fee-change cancels only sometimes).
    assert kinds >= {
        "MarketAdded",
        "TokenRegistered",
        "FeesChanged",
        "Deposited",
        "Withdrawn",
        "OrderAccepted",
        "Filled",
        "OrderRested",
        "OrderCancelled",
    }


def test_a_placements_events_come_in_the_order_things_happened() -> None:
    service = make_service()  # ETH/USDC: fees 10 and 20 bps in quote
    fund(service, ALICE, USDC=10**9, ETH=10**6)
    fund(service, BOB, USDC=10**9, ETH=10**6)
    first = service.place_limit(ALICE, Side.ASK, 200_000, 1_000, market=ETH_USDC)
    second = service.place_limit(ALICE, Side.ASK, 200_100, 1_000, market=ETH_USDC)
    taker = service.place_limit(BOB, Side.BID, 200_100, 1_500, market=ETH_USDC)
    accepted, fill_one, fill_two, *rest = taker.events
    assert rest == []  # filled completely: nothing more to say
    assert accepted == OrderAccepted(ETH_USDC, taker.order_id, BOB, Side.BID, 200_100, 1_500)
    assert isinstance(fill_one, Filled) and isinstance(fill_two, Filled)
    assert fill_one.trade.maker_order_id == first.order_id and fill_one.maker_remaining == 0
    assert fill_two.trade.maker_order_id == second.order_id and fill_two.maker_remaining == 500
    config = service.get_market(ETH_USDC)
    for fill in (fill_one, fill_two):
        assert (fill.maker_fee, fill.taker_fee) == fill_fees(
            config, fill.trade.price, fill.trade.qty
        )
        assert fill.taker_fee > 0
    cancelled = service.cancel(ALICE, second.order_id)
    assert cancelled.events == [
        OrderCancelled(
            ETH_USDC, second.order_id, ALICE, Side.ASK, 200_100, 500, 500, CancelReason.USER
        )
    ]


def test_every_fill_is_settled_by_the_ledger_and_its_fees_reach_the_fee_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    settle = TokenLedger.settle_fills

    def spy(self: TokenLedger, *args: object) -> tuple[int, int, int, dict[int, int] | None]:
        trades = args[3]
        assert isinstance(trades, list)
        calls.append(len(trades))
        return settle(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(TokenLedger, "settle_fills", spy)
    service = make_service()
    service.set_fees(ETH_USDC, FeeSchedule(maker_bps=7, taker_bps=30))
    fund(service, ALICE, USDC=10**9, ETH=10**6)
    fund(service, BOB, USDC=10**9, ETH=10**6)
    fills = 0
    fees = 0
    for step in range(40):
        side = Side.BID if step % 2 else Side.ASK
        maker, taker = (ALICE, BOB) if step % 4 < 2 else (BOB, ALICE)
        service.place_limit(maker, side, 200_000 + 100 * (step % 3), 1_000, market=ETH_USDC)
        placed = service.place_market(taker, side.opposite, 1_500, market=ETH_USDC)
        for event in placed.events:
            if isinstance(event, Filled):
                fills += 1
                fees += event.maker_fee + event.taker_fee
        service.check_invariants()
    assert sum(calls) == fills > 0
    fee_account = service.get_market(ETH_USDC).fees.fee_account
    assert service.balance(fee_account, TokenId(USDC)).available == fees > 0
    assert "_settle" not in DexService.__dict__  # the service has no settlement of its own


def test_a_refused_command_has_no_events_and_changes_nothing() -> None:
    """A refusal changes nothing, so it has no events: the error is the whole answer."""
    exchange = Exchange()
    before = exchange.state_hash()
    with pytest.raises(TachyonError):  # no funds
        exchange.execute(admit(PlaceLimit(ALICE, "BASE/USDC", Side.BID, 100, 10)), 1, 1)
    assert (exchange.seq, exchange.state_hash()) == (0, before)

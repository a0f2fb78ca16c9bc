"""Goal: DexService with several markets, engine injection and engine selection by name.
Method: build services each way, trade across markets, check registries, ids, refusals."""

from __future__ import annotations

import pytest

from tachyon.dex.engine import OrderBookEngine
from tachyon.dex.ids import MarketId, OrderId, TokenId
from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import DEFAULT_MARKET, MarketConfig, Side
from tachyon.errors import AlreadyExists, InvalidConfig, MarketNotFound, TokenNotFound
from tachyon.exchange.engines import engine_factory, engine_names, register_engine
from tachyon.exchange.service import DexService
from tachyon.ledger.ledger import BalanceRecord, TokenMeta
from tests.exchange.helpers import (
    ALICE,
    BOB,
    DEFAULT,
    ETH,
    ETH_CONFIG,
    ETH_USDC,
    SOL_CONFIG,
    SOL_USDC,
    USDC,
    capture,
    fund,
    make_service,
)

BID, ASK = Side.BID, Side.ASK


def test_markets_and_tokens_are_listed_sorted() -> None:
    service = make_service()
    assert [m.market_id for m in service.markets()] == [DEFAULT, ETH_USDC, SOL_USDC]
    assert service.get_market(ETH_USDC) == ETH_CONFIG
    assert [(t.symbol, t.decimals) for t in service.tokens()] == [
        ("BASE", 0),
        ("ETH", 2),
        ("SOL", 2),
        ("USDC", 6),
    ]


def test_an_eth_market_with_tick_10_and_lot_5_at_2_decimals_is_refused() -> None:
    # 10 * 5 = 50 is not a multiple of 10**2: fills could cost fractions of a quote unit
    with pytest.raises(
        InvalidConfig, match=r"tick_size \* lot_size \(10 \* 5\) must be a multiple"
    ):
        MarketConfig(base=ETH, quote=USDC, tick_size=10, lot_size=5, min_qty=5, base_decimals=2)


def test_order_ids_are_global_across_markets_and_books_are_separate() -> None:
    service = make_service()
    fund(service, ALICE, USDC=1_000_000, ETH=1_000, BASE=10)
    ids = [
        service.place_limit(ALICE, BID, 100, 1).order_id,
        service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC).order_id,
        service.place_limit(ALICE, ASK, 200, 10, market=DEFAULT).order_id,
        service.place_limit(ALICE, ASK, 40_000, 100, market=ETH_USDC).order_id,
    ]
    service.check_invariants()
    assert ids == [1, 2, 3, 4]
    assert [(o.market, o.order.order_id) for o in service.open_orders(ALICE)] == [
        (DEFAULT, 1),
        (ETH_USDC, 2),
        (DEFAULT, 3),
        (ETH_USDC, 4),
    ]
    assert service.snapshot(5) == ([(100, 1)], [(200, 10)])
    assert service.snapshot(5, ETH_USDC) == ([(20_000, 50)], [(40_000, 100)])
    assert service.snapshot(5, SOL_USDC) == ([], [])
    # a trade in one market touches only that market's book and trade log
    fund(service, BOB, ETH=50, SOL=10)
    service.place_limit(BOB, ASK, 20_000, 50, market=ETH_USDC)
    service.check_invariants()
    assert [t.maker_order_id for t in service.recent_trades(5, ETH_USDC)] == [OrderId(2)]
    assert service.recent_trades(5) == []
    assert service.place_limit(BOB, ASK, 300, 10, market=SOL_USDC).order_id == 6
    service.check_invariants()


def test_adding_a_market_twice_is_refused() -> None:
    service = make_service()
    before = capture(service)
    with pytest.raises(AlreadyExists, match=r"market ETH/USDC already exists"):
        service.add_market(ETH_CONFIG)
    assert capture(service) == before


def test_a_market_with_conflicting_token_decimals_is_refused() -> None:
    service = make_service()
    fund(service, ALICE, USDC=5)
    before = capture(service)
    clash = MarketConfig(base=TokenId("BTC"), quote=USDC, quote_decimals=2)
    with pytest.raises(AlreadyExists, match=r"token USDC is registered with 6 decimals, not 2"):
        service.add_market(clash)
    assert capture(service) == before
    with pytest.raises(MarketNotFound):
        service.get_market(MarketId("BTC/USDC"))
    base_clash = MarketConfig(base=ETH, quote=TokenId("EUR"), base_decimals=0)
    with pytest.raises(AlreadyExists, match=r"token ETH is registered with 2 decimals, not 0"):
        service.add_market(base_clash)
    assert capture(service) == before
    service.check_invariants()


def test_an_engine_for_another_market_is_refused() -> None:
    service = make_service()
    before = capture(service)
    config = MarketConfig(base=TokenId("BTC"), quote=USDC)
    with pytest.raises(InvalidConfig, match=r"engine serves ETH/USDC, not BTC/USDC"):
        service.add_market(config, InMemoryEngine(ETH_CONFIG))
    assert capture(service) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.place_limit(ALICE, BID, 100, 1, market=MarketId("DOGE/USDC")),
        lambda s: s.place_market(ALICE, BID, 1, market=MarketId("DOGE/USDC")),
        lambda s: s.snapshot(10, MarketId("DOGE/USDC")),
        lambda s: s.recent_trades(10, MarketId("DOGE/USDC")),
        lambda s: s.estimate_market_cost(BID, 1, MarketId("DOGE/USDC")),
        lambda s: s.get_market(MarketId("DOGE/USDC")),
    ],
)
def test_unknown_market_is_refused_naming_it_and_the_known_ones(call: object) -> None:
    service = make_service()
    fund(service, ALICE, USDC=1_000)
    before = capture(service)
    with pytest.raises(
        MarketNotFound, match=r"unknown market 'DOGE/USDC'; markets: BASE/USDC, ETH/USDC, SOL/USDC"
    ):
        call(service)  # type: ignore[operator]
    assert capture(service) == before


def test_a_token_no_market_trades_must_be_registered_before_deposit() -> None:
    service = DexService()
    gold = TokenId("GOLD")
    with pytest.raises(TokenNotFound, match=r"unknown token 'GOLD'; known: BASE, USDC"):
        service.deposit(ALICE, gold, 5)
    assert service.balances(ALICE) == {}
    service.register_token(TokenMeta(gold, 3))
    service.deposit(ALICE, gold, 5)
    service.check_invariants()
    assert service.balances(ALICE) == {gold: BalanceRecord(5, 0)}
    with pytest.raises(AlreadyExists, match=r"token GOLD is registered with 3 decimals"):
        service.register_token(TokenMeta(gold, 4))


def test_with_engine_uses_the_given_engine_as_the_only_market() -> None:
    engine = InMemoryEngine(ETH_CONFIG)
    service = DexService.with_engine(engine)
    assert service.markets() == [ETH_CONFIG]
    with pytest.raises(MarketNotFound, match=r"markets: ETH/USDC"):
        service.snapshot(5)  # no default market
    fund(service, ALICE, USDC=10_020)
    order_id = service.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC).order_id
    service.check_invariants()
    order = engine.get_order(order_id)
    assert order is not None and (order.owner, order.remaining_qty) == (ALICE, 50)
    assert service.balance(ALICE, USDC) == BalanceRecord(10, 10_010)


def test_engine_selected_by_name() -> None:
    assert "in_memory" in engine_names()
    service = DexService(engine="in_memory")
    fund(service, ALICE, USDC=1_000)
    assert service.place_limit(ALICE, BID, 100, 5).order_id == 1
    service.check_invariants()


def test_an_unknown_engine_name_is_refused() -> None:
    with pytest.raises(
        InvalidConfig, match=r"unknown engine 'no-such-engine'; available: .*in_memory"
    ):
        DexService(engine="no-such-engine")


class _CountingEngine(InMemoryEngine):
    built: list[MarketId] = []  # noqa: RUF012  (a test probe shared by instances)

    def __init__(self, config: MarketConfig = DEFAULT_MARKET) -> None:
        super().__init__(config)
        _CountingEngine.built.append(config.market_id)


def _counting(config: MarketConfig) -> OrderBookEngine:
    return _CountingEngine(config)


def test_register_engine_makes_a_new_name_selectable_once() -> None:
    name = "counting-test-service-markets"
    register_engine(name, _counting)
    assert name in engine_names()
    assert engine_factory(name) is _counting
    service = DexService(engine=name)
    service.add_market(SOL_CONFIG)
    assert _CountingEngine.built[-2:] == [DEFAULT, SOL_USDC]
    fund(service, ALICE, USDC=1_000)
    service.place_limit(ALICE, BID, 100, 5)
    service.check_invariants()
    with pytest.raises(
        InvalidConfig, match=rf"engine name '{name}' is empty or already registered"
    ):
        register_engine(name, InMemoryEngine)
    assert engine_factory(name) is _counting
    with pytest.raises(InvalidConfig, match=r"engine name 'in_memory' is empty or already"):
        register_engine("in_memory", _counting)
    with pytest.raises(InvalidConfig, match=r"engine name '' is empty or already registered"):
        register_engine("", _counting)
    assert engine_factory("in_memory") is InMemoryEngine

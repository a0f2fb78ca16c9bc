"""Goal: every refusal of DexService names the bad value and rule, changes nothing, uses no order id.
Method: each bad call on a populated two-market service; capture ledger/orders/books/trades before
and after, check invariants, then confirm the next successful order gets the expected id."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import FEE_ACCOUNT, SelfTradePrevention, Side, TimeInForce
from tachyon.dex.units import AMOUNT_MINOR_MAX, PRICE_MAX, QTY_MAX
from tachyon.errors import (
    FillOrKillUnfillable,
    InsufficientFunds,
    InvalidAmount,
    InvalidOrder,
    MarketNotFound,
    OrderNotFound,
    OrderNotOwned,
    PostOnlyWouldTake,
    PriceNotMultipleOfTick,
    QtyBelowMin,
    QtyNotMultipleOfLot,
    SupplyExceeded,
    TachyonError,
    TokenNotFound,
)
from tachyon.exchange.service import DexService
from tachyon.ledger.ledger import BalanceRecord
from tests.exchange.helpers import (
    ALICE,
    BASE,
    BOB,
    CAROL,
    DAVE,
    ETH,
    ETH_USDC,
    USDC,
    capture,
    fund,
    make_service,
    next_order_id,
)

BID, ASK = Side.BID, Side.ASK
NEXT_ID = 6
Call = Callable[[DexService], object]


def populated() -> DexService:
    """Orders 1..5 placed (3 was a market order); resting: 1, 2 (BASE/USDC), 4, 5 (ETH/USDC)."""
    service = make_service()
    fund(service, ALICE, USDC=100_000, ETH=500, BASE=20)
    fund(service, BOB, BASE=20, USDC=3)
    fund(service, CAROL, ETH=100)
    steps: list[Call] = [
        lambda s: s.place_limit(ALICE, BID, 100, 10),
        lambda s: s.place_limit(BOB, ASK, 110, 5),
        lambda s: s.place_market(BOB, ASK, 3),
        lambda s: s.place_limit(ALICE, BID, 20_000, 50, market=ETH_USDC),
        lambda s: s.place_limit(CAROL, ASK, 30_000, 100, market=ETH_USDC),
    ]
    for step in steps:
        step(service)
        service.check_invariants()
    assert service.balance(ALICE, USDC) == BalanceRecord(88_990, 700 + 10_010)
    assert service.balance(BOB, BASE) == BalanceRecord(12, 5)
    assert service.balance(BOB, USDC) == BalanceRecord(303, 0)
    return service


def assert_refused(call: Call, error: type[TachyonError], message: str) -> None:
    service = populated()
    before = capture(service)
    with pytest.raises(error, match=message):
        call(service)
    assert capture(service) == before
    service.check_invariants()
    assert next_order_id(service) == NEXT_ID


QTY_CASES: list[tuple[object, str]] = [
    (0, r"qty 0 must be positive"),
    (-5, r"qty -5 must be positive"),
    (1.0, r"qty 1\.0 is not an integer"),
    ("5", r"qty '5' is not an integer"),
    (True, r"qty True is not an integer"),
    (QTY_MAX + 1, rf"qty {QTY_MAX + 1} exceeds the maximum {QTY_MAX}"),
]
PRICE_CASES: list[tuple[object, str]] = [
    (0, r"price 0 must be positive"),
    (-100, r"price -100 must be positive"),
    (100.0, r"price 100\.0 is not an integer"),
    (None, r"price None is not an integer"),
    (False, r"price False is not an integer"),
    (PRICE_MAX + 1, rf"price {PRICE_MAX + 1} exceeds the maximum {PRICE_MAX}"),
]


@pytest.mark.parametrize("side", [BID, ASK])
@pytest.mark.parametrize(("qty", "message"), QTY_CASES)
def test_bad_limit_qty(side: Side, qty: object, message: str) -> None:
    assert_refused(lambda s: s.place_limit(ALICE, side, 100, qty), InvalidAmount, message)  # type: ignore[arg-type]


@pytest.mark.parametrize("side", [BID, ASK])
@pytest.mark.parametrize(("price", "message"), PRICE_CASES)
def test_bad_limit_price(side: Side, price: object, message: str) -> None:
    assert_refused(lambda s: s.place_limit(ALICE, side, price, 1), InvalidAmount, message)  # type: ignore[arg-type]


@pytest.mark.parametrize("side", [BID, ASK])
@pytest.mark.parametrize(("qty", "message"), QTY_CASES)
def test_bad_market_qty(side: Side, qty: object, message: str) -> None:
    assert_refused(lambda s: s.place_market(ALICE, side, qty), InvalidAmount, message)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda s: s.place_limit(ALICE, BID, 20_010, 50, market=ETH_USDC),
            PriceNotMultipleOfTick,
            r"price 20010 is not a multiple of tick size 20",
        ),
        (
            lambda s: s.place_limit(ALICE, ASK, 40_000, 52, market=ETH_USDC),
            QtyNotMultipleOfLot,
            r"qty 52 is not a multiple of lot size 5",
        ),
        (
            lambda s: s.place_limit(ALICE, BID, 20_000, 5, market=ETH_USDC),
            QtyBelowMin,
            r"qty 5 is below the minimum order size 10",
        ),
        (
            lambda s: s.place_market(ALICE, ASK, 13, market=ETH_USDC),
            QtyNotMultipleOfLot,
            r"qty 13 is not a multiple of lot size 5",
        ),
        (
            lambda s: s.place_market(ALICE, BID, 5, market=ETH_USDC),
            QtyBelowMin,
            r"qty 5 is below the minimum order size 10",
        ),
    ],
)
def test_market_rules(call: Call, error: type[TachyonError], message: str) -> None:
    assert_refused(call, error, message)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.place_limit(ALICE, BID, 100, 1, market=MarketId("ETH/EUR")),
        lambda s: s.place_market(ALICE, ASK, 1, market=MarketId("ETH/EUR")),
        lambda s: s.place_limit(AccountId(""), BID, 100, 1, market=MarketId("ETH/EUR")),
    ],
)
def test_unknown_market(call: Call) -> None:
    assert_refused(
        call, MarketNotFound, r"unknown market 'ETH/EUR'; markets: BASE/USDC, ETH/USDC, SOL/USDC"
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: s.place_limit(ALICE, BID, 100, 1_000),
            r"insufficient available USDC: need 0\.1, have 0\.08899",
        ),
        # 2_225 ETH minor units at 20_000 cost 445_000, + 20 bps (890) locked up front
        (
            lambda s: s.place_limit(ALICE, BID, 20_000, 2_225, market=ETH_USDC),
            r"insufficient available USDC: need 0\.44589, have 0\.08899",
        ),
        (
            lambda s: s.place_limit(BOB, ASK, 120, 13),
            r"insufficient available BASE: need 13, have 12",
        ),
        (lambda s: s.place_market(BOB, ASK, 13), r"insufficient available BASE: need 13, have 12"),
        (
            lambda s: s.place_market(BOB, BID, None, max_quote=304),
            r"insufficient available USDC: need 0\.000304, have 0\.000303",
        ),
        # dave's market bid of 10 ETH minor units: 10 * 30_000 // 100 = 3_000 + 6 taker fee
        (
            lambda s: s.place_market(DAVE, BID, 10, market=ETH_USDC),
            r"insufficient available USDC: need 0\.003006, have 0$",
        ),
        (
            lambda s: s.place_limit(CAROL, ASK, 40_000, 105, market=ETH_USDC),
            r"insufficient available ETH: need 1\.05, have 0$",
        ),
    ],
)
def test_insufficient_funds(call: Call, message: str) -> None:
    assert_refused(call, InsufficientFunds, message)


def test_a_lock_past_the_amount_maximum_is_refused() -> None:
    assert_refused(
        lambda s: s.place_limit(ALICE, BID, PRICE_MAX, 2),
        InvalidAmount,
        rf"amount {PRICE_MAX * 2} exceeds the maximum {AMOUNT_MINOR_MAX}",
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.place_limit(FEE_ACCOUNT, BID, 100, 1),
        lambda s: s.place_limit(FEE_ACCOUNT, ASK, 20_000, 10, market=ETH_USDC),
        lambda s: s.place_market(FEE_ACCOUNT, BID, 1),
        lambda s: s.place_market(FEE_ACCOUNT, ASK, 1),
    ],
)
def test_the_fee_account_cannot_trade(call: Call) -> None:
    service = populated()
    service.deposit(FEE_ACCOUNT, USDC, 10_000)  # even with funds
    service.deposit(FEE_ACCOUNT, BASE, 10)
    before = capture(service)
    with pytest.raises(
        InvalidOrder, match=r"account tachyon:fees is the fee account; it cannot trade"
    ):
        call(service)
    assert capture(service) == before
    service.check_invariants()
    assert next_order_id(service) == NEXT_ID


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: s.place_limit(AccountId(""), BID, 100, 1),
            r"account '' must be a non-empty string",
        ),
        (lambda s: s.place_market(AccountId(""), BID, 1), r"account '' must be a non-empty string"),
        (lambda s: s.place_limit(7, BID, 100, 1), r"account 7 must be a non-empty string"),
        (lambda s: s.place_limit([], BID, 100, 1), r"account \[\] must be a non-empty string"),
        (lambda s: s.place_market({}, BID, 1), r"account \{\} must be a non-empty string"),
        (lambda s: s.place_limit(ALICE, "bid", 100, 1), r"side 'bid' must be one of: bid, ask"),
        (lambda s: s.place_limit(ALICE, None, 100, 1), r"side None must be one of: bid, ask"),
        (lambda s: s.place_market(ALICE, "ask", 1), r"side 'ask' must be one of: bid, ask"),
        (
            lambda s: s.place_limit(ALICE, BID, 100, 1, tif="gtc"),
            r"time in force 'gtc' must be one of: gtc, ioc, fok",
        ),
        (
            lambda s: s.place_limit(ALICE, BID, 100, 1, stp="allow"),
            r"self-trade prevention 'allow' must be one of: cancel_taker, cancel_maker, "
            r"cancel_both, decrement_and_cancel, allow",
        ),
        (
            lambda s: s.place_market(ALICE, BID, 1, stp="allow"),
            r"self-trade prevention 'allow' must be one of",
        ),
        (
            lambda s: s.place_limit(ALICE, BID, 100, 1, post_only="yes"),
            r"post_only 'yes' must be true or false",
        ),
        (
            lambda s: s.place_limit(ALICE, BID, 100, 1, post_only=True, tif=TimeInForce.IOC),
            r"post-only orders rest on the book, so tif must be gtc, not ioc",
        ),
        (
            lambda s: s.place_market(ALICE, BID, None),
            r"a market order needs a qty \(or, for a bid, max_quote\)",
        ),
        (
            lambda s: s.place_market(ALICE, ASK, 1, max_quote=100),
            r"max_quote bounds what a market bid spends; an ask sells a qty",
        ),
    ],
)
def test_bad_options(call: Call, message: str) -> None:
    assert_refused(call, InvalidOrder, message)


@pytest.mark.parametrize(
    ("max_quote", "message"),
    [
        (0, r"max_quote 0 must be positive"),
        (-1, r"max_quote -1 must be positive"),
        (1.5, r"max_quote 1\.5 is not an integer"),
        (True, r"max_quote True is not an integer"),
    ],
)
def test_bad_max_quote(max_quote: object, message: str) -> None:
    assert_refused(
        lambda s: s.place_market(ALICE, BID, None, max_quote=max_quote),  # type: ignore[arg-type]
        InvalidAmount,
        message,
    )


def test_fill_or_kill_that_cannot_fill_changes_nothing() -> None:
    assert_refused(
        lambda s: s.place_limit(ALICE, BID, 110, 6, tif=TimeInForce.FOK),
        FillOrKillUnfillable,
        r"fill-or-kill bid of 6 at 110 cannot fill completely",
    )


def test_fill_or_kill_on_a_fee_market_changes_nothing() -> None:
    assert_refused(
        lambda s: s.place_limit(ALICE, BID, 30_000, 105, market=ETH_USDC, tif=TimeInForce.FOK),
        FillOrKillUnfillable,
        r"fill-or-kill bid of 105 at 30000 cannot fill completely",
    )


def test_fill_or_kill_blocked_by_self_trade_prevention_changes_nothing() -> None:
    # alice's own bid at 100 is the only liquidity; cancel-taker would stop at it
    assert_refused(
        lambda s: s.place_limit(
            ALICE, ASK, 100, 1, tif=TimeInForce.FOK, stp=SelfTradePrevention.CANCEL_TAKER
        ),
        FillOrKillUnfillable,
        r"fill-or-kill ask of 1 at 100 cannot fill completely",
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: s.place_limit(ALICE, BID, 120, 1, post_only=True),
            r"post-only bid at 120 would take liquidity at 110",
        ),
        (
            lambda s: s.place_limit(BOB, ASK, 90, 1, post_only=True),
            r"post-only ask at 90 would take liquidity at 100",
        ),
        (
            lambda s: s.place_limit(ALICE, ASK, 20_000, 10, market=ETH_USDC, post_only=True),
            r"post-only ask at 20000 would take liquidity at 20000",
        ),
    ],
)
def test_post_only_that_would_take_changes_nothing(call: Call, message: str) -> None:
    assert_refused(call, PostOnlyWouldTake, message)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda s: s.cancel(ALICE, OrderId(999)),
            OrderNotFound,
            r"order 999 is not open \(unknown, filled or cancelled\)",
        ),
        # order 3 was a market order: it never rested
        (lambda s: s.cancel(BOB, OrderId(3)), OrderNotFound, r"order 3 is not open"),
        (
            lambda s: s.cancel(ALICE, OrderId(2)),
            OrderNotOwned,
            r"order 2 belongs to another account",
        ),
        (
            lambda s: s.cancel(CAROL, OrderId(4)),
            OrderNotOwned,
            r"order 4 belongs to another account",
        ),
        (
            lambda s: s.cancel(FEE_ACCOUNT, OrderId(1)),
            OrderNotOwned,
            r"order 1 belongs to another account",
        ),
    ],
)
def test_bad_cancel(call: Call, error: type[TachyonError], message: str) -> None:
    assert_refused(call, error, message)


def test_cancelling_twice_is_refused_the_second_time() -> None:
    service = populated()
    service.cancel(BOB, OrderId(2))
    service.check_invariants()
    before = capture(service)
    with pytest.raises(OrderNotFound, match=r"order 2 is not open"):
        service.cancel(BOB, OrderId(2))
    assert capture(service) == before
    assert next_order_id(service) == NEXT_ID


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.deposit(ALICE, USDC, 0), InvalidAmount, r"amount 0 must be positive"),
        (lambda s: s.deposit(ALICE, USDC, -1), InvalidAmount, r"amount -1 must be positive"),
        (lambda s: s.deposit(ALICE, USDC, 1.5), InvalidAmount, r"amount 1\.5 is not an integer"),
        (lambda s: s.deposit(ALICE, USDC, True), InvalidAmount, r"amount True is not an integer"),
        (
            lambda s: s.deposit(ALICE, USDC, AMOUNT_MINOR_MAX),
            SupplyExceeded,
            r"would take its supply past the maximum",
        ),
        (
            lambda s: s.deposit(ALICE, TokenId("DOGE"), 1),
            TokenNotFound,
            r"unknown token 'DOGE'",
        ),
        (
            lambda s: s.deposit(AccountId(""), USDC, 1),
            InvalidOrder,
            r"account '' must be a non-empty string",
        ),
        (
            lambda s: s.withdraw(ALICE, USDC, 88_991),
            InsufficientFunds,
            r"insufficient available USDC: need 0\.088991, have 0\.08899",
        ),
        (
            lambda s: s.withdraw(BOB, BASE, 13),
            InsufficientFunds,
            r"insufficient available BASE: need 13, have 12",
        ),
        (lambda s: s.withdraw(ALICE, ETH, 0), InvalidAmount, r"amount 0 must be positive"),
        (
            lambda s: s.withdraw(DAVE, ETH, 1),
            InsufficientFunds,
            r"insufficient available ETH: need 0\.01, have 0$",
        ),
    ],
)
def test_bad_deposit_or_withdrawal(call: Call, error: type[TachyonError], message: str) -> None:
    assert_refused(call, error, message)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda s: s.place_limit(DAVE, BID, 20_010, 50, market=ETH_USDC),
            PriceNotMultipleOfTick,
            r"price 20010 is not a multiple of tick size 20",
        ),
        (
            lambda s: s.place_limit(DAVE, ASK, 40_000, 52, market=ETH_USDC),
            QtyNotMultipleOfLot,
            r"qty 52 is not a multiple of lot size 5",
        ),
        (
            lambda s: s.place_limit(DAVE, BID, 100, 1, tif="gtc"),
            InvalidOrder,
            r"time in force 'gtc' must be one of",
        ),
    ],
)
def test_an_invalid_order_is_named_before_funds_are_checked(
    call: Call, error: type[TachyonError], message: str
) -> None:
    # dave has no funds; the order's own fault comes first (validation.py: "DexService calls
    # them before it locks funds"), as place_market already does.
    assert_refused(call, error, message)


def test_market_order_validation_comes_before_funds() -> None:
    assert_refused(
        lambda s: s.place_market(DAVE, ASK, 52, market=ETH_USDC),
        QtyNotMultipleOfLot,
        r"qty 52 is not a multiple of lot size 5",
    )

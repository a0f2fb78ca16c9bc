"""Goal: the operator's commands (tokens, markets, fees, collection, risk limits, halts,
deposits) apply only when the operator signed them, and the risk stage refuses exactly at each
limit's boundary, changing nothing; snapshots keep all of it.
Method: real Ed25519 keys against `Exchange.apply`, the state compared before and after."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from tachyon.dex.ids import AccountId, MarketId, TokenId
from tachyon.dex.model import FEE_ACCOUNT, Side, TimeInForce
from tachyon.errors import (
    AlreadyExists,
    InvalidConfig,
    MarketHalted,
    MaxNotionalExceeded,
    MaxOpenOrdersExceeded,
    MaxPositionExceeded,
    NotionalBelowMin,
    NotOperator,
    OutsidePriceBand,
    QtyAboveMax,
    TachyonError,
)
from tachyon.exchange.commands import (
    AccountCommand,
    AddMarket,
    AdminAddMarket,
    AdminAddToken,
    AdminCollectFees,
    AdminDeposit,
    AdminHaltMarket,
    AdminSetFees,
    AdminSetRisk,
    AmendOrder,
    AnyCommand,
    CancelAll,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    RegisterToken,
    SetFees,
    SetOperator,
    SetReceiveWindow,
)
from tachyon.exchange.events import CancelReason, OrderCancelled
from tachyon.exchange.service import CancelledOrders, Placement
from tachyon.exchange.state_machine import Exchange, Outcome, Refusal, decode_state
from tachyon.ledger.ledger import BalanceRecord
from tests.exchange.helpers import KEY_A, KEY_B, A, B, apply_command, signed

OPERATOR, STRANGER = A, B
ETH, USDC = TokenId("ETH"), TokenId("USDC")
ETH_USDC = MarketId("ETH/USDC")
TICK, LOT, MIN_QTY = 10_000, 100_000, 1_000_000  # 0.01 USDC, 0.001 ETH, 0.01 ETH
PRICE = 2_000_000_000  # 2,000 USDC per ETH
ALICE, BOB = AccountId("alice"), AccountId("bob")


def apply_next(exchange: Exchange, command: AnyCommand) -> Outcome | Refusal:
    return apply_command(exchange, command, exchange.seq + 1, exchange.ts_ns + 1)


@pytest.fixture
def nonces() -> Iterator[int]:
    return itertools.count(1)


Admin = Callable[[Callable[[int], AccountCommand]], Outcome | Refusal]


@pytest.fixture
def venue(nonces: Iterator[int]) -> tuple[Exchange, Admin]:
    """An exchange whose operator is A, with ETH (8 decimals) and ETH/USDC listed; alice and
    bob (plain accounts) funded. `admin(make)` signs `make(nonce)` with the operator's key."""
    exchange = Exchange()

    def admin(make: Callable[[int], AccountCommand]) -> Outcome | Refusal:
        return apply_next(exchange, signed(KEY_A, make(next(nonces))))

    assert admin(lambda n: SetOperator(OPERATOR, nonce=n)) is None
    assert admin(lambda n: AdminAddToken(OPERATOR, "ETH", 8, nonce=n)) is None
    listed = admin(lambda n: AdminAddMarket(OPERATOR, "ETH", "USDC", TICK, LOT, MIN_QTY, nonce=n))
    assert listed is None
    for account, token, amount in itertools.product((ALICE, BOB), ("USDC", "ETH"), (10**12,)):
        admin(partial(AdminDeposit, OPERATOR, account, token, amount))
    exchange.check_invariants()
    return exchange, admin


def _state(exchange: Exchange) -> tuple[bytes, object]:
    """Everything but the nonces (a refused signed command uses its nonce)."""
    return exchange.service.to_state(), exchange.venue.to_state()  # type: ignore[return-value]


def refused(exchange: Exchange, run: Callable[[], object], error: type[TachyonError]) -> str:
    """`run` is refused with `error` (raised, or a signed command's Refusal), nothing else
    changed; returns the message."""
    before = _state(exchange)
    try:
        outcome: object = run()
    except TachyonError as exc:
        outcome = Refusal(exc)  # raised (unsigned), or refused with its nonce used (signed)
    assert isinstance(outcome, Refusal), outcome
    assert isinstance(outcome.error, error), outcome.error
    message = str(outcome.error)
    assert _state(exchange) == before
    exchange.check_invariants()
    return message


def limit(account: AccountId, side: Side, price: int, qty: int, **options: object) -> PlaceLimit:
    return PlaceLimit(account, ETH_USDC, side, price, qty, **options)  # type: ignore[arg-type]


# -- the operator ------------------------------------------------------------------------------


def test_the_operator_is_set_once(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    assert exchange.venue.operator == OPERATOR
    message = refused(
        exchange, lambda: admin(lambda n: SetOperator(OPERATOR, nonce=n)), AlreadyExists
    )
    assert f"operator is {OPERATOR} already" in message
    stranger = signed(KEY_B, SetOperator(STRANGER, nonce=1))
    refused(exchange, lambda: apply_next(exchange, stranger), AlreadyExists)


ADMIN_COMMANDS: list[Callable[[AccountId, int], AccountCommand]] = [
    lambda who, n: AdminAddToken(who, "SOL", 6, nonce=n),
    lambda who, n: AdminAddMarket(who, "ETH", "BASE", 1, 1, 1, nonce=n),
    lambda who, n: AdminSetFees(who, "ETH/USDC", 5, 10, nonce=n),
    lambda who, n: AdminCollectFees(who, "USDC", nonce=n),
    lambda who, n: AdminSetRisk(who, "ETH/USDC", max_notional=10, nonce=n),
    lambda who, n: AdminHaltMarket(who, "ETH/USDC", True, nonce=n),
    lambda who, n: AdminDeposit(who, who, "USDC", 5, nonce=n),
]


@pytest.mark.parametrize("make", ADMIN_COMMANDS)
def test_every_admin_command_is_refused_for_anyone_but_the_operator(
    venue: tuple[Exchange, Admin], make: Callable[[AccountId, int], AccountCommand]
) -> None:
    exchange, _ = venue
    command = signed(KEY_B, make(STRANGER, 1))
    message = refused(exchange, lambda: apply_next(exchange, command), NotOperator)
    assert f"{STRANGER} is not this exchange's operator (it is {OPERATOR})" in message


@pytest.mark.parametrize(
    "command",
    [
        RegisterToken("SOL", 6),
        AddMarket("SOL", "USDC"),
        SetFees("BASE/USDC", 1, 2),
        SetReceiveWindow(5_000),
    ],
)
def test_unsigned_admin_commands_are_refused_once_there_is_an_operator(
    venue: tuple[Exchange, Admin], command: AnyCommand
) -> None:
    exchange, _ = venue
    message = refused(exchange, lambda: apply_next(exchange, command), NotOperator)
    assert "needs the operator's signature" in message
    fresh = Exchange()  # no operator: the library's commands apply as they always did
    apply_next(fresh, command)


def test_an_unsigned_operator_assignment_is_the_hosts() -> None:
    exchange = Exchange()
    assert apply_next(exchange, SetOperator(OPERATOR)) is None
    assert exchange.venue.operator == OPERATOR


# -- tokens and markets ------------------------------------------------------------------------


def test_a_token_whose_decimals_leave_too_little_room_is_refused(
    venue: tuple[Exchange, Admin],
) -> None:
    exchange, admin = venue
    message = refused(
        exchange,
        lambda: admin(lambda n: AdminAddToken(OPERATOR, "WEI", 18, nonce=n)),
        InvalidConfig,
    )
    assert "at most 18 whole units" in message
    assert "184,467,440,737" in message
    assert admin(lambda n: AdminAddToken(OPERATOR, "BTC", 10, nonce=n)) is None


def test_a_market_of_an_unregistered_token_is_refused(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    make = lambda n: AdminAddMarket(OPERATOR, "DOGE", "USDC", 1, 1, 1, nonce=n)  # noqa: E731
    assert "token DOGE is not registered" in refused(exchange, lambda: admin(make), InvalidConfig)


def test_a_listed_market_records_its_engine_and_size_limits(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    admin(lambda n: AdminAddToken(OPERATOR, "SOL", 0, nonce=n))
    make = lambda n: AdminAddMarket(  # noqa: E731
        OPERATOR,
        "SOL",
        "USDC",
        1,
        10,
        10,
        max_qty=100,
        min_notional=50,
        engine="in_memory",
        nonce=n,
    )
    assert admin(make) is None
    rules = exchange.venue.rules_of(MarketId("SOL/USDC"))
    assert (rules.max_qty, rules.min_notional, rules.engine) == (100, 50, "in_memory")
    assert exchange.service.engine_of(MarketId("SOL/USDC")) == "in_memory"
    sol = MarketId("SOL/USDC")
    too_big = PlaceLimit(ALICE, sol, Side.BID, 1, 110)
    assert "exceeds the market's max_qty 100" in refused(
        exchange, lambda: apply_next(exchange, too_big), QtyAboveMax
    )
    too_small = PlaceLimit(ALICE, sol, Side.BID, 1, 10)  # notional 10, min_notional 50
    refused(exchange, lambda: apply_next(exchange, too_small), NotionalBelowMin)


# -- fees, collection, deposits ----------------------------------------------------------------


def test_fees_land_in_the_fee_account_and_the_operator_collects_them(
    venue: tuple[Exchange, Admin],
) -> None:
    exchange, admin = venue
    admin(lambda n: AdminSetFees(OPERATOR, "ETH/USDC", 10, 20, nonce=n))
    apply_next(exchange, limit(ALICE, Side.ASK, PRICE, MIN_QTY))
    apply_next(exchange, limit(BOB, Side.BID, PRICE, MIN_QTY))
    notional = PRICE * MIN_QTY // 10**8  # 20 USDC
    fees = notional * 10 // 10_000 + notional * 20 // 10_000
    assert exchange.service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(fees, 0)
    collected = admin(lambda n: AdminCollectFees(OPERATOR, "USDC", nonce=n))
    assert collected == BalanceRecord(fees, 0)
    assert exchange.service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(0, 0)
    exchange.check_invariants()


# -- halts -------------------------------------------------------------------------------------


def test_a_halted_market_refuses_orders_and_accepts_cancels(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    resting = apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY))
    assert isinstance(resting, Placement)
    admin(lambda n: AdminHaltMarket(OPERATOR, "ETH/USDC", True, nonce=n))
    order = limit(BOB, Side.ASK, PRICE, MIN_QTY)
    assert "ETH/USDC is halted" in refused(
        exchange, lambda: apply_next(exchange, order), MarketHalted
    )
    market = PlaceMarket(BOB, ETH_USDC, Side.ASK, MIN_QTY)
    refused(exchange, lambda: apply_next(exchange, market), MarketHalted)
    cancelled = apply_next(exchange, CancelOrder(ALICE, resting.order_id))
    assert isinstance(cancelled, Placement)
    second = apply_next(exchange, CancelAll(ALICE))  # a mass cancel too (nothing left now)
    assert isinstance(second, CancelledOrders) and second.placements == []
    admin(lambda n: AdminHaltMarket(OPERATOR, "ETH/USDC", False, nonce=n))
    assert isinstance(apply_next(exchange, order), Placement)


def test_a_halted_market_accepts_an_amend_down_and_refuses_any_other(
    venue: tuple[Exchange, Admin],
) -> None:
    exchange, admin = venue
    resting = apply_next(exchange, limit(ALICE, Side.BID, PRICE, 3 * MIN_QTY))
    assert isinstance(resting, Placement)
    admin(lambda n: AdminHaltMarket(OPERATOR, "ETH/USDC", True, nonce=n))
    for price, qty in ((PRICE + TICK, None), (None, 4 * MIN_QTY)):
        amend = AmendOrder(ALICE, resting.order_id, price, qty)
        refused(exchange, partial(apply_next, exchange, amend), MarketHalted)
    down = apply_next(exchange, AmendOrder(ALICE, resting.order_id, qty=2 * MIN_QTY))
    assert isinstance(down, Placement) and down.open_qty == 2 * MIN_QTY  # a partial cancel


def test_a_halted_market_refuses_stops_and_orders_with_new_options(
    venue: tuple[Exchange, Admin],
) -> None:
    exchange, admin = venue
    admin(lambda n: AdminHaltMarket(OPERATOR, "ETH/USDC", True, nonce=n))
    stop = PlaceStop(ALICE, ETH_USDC, Side.ASK, PRICE, None, MIN_QTY)
    assert "ETH/USDC is halted" in refused(
        exchange, partial(apply_next, exchange, stop), MarketHalted
    )
    iceberg = PlaceOrder(ALICE, ETH_USDC, Side.BID, PRICE, 3 * MIN_QTY, display_qty=MIN_QTY)
    refused(exchange, partial(apply_next, exchange, iceberg), MarketHalted)


def test_an_amend_is_judged_as_the_order_it_becomes(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    apply_next(exchange, limit(BOB, Side.ASK, PRICE + 2 * TICK, MIN_QTY))
    bid = apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY))
    assert isinstance(bid, Placement)
    held = exchange.service.base_position(ALICE, ETH)
    admin(
        lambda n: AdminSetRisk(
            OPERATOR, "ETH/USDC", price_band_bps=100, max_position=held + LOT, nonce=n
        )
    )
    far = AmendOrder(ALICE, bid.order_id, price=PRICE // 2)
    assert "outside ETH/USDC's price band" in refused(
        exchange, partial(apply_next, exchange, far), OutsidePriceBand
    )
    bigger = AmendOrder(ALICE, bid.order_id, qty=MIN_QTY + 2 * LOT)
    refused(exchange, partial(apply_next, exchange, bigger), MaxPositionExceeded)
    one_lot_more = apply_next(exchange, AmendOrder(ALICE, bid.order_id, qty=MIN_QTY + LOT))
    assert isinstance(one_lot_more, Placement) and one_lot_more.open_qty == MIN_QTY + LOT
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", max_notional=1, nonce=n))
    smaller = apply_next(exchange, AmendOrder(ALICE, bid.order_id, qty=MIN_QTY))
    assert isinstance(smaller, Placement)  # only takes risk away: passes every check
    moved = AmendOrder(ALICE, bid.order_id, price=PRICE - TICK)
    refused(exchange, partial(apply_next, exchange, moved), MaxNotionalExceeded)
    exchange.check_invariants()


# -- risk limits at their boundaries ------------------------------------------------------------


def test_max_notional_accepts_the_limit_and_refuses_one_tick_more(
    venue: tuple[Exchange, Admin],
) -> None:
    exchange, admin = venue
    at_limit = PRICE * MIN_QTY // 10**8
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", max_notional=at_limit, nonce=n))
    over = limit(ALICE, Side.BID, PRICE + TICK, MIN_QTY)
    message = refused(exchange, lambda: apply_next(exchange, over), MaxNotionalExceeded)
    assert f"max_notional {at_limit}" in message
    assert isinstance(apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY)), Placement)


def test_the_price_band_is_measured_from_the_unrounded_mid(venue: tuple[Exchange, Admin]) -> None:
    """100 * |p - mid| <= 1 * mid around the mid 2,000.01 (best bid 2,000.00, best ask
    2,000.02): prices from 1,980.0099 to 2,020.0101, so ticks 1,980.01 to 2,020.01."""
    exchange, admin = venue
    apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY))
    apply_next(exchange, limit(BOB, Side.ASK, PRICE + 2 * TICK, MIN_QTY))
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", price_band_bps=100, nonce=n))  # 1%
    highest, lowest = 2_020_010_000, 1_980_010_000
    for price, side in ((highest + TICK, Side.ASK), (lowest - TICK, Side.BID)):
        outside = limit(BOB, side, price, MIN_QTY)
        message = refused(exchange, partial(apply_next, exchange, outside), OutsidePriceBand)
        assert f"price {price} is outside ETH/USDC's price band of 100 bps" in message
    for price, side in ((highest, Side.ASK), (lowest, Side.BID)):  # neither crosses
        assert isinstance(apply_next(exchange, limit(BOB, side, price, MIN_QTY)), Placement)


def test_a_market_order_takes_only_what_lies_inside_the_band(
    venue: tuple[Exchange, Admin],
) -> None:
    exchange, admin = venue
    apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY))
    apply_next(exchange, limit(BOB, Side.ASK, PRICE + 2 * TICK, MIN_QTY))
    far = PRICE * 2  # far outside any 1% band
    apply_next(exchange, limit(BOB, Side.ASK, far, MIN_QTY))
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", price_band_bps=100, nonce=n))
    placement = apply_next(exchange, PlaceMarket(ALICE, ETH_USDC, Side.BID, 2 * MIN_QTY))
    assert isinstance(placement, Placement)
    assert placement.filled_qty == MIN_QTY
    assert [trade.price for trade in placement.trades] == [PRICE + 2 * TICK]
    last = placement.events[-1]
    assert isinstance(last, OrderCancelled)
    assert (last.reason, last.cancelled_qty) == (CancelReason.PRICE_BAND, MIN_QTY)
    exchange.check_invariants()


def test_a_market_order_takes_the_band_s_edge_and_nothing_beyond_it(
    venue: tuple[Exchange, Admin],
) -> None:
    """The band around the mid 2,000.01 reaches 2,020.0101: the tick 2,020.01 is inside."""
    exchange, admin = venue
    apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY))
    apply_next(exchange, limit(BOB, Side.ASK, PRICE + 2 * TICK, MIN_QTY))
    highest = 2_020_010_000
    apply_next(exchange, limit(BOB, Side.ASK, highest, MIN_QTY))
    apply_next(exchange, limit(BOB, Side.ASK, highest + TICK, MIN_QTY))
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", price_band_bps=100, nonce=n))
    placement = apply_next(exchange, PlaceMarket(ALICE, ETH_USDC, Side.BID, 3 * MIN_QTY))
    assert isinstance(placement, Placement)
    assert [trade.price for trade in placement.trades] == [PRICE + 2 * TICK, highest]
    assert exchange.service.snapshot(1, ETH_USDC).asks[0].price == highest + TICK
    exchange.check_invariants()


def test_nothing_inside_the_band_refuses_a_market_order_naming_the_band(
    venue: tuple[Exchange, Admin],
) -> None:
    exchange, admin = venue
    apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY))
    apply_next(exchange, limit(BOB, Side.ASK, PRICE * 2, MIN_QTY))
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", price_band_bps=100, nonce=n))
    market_bid = PlaceMarket(ALICE, ETH_USDC, Side.BID, MIN_QTY)
    message = refused(exchange, lambda: apply_next(exchange, market_bid), OutsidePriceBand)
    assert "nothing rests inside ETH/USDC's price band of 100 bps" in message
    assert "prices 2970000000 to 3030000000" in message  # 1% around the mid, 3,000.00


def test_max_position_counts_balances_and_open_bids(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    held = exchange.service.base_position(ALICE, ETH)
    assert held == 10**12
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", max_position=held + 2 * MIN_QTY, nonce=n))
    assert isinstance(apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY)), Placement)
    assert isinstance(apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY)), Placement)
    one_more = limit(ALICE, Side.BID, PRICE, LOT)
    assert "would exceed ETH/USDC's max_position" in refused(
        exchange, lambda: apply_next(exchange, one_more), MaxPositionExceeded
    )
    assert isinstance(apply_next(exchange, limit(ALICE, Side.ASK, PRICE * 2, MIN_QTY)), Placement)


def test_a_partly_filled_bid_counts_what_it_bought_and_what_is_still_open(
    venue: tuple[Exchange, Admin],
) -> None:
    exchange, admin = venue
    service = exchange.service
    start = service.base_position(ALICE, ETH)
    apply_next(exchange, limit(ALICE, Side.BID, PRICE, 3 * MIN_QTY))
    assert service.exposure(ALICE, ETH_USDC) == (start + 3 * MIN_QTY, 1)
    apply_next(exchange, limit(BOB, Side.ASK, PRICE, MIN_QTY))  # fills a third of it
    held, open_orders = service.exposure(ALICE, ETH_USDC)
    assert (held, open_orders) == (service.base_position(ALICE, ETH), 1)
    assert held == start + 3 * MIN_QTY  # bought base in, open bid quantity down, alike
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", max_position=held + MIN_QTY, nonce=n))
    assert isinstance(apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY)), Placement)
    with pytest.raises(MaxPositionExceeded):
        apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY))
    exchange.check_invariants()


def test_max_open_orders_counts_resting_orders_only(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", max_open_orders=2, nonce=n))
    for _ in range(2):
        apply_next(exchange, limit(ALICE, Side.BID, PRICE, MIN_QTY))
    third = limit(ALICE, Side.BID, PRICE, MIN_QTY)
    assert "has 2 open orders on ETH/USDC" in refused(
        exchange, lambda: apply_next(exchange, third), MaxOpenOrdersExceeded
    )
    ioc = limit(ALICE, Side.BID, PRICE, MIN_QTY, tif=TimeInForce.IOC)
    assert isinstance(apply_next(exchange, ioc), Placement)


def test_omitted_limits_stay_and_clear_removes_them(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", max_notional=5, max_open_orders=3, nonce=n))
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", price_band_bps=50, nonce=n))
    limits = exchange.venue.rules_of(ETH_USDC).limits
    assert (limits.max_notional, limits.price_band_bps, limits.max_open_orders) == (5, 50, 3)
    admin(lambda n: AdminSetRisk(OPERATOR, "ETH/USDC", clear=True, nonce=n))
    limits = exchange.venue.rules_of(ETH_USDC).limits
    assert (limits.max_notional, limits.price_band_bps, limits.max_open_orders) == (None,) * 3


# -- snapshots ---------------------------------------------------------------------------------


def test_a_snapshot_keeps_the_operator_markets_fees_and_limits(
    venue: tuple[Exchange, Admin],
) -> None:
    exchange, admin = venue
    admin(lambda n: AdminSetFees(OPERATOR, "ETH/USDC", 10, 20, nonce=n))
    admin(
        lambda n: AdminSetRisk(
            OPERATOR, "ETH/USDC", max_notional=10**9, price_band_bps=250, nonce=n
        )
    )
    admin(lambda n: AdminHaltMarket(OPERATOR, "ETH/USDC", True, nonce=n))
    restored = decode_state(exchange.state_bytes())
    assert restored.state_hash() == exchange.state_hash()
    assert restored.venue.operator == OPERATOR
    assert restored.venue.rules == exchange.venue.rules
    assert Exchange().state_bytes() == decode_state(Exchange().state_bytes()).state_bytes()
    assert "venue" not in Exchange().to_state()  # no operator: the bytes of before


def test_an_operator_deposit_credits_any_account(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    record = admin(lambda n: AdminDeposit(OPERATOR, STRANGER, "USDC", 7, nonce=n))
    assert record == BalanceRecord(7, 0)
    assert isinstance(apply_next(exchange, Deposit(STRANGER, "USDC", 1)), BalanceRecord)


def test_a_rebate_is_bounded_by_the_taker_fee(venue: tuple[Exchange, Admin]) -> None:
    exchange, admin = venue
    too_generous = lambda n: AdminSetFees(OPERATOR, "ETH/USDC", -26, 25, nonce=n)  # noqa: E731
    message = refused(exchange, lambda: admin(too_generous), InvalidConfig)
    assert "a rebate, paid out of the taker fee" in message
    admin(lambda n: AdminSetFees(OPERATOR, "ETH/USDC", -25, 25, nonce=n))
    apply_next(exchange, limit(ALICE, Side.ASK, PRICE, MIN_QTY))
    apply_next(exchange, limit(BOB, Side.BID, PRICE, MIN_QTY))
    # 20 USDC: the taker pays 0.05, the maker gets 0.05 back, the venue keeps nothing.
    assert exchange.service.balance(FEE_ACCOUNT, USDC) == BalanceRecord(0, 0)
    exchange.check_invariants()

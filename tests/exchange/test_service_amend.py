"""Goal: an amend changes an open order's price or total quantity with Binance's rules (a
smaller quantity at the same price keeps its place; a new price or more goes to the back of its
level and matches what crosses at the makers' prices; the filled part counts toward the total),
its lock follows the change exactly, and every refusal changes nothing.
Method: small books on the default market (and a fee market) through `DexService`, with the
queue order read back by the fills of a later taker."""

from __future__ import annotations

import pytest

from tachyon.dex.model import FeeSchedule, OrderStatus, Side
from tachyon.errors import (
    InsufficientFunds,
    InvalidInput,
    InvalidOrder,
    OrderNotFound,
    OrderNotOwned,
    PostOnlyWouldTake,
)
from tachyon.exchange.events import Filled, OrderAmended, OrderRested
from tachyon.exchange.service import DexService
from tests.exchange.helpers import ALICE, BOB, CAROL, DEFAULT, USDC, capture, fund

BID, ASK = Side.BID, Side.ASK


def _service() -> DexService:
    service = DexService()
    for owner in (ALICE, BOB, CAROL):
        fund(service, owner, USDC=1_000_000, BASE=1_000)
    return service


def _maker_order(service: DexService, taker_qty: int, side: Side = BID) -> list[int]:
    """The makers a taker of `taker_qty` meets, in the order it meets them."""
    placement = service.place_market(CAROL, side.opposite, taker_qty)
    return [trade.maker_order_id for trade in placement.trades]


def test_a_smaller_quantity_keeps_its_place() -> None:
    service = _service()
    first = service.place_limit(ALICE, BID, 100, 10).order_id
    second = service.place_limit(BOB, BID, 100, 10).order_id
    amended = service.amend(ALICE, first, qty=4)
    assert (amended.status, amended.open_qty, amended.qty) == (OrderStatus.NEW, 4, 4)
    assert [type(e) for e in amended.events] == [OrderAmended, OrderRested]
    event = amended.events[0]
    assert isinstance(event, OrderAmended) and event.kept_priority
    assert (event.old_price, event.old_open_qty) == (100, 10)
    assert service.balance(ALICE, USDC).locked == 400  # the lock follows: 4 at 100
    service.check_invariants()
    assert _maker_order(service, 14) == [first, second]


@pytest.mark.parametrize(("price", "qty"), [(100, 12), (101, None), (99, None)])
def test_a_new_price_or_more_goes_to_the_back(price: int, qty: int | None) -> None:
    service = _service()
    first = service.place_limit(ALICE, BID, 100, 10).order_id
    service.place_limit(BOB, BID, price, 10)
    amended = service.amend(ALICE, first, price if price != 100 else None, qty)
    event = amended.events[0]
    assert isinstance(event, OrderAmended) and not event.kept_priority
    open_qty = qty or 10
    assert service.balance(ALICE, USDC).locked == price * open_qty
    service.check_invariants()
    met = _maker_order(service, 30)
    assert met[-1] == first  # behind Bob's order at its level, or below it


def test_the_filled_part_counts_toward_the_new_total() -> None:
    service = _service()
    order_id = service.place_limit(ALICE, ASK, 100, 10).order_id
    service.place_market(BOB, BID, 4)  # 4 filled, 6 open
    amended = service.amend(ALICE, order_id, qty=8)  # 8 in all: 4 open
    assert (amended.filled_qty, amended.open_qty, amended.qty) == (4, 4, 8)
    assert amended.status is OrderStatus.PARTIALLY_FILLED
    owned = service.get_order(order_id)
    assert owned is not None
    assert (owned.order.filled_qty, owned.order.remaining_qty, owned.locked) == (4, 4, 4)
    for total in (4, 3, 0):  # what is filled, below it, zero
        before = capture(service)
        with pytest.raises(InvalidInput, match="qty"):
            service.amend(ALICE, order_id, qty=total)
        assert capture(service) == before
    service.check_invariants()


def test_a_crossing_amend_trades_at_the_makers_prices() -> None:
    service = _service()
    service.place_limit(BOB, ASK, 101, 3)
    service.place_limit(BOB, ASK, 102, 3)
    order_id = service.place_limit(ALICE, BID, 99, 10).order_id
    amended = service.amend(ALICE, order_id, price=102)
    assert [(t.price, t.qty, t.taker_order_id) for t in amended.trades] == [
        (101, 3, order_id),
        (102, 3, order_id),
    ]
    assert (amended.filled_qty, amended.open_qty) == (6, 4)
    kinds = [type(e) for e in amended.events]
    assert kinds == [OrderAmended, Filled, Filled, OrderRested]
    alice = service.balance(ALICE, USDC)
    assert alice.locked == 4 * 102  # what rests at its new price
    assert alice.available == 1_000_000 - 101 * 3 - 102 * 3 - 4 * 102
    service.check_invariants()


def test_an_amend_that_fills_completely_leaves_the_book() -> None:
    service = _service()
    service.place_limit(BOB, ASK, 101, 10)
    order_id = service.place_limit(ALICE, BID, 99, 5).order_id
    amended = service.amend(ALICE, order_id, price=101)
    assert amended.status is OrderStatus.FILLED and amended.open_qty == 0
    assert service.get_order(order_id) is None
    assert service.balance(ALICE, USDC).locked == 0
    service.check_invariants()


def test_the_lock_follows_with_fees() -> None:
    service = _service()
    service.set_fees(DEFAULT, FeeSchedule(maker_bps=10, taker_bps=20))
    order_id = service.place_limit(ALICE, BID, 1_000, 10).order_id
    assert service.balance(ALICE, USDC).locked == 10_010  # the maker fee held
    service.amend(ALICE, order_id, price=2_000, qty=20)
    assert service.balance(ALICE, USDC).locked == 40_040
    service.amend(ALICE, order_id, qty=5)
    assert service.balance(ALICE, USDC).locked == 10_010
    service.check_invariants()


def test_refusals_change_nothing() -> None:
    service = _service()
    fund(service, "dave", USDC=1_000)  # type: ignore[arg-type]
    dave = service.place_limit("dave", BID, 100, 10).order_id  # type: ignore[arg-type]
    service.place_limit(BOB, ASK, 110, 10)
    post = service.place_limit(ALICE, BID, 100, 5, post_only=True).order_id
    cases: list[tuple[object, type[Exception]]] = [
        (lambda: service.amend("dave", dave, price=101), InsufficientFunds),  # type: ignore[arg-type]
        (lambda: service.amend("dave", dave, qty=11), InsufficientFunds),  # type: ignore[arg-type]
        (lambda: service.amend(ALICE, dave, qty=5), OrderNotOwned),
        (lambda: service.amend(ALICE, 999, qty=5), OrderNotFound),  # type: ignore[arg-type]
        (lambda: service.amend(ALICE, post), InvalidOrder),  # nothing to change
        (lambda: service.amend(ALICE, post, price=100, qty=5), InvalidOrder),  # the same
        (lambda: service.amend(ALICE, post, price=110), PostOnlyWouldTake),
        (lambda: service.amend(ALICE, post, price=0), InvalidInput),
        (lambda: service.amend(ALICE, post, qty=-1), InvalidInput),
    ]
    for call, error in cases:
        before = capture(service)
        with pytest.raises(error):
            call()  # type: ignore[operator]
        assert capture(service) == before
    service.check_invariants()

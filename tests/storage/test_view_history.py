"""Goal: the read model records what the exchange's state forgets: when each order was placed
and each trade made (the journal time of its command), each fill's maker and taker fee, and
every closed order; `ReadView` answers an account's history from it, newest first, by market
and limit. A version 4 database is upgraded with its view kept current, and history a writer
without the read model left out is no fault that `audit --repair` cannot fill in. Method: real
EmbeddedExchange directories on SQLite files with a step clock, read back through ReadView,
the audit and raw SQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

import pytest

from tachyon.dex.model import Side
from tachyon.errors import InvalidOrder, MarketNotFound
from tachyon.exchange.commands import CancelOrder, Deposit, PlaceLimit, PlaceMarket, SetFees
from tachyon.storage import EmbeddedExchange, ReadView, audit
from tachyon.storage.audit import repair
from tachyon.storage.view import ClosedOrderRow, FillRow
from tests.exchange.helpers import ALICE, BOB, CAROL, ETH, USDC
from tests.storage.helpers import ADD_ETH, DB_NAME, ETH_MARKET, StepClock, user_version

BID, ASK = Side.BID, Side.ASK
MARKET: Final = "BASE/USDC"
PRICE: Final = 2_000_000  # 2 USDC (6 decimals) per BASE (0 decimals)
STEP_NS: Final = 1_000


class Session:
    """A directory on a step clock: each command gets its own time, recorded in `times`."""

    def __init__(self, data_dir: Path, *, read_model: bool = True, now: int = 0) -> None:
        self.clock = StepClock()
        self.clock.now = max(self.clock.now, now)
        self.host = EmbeddedExchange.open(data_dir, clock=self.clock, read_model=read_model)
        self.data_dir = data_dir

    def submit(self, *commands: object) -> int:
        """Submit the commands as one batch; the time they got."""
        self.clock.now += STEP_NS
        self.host.submit_batch(list(commands))  # type: ignore[arg-type]
        return self.clock.now

    def view(self) -> ReadView:
        view = ReadView.open(self.data_dir)
        assert view is not None
        return view


def _funded(data_dir: Path) -> Session:
    session = Session(data_dir)
    session.submit(
        SetFees(MARKET, 10, 20),  # 0.1% maker, 0.2% taker, in USDC
        ADD_ETH,
        Deposit(ALICE, USDC, 10**9),
        Deposit(BOB, "BASE", 100),
        Deposit(BOB, USDC, 10**9),
        Deposit(CAROL, ETH, 10_000),
        Deposit(CAROL, USDC, 10**9),
    )
    return session


def test_trades_and_open_orders_carry_their_command_times_and_fees(tmp_path: Path) -> None:
    session = _funded(tmp_path)
    placed = session.submit(PlaceLimit(ALICE, MARKET, BID, PRICE, 10))  # order 1 rests
    traded = session.submit(PlaceMarket(BOB, MARKET, ASK, 4))  # order 2 takes 4 of it
    with session.view() as view:
        (trade,) = view.trades(MARKET, 10)
        (order,) = view.open_orders(ALICE)
    notional = PRICE * 4
    assert (trade.ts_ns, trade.maker_fee, trade.taker_fee) == (
        traded,
        notional * 10 // 10_000,
        notional * 20 // 10_000,
    )
    assert (order.order_id, order.remaining, order.ts_ns) == (1, 6, placed)
    session.submit(SetFees(MARKET, 5, 20))  # a rebuild of the open orders keeps their times
    with session.view() as view:
        assert view.open_orders(ALICE)[0].ts_ns == placed
    session.host.close()


def test_an_accounts_history_is_its_closed_orders_and_fills_newest_first(tmp_path: Path) -> None:
    session = _funded(tmp_path)
    rest = session.submit(PlaceLimit(ALICE, MARKET, BID, PRICE, 10))  # 1
    take = session.submit(PlaceMarket(BOB, MARKET, ASK, 4))  # 2: filled at once
    take_seq = session.host.seq
    cancel = session.submit(CancelOrder(ALICE, 1))  # alice's rest: cancelled, 4 filled
    eth = session.submit(
        PlaceLimit(CAROL, ETH_MARKET, ASK, 2_000, 10),  # 3
        PlaceLimit(ALICE, ETH_MARKET, BID, 2_000, 10),  # 4: takes all of 3
    )
    eth_seq = session.host.seq
    ioc = session.submit(PlaceMarket(ALICE, MARKET, BID, 5))  # 5: nothing to take
    notional = PRICE * 4
    with session.view() as view:
        orders = view.closed_orders(ALICE, None, 10)
        fills = view.fills(ALICE, None, 10)
        assert view.closed_orders(ALICE, MARKET, 10) == [orders[0], orders[2]]
        assert view.closed_orders(ALICE, None, 1) == orders[:1]
        assert view.fills(ALICE, MARKET, 10) == fills[1:]
        assert view.fills(BOB, None, 10)[0].role == "taker"
        assert view.closed_orders(BOB, None, 10) == [
            ClosedOrderRow(2, MARKET, "ask", None, 4, 4, "filled", None, take, take)
        ]
        with pytest.raises(MarketNotFound, match="X/Y"):
            view.closed_orders(ALICE, "X/Y", 10)
        with pytest.raises(MarketNotFound, match="X/Y"):
            view.fills(ALICE, "X/Y", 10)
        with pytest.raises(InvalidOrder, match="limit"):
            view.fills(ALICE, None, -1)
    assert orders == [
        ClosedOrderRow(5, MARKET, "bid", None, 5, 0, "cancelled", "unfilled", ioc, ioc),
        ClosedOrderRow(4, ETH_MARKET, "bid", 2_000, 10, 10, "filled", None, eth, eth),
        ClosedOrderRow(1, MARKET, "bid", PRICE, 10, 4, "cancelled", "user", rest, cancel),
    ]
    eth_fee = 0  # ETH/USDC's fees are 0 bps (ADD_ETH)
    assert fills == [
        FillRow(1, ETH_MARKET, 4, "bid", "taker", 2_000, 10, eth_fee, eth_seq, eth),
        FillRow(1, MARKET, 1, "bid", "maker", PRICE, 4, notional // 1_000, take_seq, take),
    ]
    session.host.close()


def test_a_fee_change_that_cancels_an_order_closes_it_for_fees(tmp_path: Path) -> None:
    session = Session(tmp_path)
    session.submit(Deposit(ALICE, USDC, PRICE * 10))  # exactly the bid: nothing for a fee
    placed = session.submit(PlaceLimit(ALICE, MARKET, BID, PRICE, 10))
    changed = session.submit(SetFees(MARKET, 10, 20))  # the maker fee cannot be held
    with session.view() as view:
        assert view.open_orders(ALICE) == []
        assert view.closed_orders(ALICE, None, 5) == [
            ClosedOrderRow(1, MARKET, "bid", PRICE, 10, 0, "cancelled", "fees", placed, changed)
        ]
    session.host.close()
    assert audit(tmp_path).read_model == "ok"


_V5_ONLY: Final = (
    "DROP INDEX view_trades_by_maker",
    "DROP INDEX view_trades_by_taker",
    "DROP TABLE view_closed_orders",
    "ALTER TABLE view_orders DROP COLUMN ts_ns",
    "ALTER TABLE view_trades DROP COLUMN maker_fee",
    "ALTER TABLE view_trades DROP COLUMN taker_fee",
    "ALTER TABLE view_balances DROP COLUMN debt",  # version 6's
    "PRAGMA user_version = 4",
)


def _schema(db_path: Path) -> dict[str, object]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
        return {
            name: conn.execute(f"PRAGMA index_info({name})").fetchall()
            if name.startswith("view_trades_by")
            else conn.execute(f"PRAGMA table_info({name})").fetchall()
            for name in names
        }
    finally:
        conn.close()


def test_a_version_4_database_is_upgraded_with_its_view_kept_current(tmp_path: Path) -> None:
    fresh = _funded(tmp_path / "fresh")
    fresh.host.close()
    session = _funded(tmp_path / "old")
    old_placed = session.submit(PlaceLimit(ALICE, MARKET, BID, PRICE, 10))
    session.submit(PlaceMarket(BOB, MARKET, ASK, 4))
    session.host.close()
    db_path = tmp_path / "old" / DB_NAME
    conn = sqlite3.connect(db_path)
    for statement in _V5_ONLY:  # the database as version 4 left it
        conn.execute(statement)
    conn.commit()
    conn.close()
    assert user_version(db_path) == 4
    assert ReadView.open(tmp_path / "old") is None  # another schema version

    session = Session(tmp_path / "old", now=session.clock.now)  # upgrades
    assert user_version(db_path) == 6
    assert (tmp_path / "old" / f"{DB_NAME}.v4.bak").is_file()
    assert _schema(db_path) == _schema(tmp_path / "fresh" / DB_NAME)
    with session.view() as view:  # current at once: nothing to rebuild
        (order,) = view.open_orders(ALICE)
        (trade,) = view.trades(MARKET, 5)
    assert (order.ts_ns, trade.ts_ns, trade.maker_fee) == (None, trade.ts_ns, None)
    cancelled = session.submit(CancelOrder(ALICE, 1))
    with session.view() as view:  # closed now, placed when nobody recorded it
        assert view.closed_orders(ALICE, None, 5) == [
            ClosedOrderRow(1, MARKET, "bid", PRICE, 10, 4, "cancelled", "user", None, cancelled)
        ]
    session.host.close()
    assert audit(tmp_path / "old").read_model == "ok"  # what was never recorded is no fault
    assert repair(tmp_path / "old").read_model == "ok"  # ... and the journal has it all
    repaired = ReadView.open(tmp_path / "old")
    assert repaired is not None
    with repaired as view:
        assert view.closed_orders(ALICE, None, 5)[0].ts_ns == old_placed
        assert view.trades(MARKET, 5)[0].maker_fee == PRICE * 4 * 10 // 10_000


def test_history_a_writer_without_the_read_model_left_out_is_filled_in_by_repair(
    tmp_path: Path,
) -> None:
    session = _funded(tmp_path)
    placed = session.submit(PlaceLimit(ALICE, MARKET, BID, PRICE, 10))  # 1, recorded
    session.host.close()
    blind = Session(tmp_path, read_model=False, now=session.clock.now)
    blind.submit(PlaceMarket(BOB, MARKET, ASK, 4))  # 2: fills 4 of alice's bid
    carol = blind.submit(PlaceLimit(CAROL, MARKET, BID, PRICE, 1))  # 3: rests
    blind.host.close()
    session = Session(tmp_path, now=blind.clock.now)
    done = session.submit(CancelOrder(ALICE, 1), CancelOrder(CAROL, 3))  # the view was behind
    with session.view() as view:  # neither placement is known to the batch: no rows
        assert view.closed_orders(ALICE, None, 5) == []
        assert view.closed_orders(CAROL, None, 5) == []
    session.host.close()
    assert audit(tmp_path).read_model == "ok"
    assert repair(tmp_path).read_model == "ok"
    repaired = ReadView.open(tmp_path)
    assert repaired is not None
    with repaired as view:
        assert view.closed_orders(ALICE, None, 5) == [
            ClosedOrderRow(1, MARKET, "bid", PRICE, 10, 4, "cancelled", "user", placed, done)
        ]
        assert view.closed_orders(CAROL, None, 5)[0][7:] == ("user", carol, done)
        assert [fill.role for fill in view.fills(BOB, None, 5)] == ["taker"]

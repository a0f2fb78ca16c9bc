"""Goal: the read model (view tables) always equals the exchange state at the journal's head,
however commands arrive, and `ReadView` answers from it alone. Method: seeded random flows
through EmbeddedExchange on real SQLite files (batches, single submits, refusals, self-trade
prevention, fee changes, new markets, signed commands), compared after each step with the host's
state; two hosts and a second process on one directory; the reader's own rules. Seeds are
printed on failure by their test ids; VIEW_SEEDS=1,2 replays chosen ones."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tachyon.dex.ids import AccountId, MarketId
from tachyon.dex.in_memory import InMemoryEngine
from tachyon.dex.model import SelfTradePrevention, Side
from tachyon.errors import InvalidOrder, MarketNotFound, OrderNotFound, TachyonError
from tachyon.exchange.auth import address_of, sign
from tachyon.exchange.commands import (
    AddMarket,
    AnyCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    RegisterToken,
    SetFees,
    SignedCommand,
    encode_command,
)
from tachyon.exchange.engines import engine_names, register_engine
from tachyon.exchange.events import CancelReason, OrderCancelled, OrderReduced
from tachyon.exchange.service import Placement
from tachyon.exchange.state_machine import Exchange
from tachyon.storage import EmbeddedExchange, ReadView, audit
from tachyon.storage.audit import repair
from tests.exchange.helpers import ALICE, BOB, CAROL, ETH, SOL, SOL_CONFIG, USDC
from tests.storage.helpers import (
    ADD_ETH,
    DB_NAME,
    ETH_MARKET,
    Flow,
    StepClock,
    apply_one,
    assert_view_matches,
    make_flow,
    submit_one,
)

BID, ASK = Side.BID, Side.ASK
SOL_MARKET: Final = SOL_CONFIG.market_id
ROOT: Final = Path(__file__).resolve().parents[2]
SEEDS: Final = [int(seed) for seed in os.environ.get("VIEW_SEEDS", "").split(",") if seed] or list(
    range(12)
)
KEY: Final = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
SIGNER: Final = AccountId(address_of(KEY))

ADD_SOL: Final = AddMarket(
    base=SOL_CONFIG.base,
    quote=SOL_CONFIG.quote,
    tick_size=SOL_CONFIG.tick_size,
    lot_size=SOL_CONFIG.lot_size,
    min_qty=SOL_CONFIG.min_qty,
    base_decimals=SOL_CONFIG.base_decimals,
    quote_decimals=SOL_CONFIG.quote_decimals,
    maker_bps=SOL_CONFIG.fees.maker_bps,
    taker_bps=SOL_CONFIG.fees.taker_bps,
    fee_token=SOL_CONFIG.fees.fee_token,
)
"""SOL/USDC, fees in base (SOL is registered by `make_flow` with the same 2 decimals)."""


def signed(command: AnyCommand) -> SignedCommand:
    body = encode_command(command)
    return SignedCommand(body, sign(KEY, body))


def _stp_scenario() -> list[AnyCommand]:
    """A new market mid-flow, and self-trade prevention that shrinks and cancels makers on it:
    alice's asks are decremented, then cancelled by her own crossing bid that trades with bob."""
    decrement, cancel_maker = (
        SelfTradePrevention.DECREMENT_AND_CANCEL,
        SelfTradePrevention.CANCEL_MAKER,
    )
    return [
        ADD_SOL,
        RegisterToken("XYZ", 3),
        Deposit(ALICE, SOL, 10_000),
        Deposit(BOB, SOL, 10_000),
        Deposit(CAROL, "XYZ", 7),
        Deposit(SIGNER, USDC, 10**9),
        Deposit(SIGNER, SOL, 10_000),
        PlaceLimit(ALICE, SOL_MARKET, ASK, 40_000, 50),
        PlaceLimit(ALICE, SOL_MARKET, ASK, 40_000, 30),
        PlaceLimit(ALICE, SOL_MARKET, BID, 40_000, 20, stp=decrement),
        PlaceLimit(BOB, SOL_MARKET, ASK, 40_020, 40),
        PlaceLimit(ALICE, SOL_MARKET, BID, 40_020, 100, stp=cancel_maker),
        PlaceLimit(BOB, SOL_MARKET, BID, 39_980, 20),
        PlaceLimit(BOB, SOL_MARKET, ASK, 39_980, 10, stp=SelfTradePrevention.CANCEL_BOTH),
        signed(PlaceLimit(SIGNER, SOL_MARKET, ASK, 40_100, 25, nonce=1)),
        signed(PlaceLimit(SIGNER, SOL_MARKET, BID, 39_900, 25, nonce=2)),
        signed(PlaceMarket(SIGNER, SOL_MARKET, ASK, 10, nonce=3)),
        signed(PlaceLimit(SIGNER, SOL_MARKET, BID, 40_100, 10, nonce=3)),  # stale nonce
        PlaceLimit(CAROL, SOL_MARKET, BID, 40_100, 10),  # takes the signer's ask
        SetFees(SOL_MARKET, 0, 40, SOL),
    ]


def _flow(seed: int) -> Flow:
    flow = make_flow(seed, 240)
    at = len(flow) // 2
    extra = _stp_scenario()
    stamps = [flow.stamps[at - 1] + step for step in range(1, len(extra) + 1)]
    shift = len(extra)
    return Flow(
        flow.commands[:at] + extra + flow.commands[at:],
        flow.stamps[:at] + stamps + [ts + shift for ts in flow.stamps[at:]],
    )


def _signed_cancels(host: EmbeddedExchange) -> list[AnyCommand]:
    """A signed cancel of each of the signer's open orders (the inner command is decoded)."""
    nonce = host.refresh().last_nonce(SIGNER)
    orders = host.open_orders(SIGNER)
    return [
        signed(CancelOrder(SIGNER, owned.order.order_id, nonce=nonce + index))
        for index, owned in enumerate(orders, 1)
    ]


def _submit_in_chunks(
    host: EmbeddedExchange, clock: StepClock, flow: Flow, rng: random.Random, data_dir: Path
) -> None:
    index = 0
    while index < len(flow):
        size = rng.choice((1, 1, 2, 3, 8, 17, 40))
        commands = flow.commands[index : index + size]
        clock.now = flow.stamps[min(index + size, len(flow)) - 1]
        if size == 1 and rng.random() < 0.5:
            submit_one(host, clock, commands[0], clock.now)
        else:
            host.submit_batch(commands)
        index += size
        if rng.random() < 0.1 and host.open_orders(SIGNER):
            host.submit_batch(_signed_cancels(host))
        assert_view_matches(data_dir, host.refresh())


@pytest.mark.parametrize("seed", SEEDS)
def test_the_view_equals_the_state_after_every_step_of_a_random_flow(
    tmp_path: Path, seed: int
) -> None:
    flow = _flow(seed)
    rng = random.Random(seed)
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock, snapshot_every=rng.randint(20, 90)) as host:
        assert ReadView.open(tmp_path) is None  # a fresh database: stale until the first write
        _submit_in_chunks(host, clock, flow, rng, tmp_path)
        final = host.refresh()
        assert final.seq > len(flow) // 2
    with EmbeddedExchange.open(tmp_path) as reopened:  # recovered from snapshot + journal
        assert reopened.refresh().state_hash() == final.state_hash()
        assert_view_matches(tmp_path, reopened.refresh())


_HISTORY_TABLES: Final = ("view_closed_orders", "view_orders", "view_trades")


def _history_rows(data_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(f"file:{data_dir / DB_NAME}?mode=ro", uri=True)
    try:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
            for table in _HISTORY_TABLES
        }
    finally:
        conn.close()


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_the_history_recorded_batch_by_batch_is_what_the_whole_journal_says(
    tmp_path: Path, seed: int
) -> None:
    """Trades with their fees, closed orders and placement times, written batch by batch
    (self-trade prevention, fee changes that cancel, refusals, signed commands included),
    are exactly what `audit --repair` derives from the journal's events from the first
    entry; the audit finds them ok."""
    flow = _flow(seed)
    rng = random.Random(seed)
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock, snapshot_every=rng.randint(20, 90)) as host:
        _submit_in_chunks(host, clock, flow, rng, tmp_path)
    recorded = _history_rows(tmp_path)
    closed = recorded["view_closed_orders"]
    assert {(row[8], row[9]) for row in closed} >= {
        ("filled", None),
        ("cancelled", "user"),
        ("cancelled", "unfilled"),
        ("cancelled", "self_trade_prevention"),
    }
    assert all(row[10] is not None for row in closed)  # every placement was seen
    assert all(row[-1] is not None for row in recorded["view_orders"])
    assert any(row[11] for row in recorded["view_trades"])  # some fills paid fees
    assert audit(tmp_path).read_model == "ok"
    assert repair(tmp_path).read_model == "ok"
    assert _history_rows(tmp_path) == recorded


class _OtherEngine(InMemoryEngine):
    """Not the default engine's type: the view sums its levels from its open orders."""


_OTHER_ENGINE: Final = "other-engine-test-view"


def test_the_view_of_another_engine_equals_the_state(tmp_path: Path) -> None:
    if _OTHER_ENGINE not in engine_names():
        register_engine(
            _OTHER_ENGINE,
            _OtherEngine,
            lambda config, state: _OtherEngine.from_state(config, state, verified=True),
        )
    flow = _flow(SEEDS[0])
    rng = random.Random(SEEDS[0])
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock, engine=_OTHER_ENGINE) as host:
        _submit_in_chunks(host, clock, flow, rng, tmp_path)
        engines = host.refresh().service._markets.values()
        assert {type(market.engine) for market in engines} == {_OtherEngine}


def test_the_random_flows_exercise_what_the_view_must_track() -> None:
    """The flows above reach self-trade prevention that shrinks or cancels makers, fee changes
    that re-lock or cancel, refusals, and signed commands (checked on a plain Exchange)."""
    reduced: list[OrderReduced | OrderCancelled] = []
    refused = fee_changes = 0
    for seed in SEEDS:
        exchange = Exchange()
        flow = _flow(seed)
        for command, ts_ns in zip(flow.commands, flow.stamps, strict=True):
            result = apply_one(exchange, command, ts_ns)
            refused += isinstance(result, TachyonError)
            if isinstance(result, Placement):
                reduced.extend(
                    event
                    for event in result.events
                    if isinstance(event, OrderReduced)
                    or (
                        isinstance(event, OrderCancelled)
                        and event.reason is CancelReason.SELF_TRADE
                        and event.order_id != result.order_id
                    )
                )
            fee_changes += isinstance(command, SetFees) and not isinstance(result, TachyonError)
    assert len(reduced) >= len(SEEDS)
    assert refused > 10 * len(SEEDS)
    assert fee_changes >= 2 * len(SEEDS)


def test_self_trade_prevention_shrinks_and_cancels_makers_in_the_view(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit_batch([ADD_SOL, Deposit(ALICE, SOL, 10_000), Deposit(ALICE, USDC, 10**9)])
        first = host.submit(PlaceLimit(ALICE, SOL_MARKET, ASK, 40_000, 50))
        second = host.submit(PlaceLimit(ALICE, SOL_MARKET, ASK, 40_020, 30))
        assert isinstance(first, Placement) and isinstance(second, Placement)
        decrement = PlaceLimit(
            ALICE, SOL_MARKET, BID, 40_000, 20, stp=SelfTradePrevention.DECREMENT_AND_CANCEL
        )
        host.submit(decrement)  # first shrinks to 30 without a trade; the bid is used up
        view = ReadView.open(tmp_path)
        assert view is not None
        with view:
            assert [row.remaining for row in view.open_orders(ALICE)] == [30, 30]
            assert view.book(SOL_MARKET, 5) == ([], [(40_000, 30), (40_020, 30)])
        host.submit(
            PlaceLimit(ALICE, SOL_MARKET, BID, 40_020, 10, stp=SelfTradePrevention.CANCEL_MAKER)
        )  # both asks cancelled; the bid rests
        view = ReadView.open(tmp_path)
        assert view is not None
        with view:
            assert [row.order_id for row in view.open_orders(ALICE)] == [first.order_id + 3]
            assert view.book(SOL_MARKET, 5) == ([(40_020, 10)], [])
        assert_view_matches(tmp_path, host.refresh())


def test_a_maker_that_rests_and_goes_to_self_trade_prevention_in_one_batch(
    tmp_path: Path,
) -> None:
    """The closed maker's level is known from the batch itself (the view has no row of it)."""
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit_batch([ADD_SOL, Deposit(ALICE, SOL, 10_000), Deposit(ALICE, USDC, 10**9)])
        host.submit_batch(
            [
                PlaceLimit(ALICE, SOL_MARKET, ASK, 40_000, 50),
                PlaceLimit(ALICE, SOL_MARKET, ASK, 40_020, 30),
                PlaceLimit(
                    ALICE, SOL_MARKET, BID, 40_000, 20, stp=SelfTradePrevention.CANCEL_MAKER
                ),
            ]
        )
        view = ReadView.open(tmp_path)
        assert view is not None
        with view:
            assert view.book(SOL_MARKET, 5) == ([(40_000, 20)], [(40_020, 30)])
        assert_view_matches(tmp_path, host.refresh())


def test_each_trade_keeps_the_sequence_number_and_time_of_its_command(tmp_path: Path) -> None:
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        host.submit_batch([Deposit(ALICE, USDC, 10**6), Deposit(BOB, "BASE", 100)])
        host.submit(PlaceLimit(BOB, "BASE/USDC", ASK, 10, 5))
        host.submit(PlaceLimit(BOB, "BASE/USDC", ASK, 11, 5))
        clock.now += 1_000
        placed = host.submit(PlaceMarket(ALICE, "BASE/USDC", BID, 7))
        assert isinstance(placed, Placement)
        seq = host.seq
    view = ReadView.open(tmp_path)
    assert view is not None
    with view:
        trades = view.trades("BASE/USDC", 10)
    assert [(t.trade_id, t.price, t.qty, t.maker, t.taker, t.taker_side) for t in trades] == [
        (2, 11, 2, BOB, ALICE, "bid"),
        (1, 10, 5, BOB, ALICE, "bid"),
    ]
    assert {(t.seq, t.ts_ns, t.taker_order_id) for t in trades} == {
        (seq, clock.now, placed.order_id)
    }


# -- several writers -----------------------------------------------------------------------


def test_two_hosts_writing_alternately_keep_the_view_exact(tmp_path: Path) -> None:
    flow = _flow(31)
    rng = random.Random(31)
    clock = StepClock()
    hosts = [EmbeddedExchange.open(tmp_path, clock=clock, snapshot_every=17) for _ in range(2)]
    try:
        index = 0
        while index < len(flow):
            host = hosts[index % 2]
            size = rng.randint(1, 12)
            clock.now = flow.stamps[min(index + size, len(flow)) - 1]
            host.submit_batch(flow.commands[index : index + size])
            index += size
            assert_view_matches(tmp_path, host.refresh())
            other = hosts[(index + 1) % 2]
            assert other.refresh().state_hash() == host.refresh().state_hash()
    finally:
        for host in hosts:
            host.close()


_OTHER_PROCESS: Final = """
import sys
from tachyon.exchange.commands import decode_command
from tachyon.storage import EmbeddedExchange

with EmbeddedExchange.open(sys.argv[1]) as host:
    commands = [decode_command(bytes.fromhex(line)) for line in sys.stdin.read().split()]
    host.submit_batch(commands[: len(commands) // 2])
    for command in commands[len(commands) // 2 :]:
        try:
            host.submit(command)
        except Exception:
            pass
"""


def test_another_process_writing_keeps_the_view_exact(tmp_path: Path) -> None:
    flow = make_flow(41, 120)
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit_batch(flow.commands[:40])
        assert_view_matches(tmp_path, host.refresh())
        lines = "\n".join(encode_command(command).hex() for command in flow.commands[40:80])
        subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, str(tmp_path)],
            input=lines,
            text=True,
            cwd=ROOT,
            check=True,
            timeout=120,
        )
        other_seq = ReadView.open(tmp_path)
        assert other_seq is not None  # the other process left the view current
        with other_seq:
            assert other_seq.head_seq() > host.seq
        host.submit_batch(flow.commands[80:])  # catches up on the other's entries first
        assert_view_matches(tmp_path, host.refresh())


# -- the reader ------------------------------------------------------------------------------


def test_a_missing_directory_or_database_has_no_view(tmp_path: Path) -> None:
    assert ReadView.open(tmp_path / "nowhere") is None
    assert ReadView.open(tmp_path) is None


def test_an_open_view_keeps_answering_at_its_sequence_number(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(Deposit(ALICE, USDC, 5))
        view = ReadView.open(tmp_path)
        assert view is not None
        with view:
            host.submit(Deposit(ALICE, USDC, 7))  # a writer commits while the view reads
            assert view.head_seq() == 1
            assert view.balances(ALICE) == [(USDC, 6, 5, 0, 0)]
        later = ReadView.open(tmp_path)
        assert later is not None
        with later:
            assert later.head_seq() == 2
            assert later.balances(ALICE) == [(USDC, 6, 12, 0, 0)]


def test_an_unknown_market_is_refused_as_the_service_refuses_it(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(ADD_SOL)
        with pytest.raises(MarketNotFound) as expected:
            host.book(5, MarketId("ETH/USDC"))
    view = ReadView.open(tmp_path)
    assert view is not None
    with view:
        for read in (lambda: view.book("ETH/USDC", 5), lambda: view.trades("ETH/USDC", 5)):
            with pytest.raises(MarketNotFound) as info:
                read()
            assert str(info.value) == str(expected.value)
        assert view.book(SOL_MARKET, 5) == ([], [])  # known and empty: no error
        assert view.trades(SOL_MARKET, 5) == []
        with pytest.raises(InvalidOrder, match=r"depth -1 must be a non-negative integer"):
            view.book(SOL_MARKET, -1)
        with pytest.raises(InvalidOrder, match=r"limit 1.5 must be a non-negative integer"):
            view.trades(SOL_MARKET, 1.5)  # type: ignore[arg-type]
        assert view.book("BASE/USDC", 0) == ([], [])


def test_balances_omit_tokens_an_account_holds_none_of(tmp_path: Path) -> None:
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        host.submit_batch([Deposit(ALICE, USDC, 5), Deposit(ALICE, "BASE", 3)])
        with pytest.raises(OrderNotFound):
            host.submit(CancelOrder(ALICE, 1))
        host.submit(PlaceLimit(ALICE, "BASE/USDC", ASK, 9, 3))
        view = ReadView.open(tmp_path)
        assert view is not None
        with view:
            assert view.balances(ALICE) == [("BASE", 0, 0, 3, 0), (USDC, 6, 5, 0, 0)]
            assert view.balances(BOB) == []
            placed = clock.now  # the order's command's journal time
            assert view.open_orders(ALICE) == [(1, "BASE/USDC", "ask", 9, 3, 3, 0, placed)]
        host.submit(CancelOrder(ALICE, 1))
        assert_view_matches(tmp_path, host.refresh())


def test_amounts_above_two_to_the_63_round_trip_exactly(tmp_path: Path) -> None:
    """Stored as TEXT (INTEGER tops out at 2**63 - 1): balances, prices, quantities, a level
    holding a TEXT quantity, a level whose sum overflows SQLite's integers, and a trade at a
    price above 2**63 all come back exact."""
    huge = 2**64 - 1
    big = 2**63 + 12_345
    price = big + 20 - big % 20  # a whole number of ETH/USDC ticks
    over = 2**62 + 1  # two of them overflow SQLite's sum
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit_batch([ADD_ETH, Deposit(ALICE, USDC, huge), Deposit(BOB, "BASE", huge)])
        host.submit_batch(
            [
                PlaceLimit(BOB, "BASE/USDC", ASK, 3, big),
                PlaceLimit(BOB, "BASE/USDC", ASK, 3, 2**60),
                PlaceLimit(BOB, "BASE/USDC", ASK, 5, 2**61),
                PlaceLimit(ALICE, "BASE/USDC", BID, 1, over),
                PlaceLimit(ALICE, "BASE/USDC", BID, 1, over),
                PlaceLimit(ALICE, "BASE/USDC", BID, 2, 100),
                PlaceLimit(ALICE, ETH_MARKET, BID, price, 10),
                Deposit(BOB, ETH, 10),
            ]
        )
        view = ReadView.open(tmp_path)
        assert view is not None
        with view:
            assert view.book("BASE/USDC", 10) == (
                [(2, 100), (1, 2 * over)],
                [(3, big + 2**60), (5, 2**61)],
            )
            assert view.book("BASE/USDC", 1) == ([(2, 100)], [(3, big + 2**60)])
            assert view.book(ETH_MARKET, 1) == ([(price, 10)], [])
            assert view.balances(BOB) == [
                ("BASE", 0, huge - big - 2**60 - 2**61, big + 2**61 + 2**60, 0),
                (ETH, 2, 10, 0, 0),
            ]
        assert_view_matches(tmp_path, host.refresh())
        placed = host.submit(PlaceLimit(BOB, ETH_MARKET, ASK, price, 10))  # trades at `price`
        assert isinstance(placed, Placement) and placed.filled_qty == 10
        assert_view_matches(tmp_path, host.refresh())
        view = ReadView.open(tmp_path)
        assert view is not None
        with view:
            (trade,) = view.trades(ETH_MARKET, 5)
            assert (trade.price, trade.qty) == (price, 10)
    conn = sqlite3.connect(f"file:{tmp_path / DB_NAME}?mode=ro", uri=True)
    try:
        kinds = conn.execute("SELECT typeof(locked) FROM view_balances WHERE account = ?", (BOB,))
        assert ("text",) in kinds.fetchall()
        trades = conn.execute(
            "SELECT typeof(price) FROM view_trades WHERE market = ?", (ETH_MARKET,)
        )
        assert trades.fetchall() == [("text",)]
    finally:
        conn.close()


def test_importing_the_reader_loads_no_exchange_code() -> None:
    """The CLI reads the view in a new process: importing it must not load the host, the
    snapshots, the state machine or msgspec (`tachyon.storage` is lazy about those)."""
    script = (
        "import sys, tachyon.storage.view\n"
        "print(' '.join(sorted(m for m in sys.modules"
        " if m.startswith(('tachyon', 'msgspec', 'cryptography')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = set(result.stdout.split())
    assert loaded == {
        "tachyon",
        "tachyon._lazy",
        "tachyon.errors",
        "tachyon.storage",
        "tachyon.storage.audit",
        "tachyon.storage.db",
        "tachyon.storage.head",
        "tachyon.storage.journal",
        "tachyon.storage.view",
    }


def test_the_lazy_package_still_binds_every_public_name() -> None:
    script = (
        "import sys\n"
        "from tachyon.storage.audit import audit as function\n"
        "import tachyon.storage as storage\n"
        "from tachyon.storage import EmbeddedExchange, SNAPSHOT_FORMAT, audit\n"
        "from tachyon.storage.host import EmbeddedExchange as host_class\n"
        "module = sys.modules['tachyon.storage.audit']\n"
        "assert callable(audit) and audit is function is module.audit is storage.audit\n"
        "assert EmbeddedExchange is host_class and SNAPSHOT_FORMAT == 3\n"
        "assert set(storage.__all__) <= set(vars(storage))\n"
        "try:\n"
        "    storage.nothing\n"
        "except AttributeError as exc:\n"
        "    assert 'nothing' in str(exc)\n"
        "else:\n"
        "    raise AssertionError\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT)


def test_self_trade_reductions_are_events_among_the_fills() -> None:
    """A decrement that shrinks one own maker and uses up another reports both, in order, as
    events of the placement (no hook, nothing read afterwards)."""
    exchange = Exchange()
    for command in (
        Deposit(ALICE, "BASE", 100),
        Deposit(ALICE, USDC, 10**6),
        PlaceLimit(ALICE, "BASE/USDC", ASK, 10, 5),
        PlaceLimit(ALICE, "BASE/USDC", ASK, 11, 5),
    ):
        apply_one(exchange, command, exchange.ts_ns)
    placed = apply_one(
        exchange,
        PlaceLimit(ALICE, "BASE/USDC", BID, 11, 7, stp=SelfTradePrevention.DECREMENT_AND_CANCEL),
        exchange.ts_ns,
    )
    assert isinstance(placed, Placement)
    kinds = [type(event).__name__ for event in placed.events]
    assert kinds == ["OrderAccepted", "OrderCancelled", "OrderReduced", "OrderCancelled"]
    _, first, second, taker = placed.events
    assert isinstance(first, OrderCancelled) and first.order_id == 1
    assert first.reason is CancelReason.SELF_TRADE
    assert isinstance(second, OrderReduced) and (second.order_id, second.remaining) == (2, 3)
    assert isinstance(taker, OrderCancelled) and taker.order_id == placed.order_id
    assert "reduced" not in str(exchange.service.to_state())
    exchange.check_invariants()

"""Goal: EmbeddedExchange journals exactly the accepted commands, snapshots on its cadence, and
shares a directory safely. Method: a real SQLite file in tmp_path, an injected step clock, and
raw sqlite3 reads of the journal and snapshot tables to see what reached the disk."""

from __future__ import annotations

import os
import random
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import BookDepth, BookLevel, OrderStatus, Side
from tachyon.errors import (
    AlreadyExists,
    BadSignature,
    InsufficientFunds,
    InvalidInput,
    InvalidOrder,
    MarketNotFound,
    OrderNotFound,
    OrderNotOwned,
    StaleNonce,
    StorageError,
    TachyonError,
    TokenNotFound,
)
from tachyon.exchange.admission import admit_signed
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
    Withdraw,
    encode_command,
)
from tachyon.exchange.service import Placement
from tachyon.exchange.state_machine import Exchange
from tachyon.ledger.ledger import BalanceRecord, TokenMeta
from tachyon.storage import (
    JOURNAL_BATCH_MAX,
    EmbeddedExchange,
    audit,
    default_data_dir,
    default_home,
)
from tachyon.storage.snapshot import SNAPSHOTS_KEPT
from tests.exchange.helpers import ALICE, BASE, BOB, CAROL, DEFAULT, ETH, USDC, summary
from tests.storage.helpers import (
    ADD_ETH,
    DB_NAME,
    ETH_MARKET,
    TS_START,
    Flow,
    StepClock,
    apply_one,
    journal_rows,
    make_flow,
    run,
    same_result,
    snapshot_rows,
    submit_one,
)

SECOND = 1_000_000_000


@pytest.fixture
def umask_022() -> Iterator[None]:
    """Directory modes depend on the umask: fix it so the expected modes are exact."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _seqs(rows: Sequence[tuple[object, ...]]) -> list[object]:
    return [row[0] for row in rows]


# -- the data directory --------------------------------------------------------------------


@pytest.mark.usefixtures("umask_022")
def test_open_creates_the_directory_with_mode_0700(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with EmbeddedExchange.open(data_dir) as host:
        assert host.db_path == data_dir / DB_NAME
    assert data_dir.is_dir()
    assert _mode(data_dir) == 0o700
    assert (data_dir / DB_NAME).is_file()


@pytest.mark.usefixtures("umask_022")
def test_open_creates_missing_parents_with_mode_0700(tmp_path: Path) -> None:
    """db.ensure_dir: "Create the data directory (and parents) with mode 0700"."""
    data_dir = tmp_path / "missing" / "parents" / "data"
    EmbeddedExchange.open(data_dir).close()
    assert (data_dir / DB_NAME).is_file()
    modes = {
        str(path.relative_to(tmp_path)): oct(_mode(path))
        for path in (data_dir, data_dir.parent, data_dir.parent.parent)
    }
    assert modes == dict.fromkeys(modes, oct(0o700))


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a directory")
    with pytest.raises(StorageError, match=r"is not a directory"):
        EmbeddedExchange.open(tmp_path / "data")
    assert (tmp_path / "data").read_text() == "not a directory"


def test_default_data_dir_honours_tachyon_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TACHYON_HOME", str(tmp_path / "home"))
    assert default_home() == tmp_path / "home"
    assert default_data_dir() == tmp_path / "home" / "exchange"
    with EmbeddedExchange.open() as host:
        host.submit(Deposit(ALICE, USDC, 5))
        assert host.db_path == tmp_path / "home" / "exchange" / DB_NAME
    assert len(journal_rows(tmp_path / "home" / "exchange" / DB_NAME)) == 1


def test_tachyon_home_may_start_with_a_tilde(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TACHYON_HOME", "~/elsewhere")
    assert default_data_dir() == tmp_path / "elsewhere" / "exchange"


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_default_data_dir_falls_back_to_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if value is None:
        monkeypatch.delenv("TACHYON_HOME", raising=False)
    else:
        monkeypatch.setenv("TACHYON_HOME", value)
    assert default_data_dir() == tmp_path / ".tachyon" / "exchange"
    with EmbeddedExchange.open() as host:
        assert host.db_path == tmp_path / ".tachyon" / "exchange" / DB_NAME


# -- submit --------------------------------------------------------------------------------


def test_submit_returns_each_commands_outcome(tmp_path: Path) -> None:
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        assert host.submit(RegisterToken("SOL", 2)) is None
        assert host.submit(ADD_ETH) is None
        assert host.submit(Deposit(ALICE, USDC, 10_000)) == BalanceRecord(10_000, 0)
        assert host.submit(Deposit(BOB, BASE, 30)) == BalanceRecord(30, 0)
        assert host.submit(Withdraw(BOB, BASE, 5, nonce=TS_START + 1)) == BalanceRecord(25, 0)
        rest = host.submit(PlaceLimit(ALICE, DEFAULT, Side.BID, 100, 10))
        assert isinstance(rest, Placement)
        assert summary(rest) == (OrderId(1), [], OrderStatus.NEW, 0, 10)
        take = host.submit(PlaceMarket(BOB, DEFAULT, Side.ASK, 4))
        assert isinstance(take, Placement)
        assert (take.order_id, take.status, take.filled_qty) == (2, OrderStatus.FILLED, 4)
        assert [(t.price, t.qty, t.maker_order_id) for t in take.trades] == [(100, 4, 1)]
        cancelled = host.submit(CancelOrder(ALICE, OrderId(1)))
        assert isinstance(cancelled, Placement)
        assert summary(cancelled) == (OrderId(1), [], OrderStatus.CANCELLED, 4, 0)
        assert host.submit(SetFees(ETH_MARKET, 1, 2)) == []
        assert host.seq == 9
        assert host.balances(ALICE) == {
            BASE: BalanceRecord(4, 0),
            USDC: BalanceRecord(10_000 - 400, 0),
        }
        assert host.balances(BOB)[USDC] == BalanceRecord(400, 0)
        assert host.book(5, DEFAULT) == BookDepth([], [])
        assert [t.qty for t in host.recent_trades(5, DEFAULT)] == [4]
        assert host.open_orders(ALICE) == []
        assert [m.market_id for m in host.markets()] == [DEFAULT, ETH_MARKET]
        assert TokenMeta(TokenId("SOL"), 2) in host.tokens()
    assert _seqs(journal_rows(tmp_path / DB_NAME)) == list(range(1, 10))


def _set_up(host: EmbeddedExchange) -> None:
    host.submit(Deposit(ALICE, USDC, 1_000))
    host.submit(Deposit(BOB, BASE, 10))
    host.submit(PlaceLimit(ALICE, DEFAULT, Side.BID, 10, 5, nonce=TS_START + 3))


REFUSALS: list[tuple[AnyCommand, type[TachyonError]]] = [
    (Withdraw(ALICE, USDC, 10**9), InsufficientFunds),
    (PlaceLimit(ALICE, DEFAULT, Side.BID, 100, 1_000), InsufficientFunds),
    (PlaceLimit(BOB, DEFAULT, Side.ASK, 100, 11), InsufficientFunds),
    (PlaceLimit(ALICE, MarketId("NOPE/USDC"), Side.BID, 1, 1), MarketNotFound),
    (PlaceMarket(BOB, MarketId("NOPE/USDC"), Side.ASK, 1), MarketNotFound),
    (CancelOrder(BOB, OrderId(1)), OrderNotOwned),
    (CancelOrder(ALICE, OrderId(99)), OrderNotFound),
    (Deposit(ALICE, TokenId("DOGE"), 1), TokenNotFound),
    (Deposit(ALICE, USDC, 1, nonce=TS_START + 3), StaleNonce),
    (PlaceMarket(BOB, DEFAULT, Side.ASK, None, 5), InvalidOrder),
    (AddMarket("BASE", "USDC"), AlreadyExists),
    (Deposit(ALICE, USDC, 2**70), InvalidInput),
]


@pytest.mark.parametrize(("command", "error"), REFUSALS, ids=lambda x: repr(x)[:60])
def test_a_refused_command_raises_and_journals_nothing(
    tmp_path: Path, command: AnyCommand, error: type[TachyonError]
) -> None:
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        _set_up(host)
        rows, seq = journal_rows(tmp_path / DB_NAME), host.seq
        state = host.refresh().state_bytes()
        clock.now += SECOND
        with pytest.raises(error) as info:
            host.submit(command)
        assert type(info.value) is error
        assert journal_rows(tmp_path / DB_NAME) == rows
        assert host.seq == seq == 3
        assert host.refresh().state_bytes() == state
        host.submit(Deposit(CAROL, USDC, 1))  # the number the refusal did not use
        assert host.seq == 4
        assert _seqs(journal_rows(tmp_path / DB_NAME)) == [1, 2, 3, 4]
    with EmbeddedExchange.open(tmp_path) as reopened:
        assert reopened.seq == 4
        assert reopened.balances(CAROL) == {USDC: BalanceRecord(1, 0)}


def test_an_oversized_command_is_refused_and_not_journaled(tmp_path: Path) -> None:
    """A command whose bytes decode_command refuses (over COMMAND_BYTES_MAX) must not reach the
    journal: every later audit, and every other process catching up, would fail on it."""
    with EmbeddedExchange.open(tmp_path) as host:
        with pytest.raises(InvalidInput):
            host.submit(Deposit("a" * 5_000, USDC, 1))
        assert host.seq == 0
        host.submit(Deposit(ALICE, USDC, 1))
    assert audit(tmp_path).entries == 1


def test_submit_batch_returns_errors_in_place_and_keeps_the_accepted(tmp_path: Path) -> None:
    batch: list[AnyCommand] = [
        Deposit(ALICE, USDC, 1_000),
        Withdraw(BOB, USDC, 1),
        PlaceLimit(ALICE, DEFAULT, Side.BID, 10, 5),
        CancelOrder(BOB, OrderId(1)),
        Deposit(BOB, BASE, 7, nonce=TS_START + 2),
        Deposit(BOB, BASE, 7, nonce=TS_START + 2),
        PlaceLimit(BOB, DEFAULT, Side.ASK, 10, 2),
        CancelOrder(ALICE, OrderId(1)),
        PlaceLimit(ALICE, MarketId("NOPE/USDC"), Side.BID, 1, 1),
    ]
    errors = {1: InsufficientFunds, 3: OrderNotOwned, 5: StaleNonce, 8: MarketNotFound}
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        results = host.submit_batch(batch)
        assert host.seq == len(batch) - len(errors)
    assert len(results) == len(batch)
    for i, result in enumerate(results):
        if i in errors:
            assert type(result) is errors[i], (i, result)
        else:
            assert not isinstance(result, TachyonError), (i, result)
    expected = Exchange()  # one commit: every command got the same clock reading
    wanted = run(expected, Flow(list(batch), [clock.now] * len(batch)))
    assert all(same_result(*pair) for pair in zip(results, wanted, strict=True))
    assert _seqs(journal_rows(tmp_path / DB_NAME)) == [1, 2, 3, 4, 5]
    with EmbeddedExchange.open(tmp_path) as reopened:
        assert reopened.refresh().state_hash() == expected.state_hash()
        assert reopened.balances(ALICE) == {BASE: BalanceRecord(2, 0), USDC: BalanceRecord(980, 0)}
        assert reopened.balances(BOB) == {BASE: BalanceRecord(5, 0), USDC: BalanceRecord(20, 0)}
        assert reopened.open_orders(ALICE) == []
    assert audit(tmp_path).state_hash == expected.state_hash()


def test_a_batch_over_journal_batch_max_is_refused_whole(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        too_many = [Deposit(ALICE, USDC, 1)] * (JOURNAL_BATCH_MAX + 1)
        with pytest.raises(InvalidInput, match=rf"at most {JOURNAL_BATCH_MAX} commands, not 1001"):
            host.submit_batch(too_many)
        assert host.seq == 0
        assert journal_rows(tmp_path / DB_NAME) == []
        results = host.submit_batch(too_many[:JOURNAL_BATCH_MAX])
        assert len(results) == JOURNAL_BATCH_MAX
        assert host.seq == JOURNAL_BATCH_MAX
        assert host.balances(ALICE) == {USDC: BalanceRecord(JOURNAL_BATCH_MAX, 0)}
    assert len(journal_rows(tmp_path / DB_NAME)) == JOURNAL_BATCH_MAX


# -- snapshots -----------------------------------------------------------------------------


def test_a_snapshot_is_written_every_snapshot_every_commands(tmp_path: Path) -> None:
    db_path = tmp_path / DB_NAME
    with EmbeddedExchange.open(tmp_path, snapshot_every=5) as host:
        for amount in range(1, 5):
            host.submit(Deposit(ALICE, USDC, amount))
        assert snapshot_rows(db_path) == []
        host.submit(Deposit(ALICE, USDC, 5))
        assert _seqs(snapshot_rows(db_path)) == [5]
        for amount in range(4):
            host.submit(Deposit(ALICE, USDC, amount + 1))
        assert _seqs(snapshot_rows(db_path)) == [5]
        host.submit(Withdraw(ALICE, USDC, 1))
        assert _seqs(snapshot_rows(db_path)) == [5, 10]
        seq, snapshot_format, _, _, head_hash, _ = snapshot_rows(db_path)[-1]
        assert (seq, snapshot_format) == (10, 3)
        assert head_hash == journal_rows(db_path)[9][4] == host.head_hash


def test_a_snapshot_is_written_once_the_interval_has_passed(tmp_path: Path) -> None:
    db_path = tmp_path / DB_NAME
    clock = StepClock()
    with EmbeddedExchange.open(
        tmp_path, clock=clock, snapshot_every=1_000, snapshot_interval_s=10.0
    ) as host:
        host.submit(Deposit(ALICE, USDC, 1))
        clock.now += 10 * SECOND - 1
        host.submit(Deposit(ALICE, USDC, 1))
        assert snapshot_rows(db_path) == []
        clock.now += 1  # the interval has now passed since the host opened
        host.submit(Deposit(ALICE, USDC, 1))
        rows = snapshot_rows(db_path)
        assert _seqs(rows) == [3]
        assert rows[0][5] == clock.now  # written_ts_ns
        clock.now += 5 * SECOND  # the interval counts from the last snapshot
        host.submit(Deposit(ALICE, USDC, 1))
        assert _seqs(snapshot_rows(db_path)) == [3]
        clock.now += 5 * SECOND
        host.submit(Deposit(ALICE, USDC, 1))
        assert _seqs(snapshot_rows(db_path)) == [3, 5]


def test_close_writes_a_snapshot_only_when_something_is_new(tmp_path: Path) -> None:
    db_path = tmp_path / DB_NAME
    EmbeddedExchange.open(tmp_path).close()
    assert snapshot_rows(db_path) == []
    with EmbeddedExchange.open(tmp_path) as host:
        for amount in (1, 2, 3):
            host.submit(Deposit(ALICE, USDC, amount))
        assert snapshot_rows(db_path) == []
    rows = snapshot_rows(db_path)
    assert _seqs(rows) == [3]
    with EmbeddedExchange.open(tmp_path) as host:
        assert host.recovered.snapshot_seq == 3
        assert host.recovered.replayed == 0
    assert snapshot_rows(db_path) == rows


def test_at_most_snapshots_kept_snapshots_remain(tmp_path: Path) -> None:
    db_path = tmp_path / DB_NAME
    with EmbeddedExchange.open(tmp_path, snapshot_every=2) as host:
        for amount in range(1, 12):
            host.submit(Deposit(ALICE, USDC, amount))
            assert len(snapshot_rows(db_path)) <= SNAPSHOTS_KEPT
        assert _seqs(snapshot_rows(db_path)) == [8, 10]
    assert SNAPSHOTS_KEPT == 2
    assert _seqs(snapshot_rows(db_path)) == [10, 11]
    assert len(journal_rows(db_path)) == 11  # the journal is never pruned


def test_write_snapshot_returns_its_sequence_number(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(Deposit(ALICE, USDC, 1))
        assert host.write_snapshot() == 1
        assert host.write_snapshot() == 1  # the same row again is kept as it is
    assert _seqs(snapshot_rows(tmp_path / DB_NAME)) == [1]


# -- two hosts on one directory ------------------------------------------------------------


def test_two_hosts_see_each_others_commands(tmp_path: Path) -> None:
    clock = StepClock()
    with (
        EmbeddedExchange.open(tmp_path, clock=clock) as first,
        EmbeddedExchange.open(tmp_path, clock=clock) as second,
    ):
        first.submit(Deposit(ALICE, USDC, 500))
        assert second.balances(ALICE) == {USDC: BalanceRecord(500, 0)}
        assert second.seq == 1
        second.submit(PlaceLimit(ALICE, DEFAULT, Side.BID, 10, 3))
        assert first.seq == 1  # not until it looks
        assert first.open_orders(ALICE)[0].order.order_id == 1
        assert first.book(1, DEFAULT) == BookDepth([BookLevel(10, 3)], [])
        first.submit(CancelOrder(ALICE, OrderId(1)))
        with pytest.raises(OrderNotFound):
            second.submit(CancelOrder(ALICE, OrderId(1)))
        assert (first.seq, second.seq) == (3, 3)
        assert second.head_hash == first.head_hash
        assert second.refresh().state_hash() == first.refresh().state_hash()


def test_two_hosts_interleave_submits_without_loss(tmp_path: Path) -> None:
    flow = make_flow(21, 200)
    rng = random.Random(21)
    clock = StepClock()
    hosts = [EmbeddedExchange.open(tmp_path, clock=clock, snapshot_every=13) for _ in range(2)]
    try:
        expected = Exchange()
        last_seq = 0
        for command, ts_ns in zip(flow.commands, flow.stamps, strict=True):
            host = rng.choice(hosts)
            result = submit_one(host, clock, command, ts_ns)
            assert same_result(result, apply_one(expected, command, ts_ns))
            if isinstance(result, TachyonError):
                assert host.seq == last_seq
            else:
                assert host.seq == last_seq + 1  # strictly increasing, none lost or reused
                last_seq = host.seq
        assert last_seq == expected.seq
        for host in hosts:
            assert host.refresh().state_hash() == expected.state_hash()
    finally:
        for host in hosts:
            host.close()
    assert _seqs(journal_rows(tmp_path / DB_NAME)) == list(range(1, expected.seq + 1))
    report = audit(tmp_path)
    assert report.state_hash == expected.state_hash()
    assert report.snapshot_matches is True
    with EmbeddedExchange.open(tmp_path) as reopened:
        assert reopened.refresh().state_hash() == expected.state_hash()


def test_the_host_clock_never_goes_back(tmp_path: Path) -> None:
    """A clock that steps back still gives each entry a time no older than the last."""
    clock = StepClock(TS_START)
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        host.submit(Deposit(ALICE, USDC, 1))
        clock.now -= SECOND
        host.submit(Deposit(ALICE, USDC, 1))
        assert host.refresh().ts_ns == TS_START
    assert [row[1] for row in journal_rows(tmp_path / DB_NAME)] == [TS_START, TS_START]
    assert audit(tmp_path).entries == 2


def test_the_eth_market_works_through_the_host(tmp_path: Path) -> None:
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(ADD_ETH)
        host.submit(Deposit(ALICE, USDC, 10**6))
        host.submit(Deposit(BOB, ETH, 100))
        host.submit(PlaceLimit(BOB, ETH_MARKET, Side.ASK, 40_000, 10))
        placed = host.submit(PlaceMarket(ALICE, ETH_MARKET, Side.BID, None, 4_000))
        assert isinstance(placed, Placement)
        assert placed.filled_qty == 10
    with EmbeddedExchange.open(tmp_path) as reopened:
        assert reopened.balances(ALICE)[ETH] == BalanceRecord(10, 0)


def test_an_admitted_command_is_applied_without_a_second_check(tmp_path: Path) -> None:
    """A command handed to `submit_batch` is admitted there (its signature checked); an
    `Admitted` one is the caller's proof that it was (the node's gateway admits off the
    sequencer's thread), so a forgery admitted with `signature_checked` is applied as it is."""
    key, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    address = address_of(key)

    def forged(nonce: int) -> SignedCommand:
        body = encode_command(Deposit(address, "USDC", 5, TS_START + nonce))
        return SignedCommand(body, sign(forger, body))

    with EmbeddedExchange.open(tmp_path, clock=StepClock()) as host:
        assert isinstance(host.submit_batch([forged(1)])[0], BadSignature)
        proof = admit_signed(forged(2).body, forged(2).signature, signature_checked=True)
        assert host.submit_batch([proof]) == [BalanceRecord(5, 0)]
        assert isinstance(host.submit_batch([forged(3)])[0], BadSignature)
        assert host.balances(AccountId(address))[TokenId("USDC")] == BalanceRecord(5, 0)

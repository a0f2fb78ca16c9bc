"""Benchmark: durable throughput, recovery and snapshots of the embedded exchange.

    python -m bench.bench_storage [--runs 3] [--ops 20000] [--replay 1000000] [--orders 100000]

Durable throughput replays the engine benchmark's steady flow as commands through
`EmbeddedExchange` with one commit per command and with group commits of 100 and 1,000, next to
the same commands applied in memory (`Exchange.apply`, no journal) and made as plain
`DexService` calls (the core's rate, which the durable rates are also divided by) in the same
run; the read
model (view tables) is written in every commit. Recovery opens a directory whose journal holds
`--replay` entries after its newest snapshot, and one whose snapshot holds `--orders` resting
orders of 10,000 accounts; the same directory is read through the read model (`ReadView`), in
this process and from a new one. Figures are medians over runs. Not a test: it prints.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.flows import CANCEL, LIMIT, MARKET as MARKET_ORDER, Op, steady_flow
from tachyon.dex import AccountId, SelfTradePrevention, Side, TokenId
from tachyon.exchange import (
    AnyCommand,
    CancelOrder,
    Deposit,
    DexService,
    Exchange,
    PlaceLimit,
    PlaceMarket,
)
from tachyon.exchange.admission import admit
from tachyon.storage import EmbeddedExchange, ReadView, snapshot as snapshot_rows
from tachyon.storage.db import connect

MARKET = "BASE/USDC"
_READ_IN_NEW_PROCESS = """
import sys
from tachyon.storage.view import ReadView
view = ReadView.open(sys.argv[1])
assert view is not None
with view:
    view.book("BASE/USDC", 10)
    view.balances("acct-00001")
"""
ALLOW = SelfTradePrevention.ALLOW
NO_SNAPSHOTS = 10**12  # keep snapshots out of the throughput figures


def _commands(ops: Sequence[Op]) -> list[AnyCommand]:
    accounts = sorted({op.owner for op in ops})
    commands: list[AnyCommand] = []
    for owner in accounts:
        commands.append(Deposit(f"trader-{owner}", "USDC", 10**15))
        commands.append(Deposit(f"trader-{owner}", "BASE", 10**12))
    for kind, owner, is_bid, price, qty in ops:
        account = f"trader-{owner}"
        side = Side.BID if is_bid else Side.ASK
        if kind == LIMIT:
            commands.append(PlaceLimit(account, MARKET, side, price, qty, stp=ALLOW))
        elif kind == CANCEL:
            commands.append(CancelOrder(account, price))
        else:
            commands.append(PlaceMarket(account, MARKET, side, qty, stp=ALLOW))
    return commands


def _in_memory(commands: Sequence[AnyCommand]) -> float:
    """`Exchange.apply` alone: the commands are admitted (encoded, decoded) before the clock."""
    exchange = Exchange()
    admitted = [admit(command) for command in commands]
    start = time.perf_counter()
    for seq, command in enumerate(admitted, 1):
        exchange.apply(command, seq, seq)
    return len(commands) / (time.perf_counter() - start)


def _service_only(commands: Sequence[AnyCommand]) -> float:
    """The same commands as direct `DexService` calls: the core's rate, no state machine."""
    service = DexService()
    calls: list[tuple[int, AccountId, Side, int, int, SelfTradePrevention]] = []
    for command in commands:
        match command:
            case Deposit():
                account = AccountId(command.account)
                service.deposit(account, TokenId(command.token), command.amount)
            case PlaceLimit():
                account = AccountId(command.account)
                calls.append(
                    (LIMIT, account, command.side, command.price, command.qty, command.stp)
                )
            case CancelOrder():
                calls.append(
                    (CANCEL, AccountId(command.account), Side.BID, command.order_id, 0, ALLOW)
                )
            case PlaceMarket(qty=int(qty)):
                calls.append(
                    (MARKET_ORDER, AccountId(command.account), command.side, 0, qty, command.stp)
                )
            case _:
                raise AssertionError(f"the steady flow holds no {command!r}")
    place_limit, place_market, cancel = service.place_limit, service.place_market, service.cancel
    start = time.perf_counter()
    for kind, account, side, price, qty, stp in calls:
        if kind == LIMIT:
            place_limit(account, side, price, qty, stp=stp)
        elif kind == CANCEL:
            cancel(account, price)  # type: ignore[arg-type]  # the order id, a plain int
        else:
            place_market(account, side, qty, stp=stp)
    return len(calls) / (time.perf_counter() - start)


def _durable(commands: Sequence[AnyCommand], batch: int, read_model: bool = True) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        exchange = EmbeddedExchange.open(tmp, snapshot_every=NO_SNAPSHOTS, read_model=read_model)
        start = time.perf_counter()
        if batch == 1:
            for command in commands:
                exchange.submit(command)
        else:
            for index in range(0, len(commands), batch):
                exchange.submit_batch(commands[index : index + batch])
        rate = len(commands) / (time.perf_counter() - start)
        exchange.close()
    return rate


def _median(label: str, runs: int, measure: Callable[[], float], unit: str) -> float:
    samples = []
    for _ in range(runs):
        gc.collect()
        samples.append(measure())
    value = statistics.median(samples)
    print(f"  {label:<42}{value:>14,.0f} {unit}")
    return value


def bench_throughput(ops: int, runs: int) -> None:
    warmup, flow, _ = steady_flow(7, ops)
    commands = _commands([*warmup, *flow])
    print(f"\n== durable throughput: {len(commands):,} commands of the steady flow")
    service = _median(
        "DexService calls alone (no commands)", runs, lambda: _service_only(commands), "cmd/s"
    )
    memory = _median(
        "in memory (Exchange.apply, no journal)", runs, lambda: _in_memory(commands), "cmd/s"
    )
    for read_model in (True, False):
        print(f"  -- read model {'on (the CLI)' if read_model else 'off (read_model=False)'}")
        for batch in (1, 100, 1000):
            subset = commands if batch > 1 else commands[: min(len(commands), 5_000)]
            rate = _median(
                f"journaled, commit per {batch} command(s)",
                runs,
                lambda subset=subset, batch=batch, read_model=read_model: _durable(  # type: ignore[misc]
                    subset, batch, read_model
                ),
                "cmd/s",
            )
            print(
                f"  {'':<42}{rate / memory:>14.2f} x in memory, {rate / service:.2f} x DexService"
            )


def _journal_only(tmp: Path, commands: Sequence[AnyCommand]) -> None:
    """A directory whose newest snapshot is at 0: every entry is replayed on open."""
    exchange = EmbeddedExchange.open(tmp, snapshot_every=NO_SNAPSHOTS, snapshot_interval_s=1e12)
    for index in range(0, len(commands), 1000):
        exchange.submit_batch(commands[index : index + 1000])
    exchange.close(snapshot=False)


def bench_replay(entries: int, runs: int) -> None:
    warmup, flow, _ = steady_flow(11, entries)
    commands = _commands([*warmup, *flow])[:entries]
    print(f"\n== recovery: open with {len(commands):,} journal entries after the newest snapshot")
    with tempfile.TemporaryDirectory() as tmp:
        _journal_only(Path(tmp), commands)

        def open_rate() -> float:
            start = time.perf_counter()
            exchange = EmbeddedExchange.open(tmp, snapshot_interval_s=1e12)
            elapsed = time.perf_counter() - start
            assert exchange.recovered.replayed == len(commands)
            exchange.close(snapshot=False)
            return len(commands) / elapsed

        _median("replay on open", runs, open_rate, "entries/s")


def _big_book(orders: int, accounts: int) -> list[AnyCommand]:
    """Deposits for `accounts` accounts, then `orders` limit orders that never cross."""
    commands: list[AnyCommand] = []
    for index in range(accounts):
        commands.append(Deposit(f"acct-{index:05}", "USDC", 10**12))
        commands.append(Deposit(f"acct-{index:05}", "BASE", 10**12))
    for index in range(orders):
        is_bid = index % 2 == 0
        price = 10_000 - 1 - index % 1000 if is_bid else 10_000 + 1 + index % 1000
        side = Side.BID if is_bid else Side.ASK
        account = f"acct-{index % accounts:05}"
        commands.append(PlaceLimit(account, MARKET, side, price, 1 + index % 50))
    return commands


def bench_snapshot(orders: int, runs: int) -> None:
    accounts = 10_000
    print(f"\n== snapshots: {orders:,} resting orders, {accounts:,} accounts")
    commands = _big_book(orders, accounts)
    exchange = Exchange()
    for seq, command in enumerate(commands, 1):
        exchange.apply(admit(command), seq, seq)
    state = exchange.state_bytes()
    print(f"  {'snapshot size':<42}{len(state) / 2**20:>14.1f} MiB")
    _median("encode (state_bytes)", runs, lambda: _timed(exchange.state_bytes) * 1000, "ms")
    with tempfile.TemporaryDirectory() as tmp:
        host = EmbeddedExchange.open(tmp, snapshot_every=NO_SNAPSHOTS, snapshot_interval_s=1e12)
        for index in range(0, len(commands), 1000):
            host.submit_batch(commands[index : index + 1000])
        db_path = host.db_path
        _median(
            "write (encode + insert + commit)",
            runs,
            lambda: _timed(host.write_snapshot) * 1000,
            "ms",
        )
        host.close()
        conn = connect(db_path)
        row = snapshot_rows.newest(conn)
        assert row is not None
        _median(
            "load (verify + decode + invariants), gc on",
            runs,
            lambda: _timed(lambda: snapshot_rows.load(row, db_path)) * 1000,
            "ms",
        )
        conn.close()

        def open_ms() -> float:
            start = time.perf_counter()
            opened = EmbeddedExchange.open(tmp)
            elapsed = time.perf_counter() - start
            assert opened.recovered.replayed == 0
            opened.close()
            return elapsed * 1000

        _median("open the directory from that snapshot", runs, open_ms, "ms")
        bench_view(Path(tmp), runs)


def bench_view(data_dir: Path, runs: int) -> None:
    """`dex orderbook` and `dex balance` without recovery: the read model of `data_dir`."""

    def read() -> None:
        view = ReadView.open(data_dir)
        assert view is not None
        with view:
            view.book(MARKET, 10)
            view.balances("acct-00001")

    _median("read model: open + book(10) + balances", runs, lambda: _timed(read) * 1000, "ms")

    def new_process() -> None:
        argv = [sys.executable, "-c", _READ_IN_NEW_PROCESS, str(data_dir)]
        subprocess.run(argv, check=True)  # noqa: S603 (our own argv)

    _median(
        "the same from a new process (interpreter too)",
        runs,
        lambda: _timed(new_process) * 1000,
        "ms",
    )


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ops", type=int, default=20_000, help="steady-flow ops for throughput")
    parser.add_argument("--replay", type=int, default=1_000_000, help="journal entries to replay")
    parser.add_argument(
        "--orders", type=int, default=100_000, help="resting orders in the snapshot"
    )
    args = parser.parse_args()
    print(f"tachyon storage benchmark, median of {args.runs} runs")
    bench_throughput(args.ops, args.runs)
    bench_snapshot(args.orders, args.runs)
    bench_replay(args.replay, args.runs)


if __name__ == "__main__":
    main()

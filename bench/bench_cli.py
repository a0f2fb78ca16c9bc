"""Benchmark: wall time of read commands as new processes on a big embedded exchange.

    python -m bench.bench_cli [--runs 10] [--orders 100000]

Builds a temporary exchange holding `--orders` resting orders of 1,000 accounts plus a wallet
with balances and open orders, then times `tachyon --format json dex orderbook` and
`tachyon dex balance` as new processes, next to `python -c pass` and `tachyon --version` (the
floor any command pays) measured in the same run. Figures are medians. Not a test: it prints.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tachyon.dex import Side
from tachyon.exchange import AnyCommand, Deposit, PlaceLimit
from tachyon.storage import JOURNAL_BATCH_MAX, EmbeddedExchange, EmbeddedPort
from tachyon.wallet import KDF_MIN, Wallet, create_key_file

MARKET = "BASE/USDC"
PASSWORD = "benchmark-password"  # noqa: S105 (a throwaway wallet in a temporary directory)
ACCOUNTS = 1_000


def build(data_dir: Path, wallet_dir: Path, orders: int) -> None:
    commands: list[AnyCommand] = []
    for account in range(ACCOUNTS):
        commands.append(Deposit(f"maker-{account}", "USDC", 10**15))
        commands.append(Deposit(f"maker-{account}", "BASE", 10**12))
    for index in range(orders):
        is_bid = index % 2 == 0
        level = index % 1_000
        price = (10_000 - 1 - level if is_bid else 10_000 + level) * 1_000
        side = Side.BID if is_bid else Side.ASK
        commands.append(PlaceLimit(f"maker-{index % ACCOUNTS}", MARKET, side, price, 1 + index % 7))
    key_file = create_key_file(
        wallet_dir, PASSWORD, {"kind": "embedded", "data_dir": str(data_dir)}, KDF_MIN
    )
    with EmbeddedExchange.open(data_dir) as exchange:
        for start in range(0, len(commands), JOURNAL_BATCH_MAX):
            exchange.submit_batch(commands[start : start + JOURNAL_BATCH_MAX])
        wallet = Wallet(key_file, EmbeddedPort.over(exchange))
        wallet.unlock(PASSWORD)
        wallet.deposit("USDC", 10**12)  # type: ignore[arg-type]
        wallet.place_limit(MARKET, Side.BID, 5_000_000, 3)  # type: ignore[arg-type]


def wall_times(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)  # noqa: S603 (our own argv)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    tachyon = shutil.which("tachyon", path=str(Path(sys.executable).parent)) or "tachyon"
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, wallet_dir = Path(tmp) / "exchange", Path(tmp) / "wallet"
        started = time.perf_counter()
        build(data_dir, wallet_dir, args.orders)
        print(f"built {args.orders:,} resting orders in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "TACHYON_HOME": tmp}
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "tachyon --version": [tachyon, "--version"],
            "tachyon --format json dex orderbook": [
                tachyon,
                "--format",
                "json",
                "dex",
                "orderbook",
                "--db-path",
                str(wallet_dir),
            ],
            "tachyon dex balance": [tachyon, "dex", "balance", "--db-path", str(wallet_dir)],
            "tachyon dex orders": [tachyon, "dex", "orders", "--db-path", str(wallet_dir)],
        }
        floor = None
        print(f"{'command':<40} {'median ms':>10} {'p90 ms':>8} {'vs --version':>12}")
        for name, argv in cases.items():
            times = sorted(wall_times(argv, args.runs, env))
            median = statistics.median(times)
            if name == "tachyon --version":
                floor = median
            ratio = f"{median / floor:.2f}" if floor else ""
            p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
            print(f"{name:<40} {median * 1000:>10.0f} {p90 * 1000:>8.0f} {ratio:>12}")


if __name__ == "__main__":
    main()

"""Goal: many `tachyon` processes acting for one wallet, or for two wallets crossing each other,
at the same moment on one embedded exchange all succeed, and each order is acknowledged, and
rests or trades, exactly once, with funds conserved and the journal auditing clean.
Method: rounds of 30+ real CLI processes started together (one fresh exchange each), their JSON
answers checked against `dex orders`, `dex trades`, `dex balance` and `tachyon audit`."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from tachyon.wallet.keystore import KDF_MIN, create
from tests.cli.helpers import RUN_TIMEOUT_S, TACHYON, Cli, describe

PROCESSES: Final = 30  # per round and scenario: the "at least 30"
ROUNDS_QUICK: Final = 1
ROUNDS_LONG: Final = 4  # with the quick round, 300 processes: a 1-in-60 failure shows (99%)
PASSWORD: Final = "concurrent-cli-password"
USDC_FUNDS: Final = 10_000_000  # whole USDC: plenty for every bid
BASE_FUNDS: Final = 100_000
QTY_MAX: Final = 9


@dataclass(frozen=True)
class Order:
    wallet: str
    side: str
    price: int
    qty: int


@dataclass(frozen=True)
class Round:
    cli: Cli
    wallets: dict[str, str]  # name -> wallet directory

    @classmethod
    def fresh(cls, root: Path, names: tuple[str, ...]) -> Round:
        """A new exchange and wallets (made at the KDF's minimum cost), funded by the CLI."""
        cli = Cli.fresh(root)
        exchange = {"kind": "embedded", "data_dir": str(cli.exchange_dir.resolve())}
        wallets = {}
        for name in names:
            path = cli.home / "wallets" / name
            create(path, PASSWORD, exchange, kdf=KDF_MIN)
            wallets[name] = str(path)
        found = cls(cli, wallets)
        for name in names:
            found.json(name, "dex", "deposit-usdc", "--amount", str(USDC_FUNDS))
            found.json(name, "dex", "deposit-base", "--amount", str(BASE_FUNDS))
        return found

    def args(self, name: str, *args: str) -> list[str]:
        return [*args, "--db-path", self.wallets[name], "--format", "json"]

    def json(self, name: str, *args: str) -> Any:
        return self.cli.json(*self.args(name, *args), env={"TACHYON_PASSWORD": PASSWORD})

    def place_all(self, orders: list[Order]) -> list[dict[str, Any]]:
        """Start one `dex place-limit` process per order at once; every one must exit 0 with
        nothing on stderr (a signal shows as a negative return code: a Bus error was -7)."""
        env = self.cli.env({"TACHYON_PASSWORD": PASSWORD})
        procs = []
        for order in orders:
            args = self.args(
                order.wallet,
                "dex",
                "place-limit",
                "--side",
                order.side,
                "--price",
                str(order.price),
                "--qty",
                str(order.qty),
            )
            procs.append(
                subprocess.Popen(
                    [TACHYON, *args],
                    cwd=self.cli.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
            )
        answers = []
        failures = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S * 4)
            result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
            if proc.returncode != 0 or stderr:
                failures.append(describe(result))
            else:
                answers.append(json.loads(stdout))
        assert not failures, f"{len(failures)} of {len(procs)} processes failed:\n{failures[0]}"
        return answers


def _check(round_: Round, orders: list[Order], answers: list[dict[str, Any]]) -> None:
    """Every acknowledged order exactly once: its id unique, and its quantity either resting
    (in its wallet's `dex orders`) or traded (in `dex trades`); funds conserved; audit clean."""
    ids = [answer["order_id"] for answer in answers]
    assert len(set(ids)) == len(ids) == len(orders), sorted(Counter(ids).items())
    qty_of = {answer["order_id"]: _qty(answer) for answer in answers}
    resting: dict[int, int] = {}
    for name in round_.wallets:
        for row in round_.json(name, "dex", "orders")["orders"]:
            assert row["order_id"] in qty_of, f"{name} holds order {row} nobody acknowledged"
            assert row["order_id"] not in resting
            resting[row["order_id"]] = int(row["remaining_qty"])
    trades = round_.json(next(iter(round_.wallets)), "dex", "trades", "--limit", "1000")["trades"]
    assert len({trade["trade_id"] for trade in trades}) == len(trades)
    assert trades or len(round_.wallets) == 1, "the two wallets' orders never crossed"
    traded: Counter[int] = Counter()
    for trade in trades:
        traded[trade["maker_order_id"]] += int(trade["qty"])
        traded[trade["taker_order_id"]] += int(trade["qty"])
    assert set(traded) <= set(qty_of)
    for order_id, qty in qty_of.items():
        assert traded[order_id] + resting.get(order_id, 0) == qty, order_id
    totals: Counter[str] = Counter()
    for name in round_.wallets:
        for row in round_.json(name, "dex", "balance")["balances"]:
            totals[row["token"]] += int(row["available"]) + int(row["locked"])
    count = len(round_.wallets)
    assert totals == {"USDC": count * USDC_FUNDS, "BASE": count * BASE_FUNDS}  # no fees here
    report = round_.cli.json("audit", "--format", "json")
    assert report["entries"] == 2 * count + len(orders)  # the deposits, then every order


def _qty(answer: dict[str, Any]) -> int:
    return int(answer["filled_qty"]) + int(answer["open_qty"])


def _one_wallet(rng: random.Random) -> list[Order]:
    """Bids below asks: nothing crosses, so every order rests (no self-trade prevention)."""
    return [
        Order(
            "alice",
            side := rng.choice(("bid", "ask")),
            rng.randint(90, 99) if side == "bid" else rng.randint(101, 110),
            rng.randint(1, QTY_MAX),
        )
        for _ in range(PROCESSES)
    ]


def _two_wallets(rng: random.Random) -> list[Order]:
    """Alice bids, bob asks, over overlapping prices: they trade with each other."""
    return [
        Order("alice", "bid", rng.randint(98, 104), rng.randint(1, QTY_MAX))
        if n % 2
        else Order("bob", "ask", rng.randint(96, 102), rng.randint(1, QTY_MAX))
        for n in range(PROCESSES)
    ]


def _rounds(tmp_path: Path, rounds: int) -> None:
    seed = int(os.environ.get("TACHYON_SEED") or random.SystemRandom().randrange(2**32))
    sys.stdout.write(f"TACHYON_SEED={seed}\n")  # shown with the captured output on failure
    rng = random.Random(seed)
    try:
        for number in range(rounds):
            for names, make in ((("alice",), _one_wallet), (("alice", "bob"), _two_wallets)):
                round_ = Round.fresh(tmp_path / f"{number}-{len(names)}", names)
                orders = make(rng)
                started = time.monotonic()
                answers = round_.place_all(orders)
                elapsed = time.monotonic() - started
                _check(round_, orders, answers)
                sys.stdout.write(
                    f"round {number}, {len(names)} wallet(s): {len(orders)} processes exited 0"
                    f" in {elapsed:.1f}s, {len(answers)} orders acknowledged once\n"
                )
    except BaseException as exc:
        exc.add_note(f"rerun with TACHYON_SEED={seed}")
        raise


def test_concurrent_cli_processes_all_succeed(tmp_path: Path) -> None:
    _rounds(tmp_path, ROUNDS_QUICK)


@pytest.mark.slow
def test_concurrent_cli_processes_all_succeed_round_after_round(tmp_path: Path) -> None:
    _rounds(tmp_path, ROUNDS_LONG)

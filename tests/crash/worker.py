"""Goal: a real writer process that the crash tests can SIGKILL at any moment.
Method: submit a seeded flow to EmbeddedExchange, print `ack <index> <seq-or-0>` after each commit."""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from tachyon.dex.ids import AccountId
from tachyon.dex.model import SelfTradePrevention, Side, TimeInForce
from tachyon.errors import CorruptData, StaleNonce, StorageError, TachyonError
from tachyon.exchange.admission import admit
from tachyon.exchange.commands import (
    AnyCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    Withdraw,
    decode_command,
    encode_command,
)
from tachyon.exchange.service import Placement
from tachyon.exchange.state_machine import Exchange, Outcome
from tachyon.storage.host import EmbeddedExchange

ACCOUNTS: Final = 8
MARKET: Final = "BASE/USDC"  # the default market: tick 1, lot 1, min 1, no fees
MID: Final = 1_000
SNAPSHOT_EVERY: Final = 50
FUNDING: Final = {"BASE": 20_000, "USDC": 20_000_000}

NonceKey = tuple[str, int]

CLOCK_NS: Final = 1_700_000_000_000_000_000
"""The worker's exchange clock, fixed: every command's time, and the base of its nonces (a
nonce must lie within the receive window of its command's time, and with time standing
still no nonce ages out, so a journaled command resent is always refused as used)."""

# Usage: python -m tests.crash.worker DATA_DIR SEED COUNT [--batch K] [--start I] [--prefix P]
#
# `flow(seed, count, prefix)` is pure, so a test rebuilds the exact commands a worker sends.
# Every account command carries nonce = CLOCK_NS + flow index + 1: a command journaled but whose
# ack line was lost (killed in between) is refused with StaleNonce when a restarted worker sends
# it again, so it can never apply twice. On start the worker reads which (account, nonce) pairs
# the journal already holds; a StaleNonce refusal of one of them is acknowledged with its
# journaled sequence number, after a `dup <index> <seq>` line so tests can count them. The
# worker also prints `open <seq>` once recovered and `done` after a clean close; with --go it
# waits for a line on stdin after `open`, so a test can start several writers at once; with
# --pause-ms it sleeps a random moment between submits so that other writers get the lock. With
# --open-race N it does something else: see `open_race`.


def worker_clock() -> int:
    return CLOCK_NS


def account_names(prefix: str) -> list[str]:
    return [f"{prefix}{k}" for k in range(ACCOUNTS)]


def flow(seed: int, count: int, prefix: str = "u") -> list[AnyCommand]:
    """`count` commands: a deposit of each token for every account, then a seeded mix of
    limits (all TIFs, some post-only), market orders, cancels, withdrawals and top-ups. Some
    are meant to be refused (too large, unknown or foreign order ids). Nonce = CLOCK_NS +
    index + 1.

    Cancels mostly pick an order that is open in an in-memory run of the flow so far (exact
    for a lone writer, merely plausible when another writer interleaves its own orders)."""
    rng = random.Random(f"{prefix}:{seed}")
    accounts = account_names(prefix)
    model = Exchange()
    commands: list[AnyCommand] = []
    command: AnyCommand
    for account in accounts:
        for token, amount in FUNDING.items():
            commands.append(Deposit(account, token, amount, nonce=CLOCK_NS + len(commands) + 1))
    for deposit in commands:
        model.apply(admit(deposit), model.seq + 1, CLOCK_NS)
    last_id = 0  # the highest order id the model has given out
    while len(commands) < count:
        nonce = CLOCK_NS + len(commands) + 1
        account = rng.choice(accounts)
        roll = rng.random()
        if roll < 0.50:
            command = _limit(rng, account, nonce)
        elif roll < 0.62:
            command = _market(rng, account, nonce)
        elif roll < 0.85:
            command = _cancel(rng, model, account, last_id, nonce)
        elif roll < 0.93:
            token = rng.choice(("BASE", "USDC"))
            amount = rng.randint(1, FUNDING[token] // rng.choice((2, 50, 1_000)))
            command = Withdraw(account, token, amount, nonce=nonce)
        else:
            token = rng.choice(("BASE", "USDC"))
            command = Deposit(account, token, rng.randint(1, FUNDING[token] // 20), nonce=nonce)
        commands.append(command)
        try:
            outcome = model.apply(admit(command), model.seq + 1, CLOCK_NS)
        except TachyonError:
            continue  # refused: the model is unchanged, as the exchange will be
        if isinstance(outcome, Placement):
            last_id = max(last_id, outcome.order_id)
    return commands[:count]


def _cancel(
    rng: random.Random, model: Exchange, account: str, last_id: int, nonce: int
) -> CancelOrder:
    open_ids = [owned.order.order_id for owned in model.service.open_orders(AccountId(account))]
    if open_ids and rng.random() < 0.75:
        return CancelOrder(account, rng.choice(open_ids), nonce=nonce)
    # Anything: an open order of someone else, a filled or cancelled one, or a future id.
    return CancelOrder(account, rng.randint(1, last_id + 2), nonce=nonce)


def _limit(rng: random.Random, account: str, nonce: int) -> PlaceLimit:
    side = rng.choice((Side.BID, Side.ASK))
    offset = rng.randint(-4, 25)  # mostly resting, sometimes crossing
    price = MID - offset if side is Side.BID else MID + offset
    tif = rng.choices(list(TimeInForce), weights=(8, 1, 1))[0]
    post_only = tif is TimeInForce.GTC and rng.random() < 0.1
    stp = rng.choice(list(SelfTradePrevention))
    qty = rng.randint(1, 40)
    return PlaceLimit(account, MARKET, side, price, qty, tif, post_only, stp, nonce=nonce)


def _market(rng: random.Random, account: str, nonce: int) -> PlaceMarket:
    side = rng.choice((Side.BID, Side.ASK))
    stp = rng.choice(list(SelfTradePrevention))
    if side is Side.BID and rng.random() < 0.3:
        return PlaceMarket(account, MARKET, side, None, rng.randint(1, 40 * MID), stp, nonce=nonce)
    return PlaceMarket(account, MARKET, side, rng.randint(1, 30), None, stp, nonce=nonce)


def nonce_key(command: AnyCommand) -> NonceKey | None:
    """(account, nonce) of an account command that carries a nonce, else None."""
    if (
        isinstance(command, Deposit | Withdraw | PlaceLimit | PlaceMarket | CancelOrder)
        and command.nonce
    ):
        return command.account, command.nonce
    return None


def read_only(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)


def journaled_nonces(conn: sqlite3.Connection) -> dict[NonceKey, int]:
    """(account, nonce) -> sequence number of every journaled command that carries a nonce."""
    found: dict[NonceKey, int] = {}
    for seq, data in conn.execute("SELECT seq, command FROM journal ORDER BY seq"):
        key = nonce_key(decode_command(bytes(data)))
        if key is not None:
            assert key not in found, f"nonce {key} journaled twice: {found[key]} and {seq}"
            found[key] = int(seq)
    return found


def _ack_seqs(
    conn: sqlite3.Connection,
    after: int,
    batch: Sequence[AnyCommand],
    results: Sequence[Outcome | TachyonError],
    journaled: dict[NonceKey, int],
) -> list[tuple[int, bool]]:
    """Per command: (its journal sequence number or 0, whether an earlier run journaled it).

    Accepted commands are looked up in the journal past `after` (the exchange's sequence
    number before the submit), by their bytes, which the nonce makes unique: the host's `seq`
    after a submit may already include other writers' entries (a snapshot catches up)."""
    seqs: list[tuple[int, bool]] = []
    mine = {
        encode_command(command)
        for command, result in zip(batch, results, strict=True)
        if not isinstance(result, TachyonError)
    }
    found: dict[bytes, int] = {}
    if mine:
        rows = conn.execute("SELECT seq, command FROM journal WHERE seq > ?", (after,))
        found = {bytes(data): int(seq) for seq, data in rows if bytes(data) in mine}
    for command, result in zip(batch, results, strict=True):
        if not isinstance(result, TachyonError):
            data = encode_command(command)
            assert data in found, f"accepted {command!r} is not in the journal after {after}"
            seqs.append((found[data], False))
        elif isinstance(result, StaleNonce):
            key = nonce_key(command)
            seq = 0 if key is None else journaled.get(key, 0)
            seqs.append((seq, seq > 0))
        else:
            seqs.append((0, False))
    return seqs


def _submit(
    exchange: EmbeddedExchange, chunk: Sequence[AnyCommand]
) -> list[Outcome | TachyonError]:
    if len(chunk) == 1:  # the one-commit-per-command path
        try:
            return [exchange.submit(chunk[0])]
        except (StorageError, CorruptData):
            raise  # not a refusal of the command: the worker dies and the test sees why
        except TachyonError as exc:
            return [exc]
    return exchange.submit_batch(chunk)


def run(
    data_dir: Path,
    commands: Sequence[AnyCommand],
    start: int,
    batch: int,
    go: bool,
    pause_s: float,
) -> None:
    out = sys.stdout
    with EmbeddedExchange.open(
        data_dir, snapshot_every=SNAPSHOT_EVERY, clock=worker_clock
    ) as exchange:
        conn = read_only(exchange.db_path)
        try:
            journaled = journaled_nonces(conn)
            out.write(f"open {exchange.seq}\n")
            out.flush()
            if go:
                sys.stdin.readline()
            for first in range(start, len(commands), batch):
                chunk = commands[first : first + batch]
                after = exchange.seq
                results = _submit(exchange, chunk)
                acks = _ack_seqs(conn, after, chunk, results, journaled)
                for index, (seq, dup) in enumerate(acks, start=first):
                    if dup:
                        out.write(f"dup {index} {seq}\n")
                    out.write(f"ack {index} {seq}\n")
                out.flush()
                if pause_s:  # let another writer take the write lock now and then
                    time.sleep(random.uniform(0, pause_s))
        finally:
            conn.close()
    out.write("done\n")
    out.flush()


def open_race(parent: Path, commands: Sequence[AnyCommand], attempts: int) -> None:
    """For each attempt k: print `ready <k>`, wait for a line `go <time>` on stdin and then
    for that wall-clock time (so that several workers start together to the microsecond),
    open the new directory PARENT/race-<k> and submit the flow's first command; print
    `opened <k>`, or `refused <k> <error>` if the open or the submit raised."""
    out = sys.stdout
    for attempt in range(attempts):
        out.write(f"ready {attempt}\n")
        out.flush()
        _, at = sys.stdin.readline().split()
        while time.time() < float(at):
            pass
        try:
            with EmbeddedExchange.open(parent / f"race-{attempt}", clock=worker_clock) as exchange:
                exchange.submit(commands[0])
        except TachyonError as exc:
            traceback.print_exc()  # where it was refused, for the test's failure message
            out.write(f"refused {attempt} {type(exc).__name__}: {exc}\n")
        else:
            out.write(f"opened {attempt}\n")
        out.flush()
    out.write("done\n")
    out.flush()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.crash.worker")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("seed", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--prefix", default="u")
    parser.add_argument("--go", action="store_true", help="wait for a line on stdin once open")
    parser.add_argument("--open-race", type=int, default=0, help="open N new directories")
    parser.add_argument("--pause-ms", type=float, default=0.0, help="most sleep between submits")
    args = parser.parse_args(argv)
    commands = flow(args.seed, args.count, args.prefix)
    if args.open_race:
        open_race(args.data_dir, commands, args.open_race)
    else:
        run(args.data_dir, commands, args.start, args.batch, args.go, args.pause_ms / 1000)


if __name__ == "__main__":
    main()

"""Shared helpers for the storage tests: a seeded command flow over two markets, a step clock,
raw SQLite access that bypasses tachyon, and byte captures of a data directory."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from msgspec.structs import astuple

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.in_memory import TRADES_RECENT_MAX
from tachyon.dex.model import MarketConfig, SelfTradePrevention, Side, TimeInForce
from tachyon.errors import TachyonError
from tachyon.exchange.commands import (
    AddMarket,
    AmendOrder,
    AnyCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    RegisterToken,
    SetFees,
    Withdraw,
)
from tachyon.exchange.nonces import RECEIVE_WINDOW_MS_DEFAULT
from tachyon.exchange.service import Placement
from tachyon.exchange.state_machine import Exchange, Outcome, Refusal
from tachyon.storage import EmbeddedExchange
from tachyon.storage.view import MarketRow, ReadView
from tests.exchange.helpers import (
    ALICE,
    BASE,
    BOB,
    CAROL,
    DAVE,
    DEFAULT,
    ETH,
    ETH_CONFIG,
    USDC,
    apply_command,
)

ACCOUNTS: Final = (ALICE, BOB, CAROL, DAVE)
SOL: Final = TokenId("SOL")
TOKENS: Final = (BASE, ETH, USDC, SOL)
ETH_MARKET: Final = ETH_CONFIG.market_id

ADD_ETH: Final = AddMarket(
    base=ETH_CONFIG.base,
    quote=ETH_CONFIG.quote,
    tick_size=ETH_CONFIG.tick_size,
    lot_size=ETH_CONFIG.lot_size,
    min_qty=ETH_CONFIG.min_qty,
    base_decimals=ETH_CONFIG.base_decimals,
    quote_decimals=ETH_CONFIG.quote_decimals,
    maker_bps=ETH_CONFIG.fees.maker_bps,
    taker_bps=ETH_CONFIG.fees.taker_bps,
)
"""ETH/USDC with fees in quote: tick 20, lot 5, min 10, 2 base decimals."""

# Mid prices in ticks, and each market's tick and lot, for the random flow.
_MID_TICKS: Final = {DEFAULT: 1_000, ETH_MARKET: 2_000}
_TICK: Final = {DEFAULT: 1, ETH_MARKET: ETH_CONFIG.tick_size}
_LOT: Final = {DEFAULT: 1, ETH_MARKET: ETH_CONFIG.lot_size}
_MIN_LOTS: Final = {DEFAULT: 1, ETH_MARKET: ETH_CONFIG.min_qty // ETH_CONFIG.lot_size}

TS_START: Final = 1_700_000_000_000_000_000


class StepClock:
    """A clock that says what the test set it to: the host reads it whenever it likes, and
    every command still gets exactly the timestamp the test chose."""

    def __init__(self, now: int = TS_START) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass(frozen=True)
class Flow:
    """Commands with the timestamp each is submitted at (strictly increasing)."""

    commands: list[AnyCommand]
    stamps: list[int]

    def __len__(self) -> int:
        return len(self.commands)

    def accepted(self) -> Flow:
        """Only the commands a fresh exchange journals (so the n-th one is journaled as n)."""
        exchange = Exchange()
        keep = []
        for index, (command, ts_ns) in enumerate(zip(self.commands, self.stamps, strict=True)):
            seq = exchange.seq
            apply_one(exchange, command, ts_ns)
            if exchange.seq > seq:
                keep.append(index)
        return Flow([self.commands[i] for i in keep], [self.stamps[i] for i in keep])


Result = Outcome | TachyonError


def apply_one(exchange: Exchange, command: AnyCommand, ts_ns: int) -> Result:
    """Apply at the next sequence number; a refusal is returned, and must change nothing (a
    signed command's refusal by the state machine: nothing but its nonce and the sequence)."""
    seq = exchange.seq
    try:
        result = apply_command(exchange, command, seq + 1, ts_ns)
    except TachyonError as exc:
        assert exchange.seq == seq
        return exc
    return result.error if isinstance(result, Refusal) else result


def run(exchange: Exchange, flow: Flow, start: int = 0, stop: int | None = None) -> list[Result]:
    end = len(flow) if stop is None else stop
    return [
        apply_one(exchange, command, ts_ns)
        for command, ts_ns in zip(flow.commands[start:end], flow.stamps[start:end], strict=True)
    ]


def submit_one(host: EmbeddedExchange, clock: StepClock, command: AnyCommand, ts: int) -> Result:
    clock.now = ts
    try:
        return host.submit(command)
    except TachyonError as exc:
        return exc


def same_result(left: Result, right: Result) -> bool:
    """Outcomes are values; errors are equal when their type and message are."""
    if isinstance(left, TachyonError) or isinstance(right, TachyonError):
        return type(left) is type(right) and str(left) == str(right)
    return left == right


def make_flow(seed: int, length: int) -> Flow:
    """A seeded random flow: ETH/USDC and SOL first, funding, then deposits, limits of every
    time in force, post-only, market orders by quantity and by quote budget, cancels (some of
    other accounts' orders), withdrawals (some too large), fee changes and nonces (near the
    command's time, some out of order, some reused, a few outside the receive window).
    Generated against a model exchange so cancels can aim at orders that are open."""
    rng = random.Random(seed)
    model = Exchange()
    commands: list[AnyCommand] = []
    stamps: list[int] = []
    placed: list[OrderId] = []
    ts = TS_START

    def add(command: AnyCommand) -> None:
        commands.append(command)
        stamps.append(ts)
        outcome = apply_one(model, command, ts)
        if isinstance(outcome, Placement) and outcome.open_qty:
            placed.append(outcome.order_id)

    def tick() -> int:
        nonlocal ts
        ts += rng.randint(1, 5_000)
        return ts

    tick()
    add(ADD_ETH)
    tick()
    add(RegisterToken(SOL, 2))
    for account in ACCOUNTS:
        for token, amount in ((USDC, 10**9), (BASE, 5_000), (ETH, 50_000)):
            tick()
            add(Deposit(account, token, amount))
    while len(commands) < length:
        tick()
        if len(commands) == length // 3:  # fee changes that apply, in quote and then in base
            add(SetFees(ETH_MARKET, 15, 25))
        elif len(commands) == 2 * length // 3:
            add(SetFees(ETH_MARKET, 5, 30, ETH))
        else:
            add(_random_command(rng, model, placed, ts))
    return Flow(commands, stamps)


WINDOW_NS: Final = RECEIVE_WINDOW_MS_DEFAULT * 1_000_000


def _nonce(rng: random.Random, model: Exchange, account: AccountId, ts: int) -> int:
    """A nonce for a command at `ts`: mostly fresh (near `ts`, some older than the account's
    last, as concurrent processes send), some reused (stale), a few outside the window."""
    roll = rng.random()
    if roll < 0.2:
        return ts + rng.randint(0, 2_000)
    if roll < 0.3:
        return ts - rng.randint(1, 10**6)  # behind the account's last: still fresh
    if roll < 0.34:
        return model.last_nonce(account)  # stale unless the account never used one
    if roll < 0.35:
        return ts + rng.choice((-1, 1)) * (WINDOW_NS + rng.randint(1, 10**9))
    return 0


def _random_command(
    rng: random.Random, model: Exchange, placed: list[OrderId], ts: int
) -> AnyCommand:
    account = rng.choice(ACCOUNTS)
    nonce = _nonce(rng, model, account, ts)
    market = rng.choice((DEFAULT, ETH_MARKET))
    side = rng.choice((Side.BID, Side.ASK))
    tick, lot = _TICK[market], _LOT[market]
    qty = lot * rng.randint(_MIN_LOTS[market], 8 * _MIN_LOTS[market])
    kind = rng.choices(
        ("limit", "market", "cancel", "deposit", "withdraw", "fees", "amend", "stop", "order"),
        (40, 12, 18, 8, 8, 2, 6, 4, 4),
    )[0]
    if kind in ("amend", "stop", "order"):
        return _lifecycle_command(rng, model, placed, (account, market, side, qty, nonce))
    if kind == "limit":
        price = tick * (_MID_TICKS[market] + rng.randint(-6, 6))
        tif = rng.choices(list(TimeInForce), (6, 2, 2))[0]
        post_only = rng.random() < (0.25 if tif is TimeInForce.GTC else 0.03)
        stp = rng.choice(list(SelfTradePrevention)) if rng.random() < 0.2 else None
        if stp is None:
            return PlaceLimit(account, market, side, price, qty, tif, post_only, nonce=nonce)
        return PlaceLimit(account, market, side, price, qty, tif, post_only, stp, nonce)
    if kind == "market":
        if rng.random() < 0.3:  # by quote budget (an ask by budget is refused)
            budget = rng.randint(1, 40 * _MID_TICKS[market] * tick)
            return PlaceMarket(account, market, side, None, budget, nonce=nonce)
        return PlaceMarket(account, market, side, qty, nonce=nonce)
    if kind == "cancel":
        open_ids = [oid for oid in placed if model.service.get_order(oid) is not None]
        if open_ids and rng.random() < 0.85:
            order_id = rng.choice(open_ids)
            owned = model.service.get_order(order_id)
            assert owned is not None
            owner = owned.order.owner
            if rng.random() < 0.25:  # someone else's order: refused
                owner = rng.choice([other for other in ACCOUNTS if other != owner])
            return CancelOrder(owner, order_id, nonce if owner == account else 0)
        return CancelOrder(account, rng.randint(1, len(placed) + 2), nonce)
    token = rng.choice(TOKENS)
    if kind == "deposit":
        return Deposit(account, token, rng.randint(1, 10**6), nonce)
    if kind == "withdraw":
        available = model.service.balance(account, token).available
        return Withdraw(account, token, rng.randint(1, available * 6 // 5 + 1), nonce)
    fee_token = rng.choice((None, ETH, BASE))  # BASE is not an ETH/USDC token: refused
    return SetFees(ETH_MARKET, rng.randint(0, 30), rng.randint(0, 50), fee_token)


def _lifecycle_command(
    rng: random.Random,
    model: Exchange,
    placed: list[OrderId],
    order: tuple[AccountId, MarketId, Side, int, int],
) -> AnyCommand:
    """An amend of an open order (often its owner's), a stop order, or an iceberg with a
    client order id (some reused: a retry)."""
    account, market, side, qty, nonce = order
    tick = _TICK[market]
    price = tick * (_MID_TICKS[market] + rng.randint(-6, 6))
    open_ids = [oid for oid in placed if model.service.get_order(oid) is not None]
    if rng.random() < 0.4 and open_ids:
        owned = model.service.get_order(rng.choice(open_ids))
        assert owned is not None
        owner = owned.order.owner if rng.random() < 0.8 else account
        new_qty = owned.order.qty + _LOT[owned.market] * rng.randint(-2, 3)
        return AmendOrder(owner, owned.order.order_id, price, new_qty, nonce=nonce)
    if rng.random() < 0.5:
        trigger = tick * (_MID_TICKS[market] + rng.randint(-8, 8))
        return PlaceStop(account, market, side, trigger, price, qty, nonce=nonce)
    display = _LOT[market] * _MIN_LOTS[market]
    client_id = f"c{rng.randrange(8)}"
    return PlaceOrder(
        account, market, side, price, qty + display, display_qty=display,
        client_order_id=client_id, nonce=nonce,
    )  # fmt: skip


# -- raw database access (bypassing tachyon) --------------------------------------------------


DB_NAME: Final = "exchange.db"
HEAD_NAME: Final = "exchange.head"

JournalRow = tuple[int, int, bytes, bytes, bytes]
SnapshotRow = tuple[int, int, bytes, str, bytes, int]


def raw_connect(db_path: Path) -> sqlite3.Connection:
    """A plain read-write connection in autocommit mode; close it with `raw_close`."""
    return sqlite3.connect(db_path, isolation_level=None)


def raw_close(conn: sqlite3.Connection) -> None:
    """Move everything from the WAL into the database file, then close."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0, "the checkpoint could not finish"
    conn.close()


def journal_rows(db_path: Path) -> list[JournalRow]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT * FROM journal ORDER BY seq").fetchall()
    finally:
        conn.close()


def snapshot_rows(db_path: Path) -> list[SnapshotRow]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT * FROM snapshots ORDER BY seq").fetchall()
    finally:
        conn.close()


def user_version(db_path: Path) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        return version
    finally:
        conn.close()


def dir_bytes(path: Path) -> dict[str, bytes]:
    """Every file in a directory, by name, with its exact contents."""
    return {child.name: child.read_bytes() for child in sorted(path.iterdir()) if child.is_file()}


def content_bytes(path: Path) -> dict[str, bytes]:
    """`dir_bytes` without what a read-only SQLite connection leaves behind: its shared-memory
    index (rebuilt from the other files whenever needed) and an empty write-ahead log."""
    files = dir_bytes(path)
    files.pop(f"{DB_NAME}-shm", None)
    if files.get(f"{DB_NAME}-wal") == b"":
        del files[f"{DB_NAME}-wal"]
    return files


# -- the read model -----------------------------------------------------------------------------


def market_row(config: MarketConfig) -> MarketRow:
    fees = config.fees
    return MarketRow(
        config.market_id,
        config.base,
        config.quote,
        config.tick_size,
        config.lot_size,
        config.min_qty,
        config.base_decimals,
        config.quote_decimals,
        fees.maker_bps,
        fees.taker_bps,
        config.fee_token,
        fees.fee_account,
    )


def view_counts(db_path: Path) -> tuple[int, int]:
    """(rows of view_balances, rows of view_orders), read directly."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        (balances,) = conn.execute("SELECT count(*) FROM view_balances").fetchone()
        (orders,) = conn.execute("SELECT count(*) FROM view_orders").fetchone()
        return int(balances), int(orders)
    finally:
        conn.close()


def assert_view_matches(data_dir: Path, exchange: Exchange, *, all_trades: bool = True) -> None:
    """The read model of `data_dir` is current and equals `exchange`'s state exactly: markets,
    tokens, every non-zero balance, every open order, every level of every book, and the trades
    the engines hold (all of them, and no more, unless the view was built after trades older
    than the engines' window: `all_trades=False`)."""
    view = ReadView.open(data_dir)
    assert view is not None, f"the view of {data_dir} is stale at sequence {exchange.seq}"
    service = exchange.service
    with view:
        assert view.head_seq() == exchange.seq
        assert view.markets() == [market_row(config) for config in service.markets()]
        tokens = service.tokens()
        assert view.tokens() == [(meta.symbol, meta.decimals) for meta in tokens]
        decimals = {meta.symbol: meta.decimals for meta in tokens}
        accounts = {acct for meta in tokens for acct in service.ledger.accounts(meta.symbol)}
        balances = orders = 0
        for account in sorted(accounts):
            held = [
                (token, decimals[token], record.available, record.locked, record.debt)
                for token, record in service.balances(account).items()
                if record.available or record.locked or record.debt
            ]
            assert view.balances(account) == held, account
            balances += len(held)
            open_orders = [
                (
                    owned.order.order_id,
                    owned.market,
                    owned.order.side.value,
                    owned.order.price,
                    owned.order.qty,
                    owned.order.remaining_qty,
                    owned.order.filled_qty,
                )
                for owned in service.open_orders(account)
            ]
            held_orders = view.open_orders(account)
            assert [row[:7] for row in held_orders] == open_orders, account
            assert all(row.ts_ns is None or row.ts_ns <= exchange.ts_ns for row in held_orders)
            orders += len(open_orders)
        for config in service.markets():
            market = config.market_id
            book = service.snapshot(10**9, market)
            assert view.book(market, 10**9) == (
                [tuple(level) for level in book.bids],
                [tuple(level) for level in book.asks],
            ), market
            assert view.book(market, 2) == (
                [tuple(level) for level in book.bids[:2]],
                [tuple(level) for level in book.asks[:2]],
            )
            recent = service.recent_trades(TRADES_RECENT_MAX, market)
            held_trades = view.trades(market, 10**9)
            assert [row[:8] for row in held_trades[: len(recent)]] == [
                astuple(trade) for trade in recent
            ], market
            if all_trades and len(recent) < TRADES_RECENT_MAX:
                assert len(held_trades) == len(recent)
    assert view_counts(data_dir / DB_NAME) == (balances, orders)

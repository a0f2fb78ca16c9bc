"""Benchmark: what the order lifecycle costs, against the plain flow and the baseline, same run.

    python -m bench.bench_lifecycle [--runs 5] [--ops 50000] [--seed 7]

Three subjects replay seeded operations: the minimal pure-Python engine on the steady flow of
`bench.flows` (the baseline), `Exchange` on that flow as commands (limit, market and cancel:
the plain flow), and `Exchange` on the same flow with an amend of a live order added after 10%
of its operations and a stop order after 5% (the lifecycle flow; stops trigger as trades reach
them, and their orders are part of the flow's cost). Commands are built and admitted before any
clock starts; each run builds every subject afresh, untimed, then times them one after the
other. Figures are medians over runs; the ratios divide throughputs measured in the same run.
Not a test: it prints.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import time
from collections.abc import Callable, Sequence

from bench.baseline import MinimalEngine
from bench.flows import CANCEL, LIMIT, OWNERS, Op, steady_flow
from tachyon.dex import FeeSchedule, MarketConfig, SelfTradePrevention, Side
from tachyon.errors import TachyonError
from tachyon.exchange import DexService, Exchange, admit
from tachyon.exchange.admission import Admitted
from tachyon.exchange.commands import (
    AmendOrder,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    PlaceStop,
    PlainCommand,
)

ACCOUNTS = [f"trader-{index}" for index in range(OWNERS)]
MARKET = MarketConfig(fees=FeeSchedule(maker_bps=2, taker_bps=5))
ALLOW = SelfTradePrevention.ALLOW
AMEND_SHARE, STOP_SHARE = 0.10, 0.05


def _command(op: Op) -> PlainCommand:
    kind, owner, is_bid, price, qty = op
    account, side = ACCOUNTS[owner], Side.BID if is_bid else Side.ASK
    if kind == LIMIT:
        return PlaceLimit(account, MARKET.market_id, side, price, qty, stp=ALLOW)
    if kind == CANCEL:
        return CancelOrder(account, price)
    return PlaceMarket(account, MARKET.market_id, side, qty, stp=ALLOW)


def _exchange(warmup: Sequence[Op]) -> Exchange:
    """A funded exchange with the warm-up orders resting (built untimed)."""
    exchange = Exchange(DexService(default_market=MARKET))
    for account in ACCOUNTS:
        for token in ("USDC", "BASE"):
            _apply(exchange, admit(Deposit(account, token, 10**15)))
    for op in warmup:
        _apply(exchange, admit(_command(op)))
    return exchange


def _apply(exchange: Exchange, admitted: Admitted) -> None:
    """Apply one command (a refusal is counted when the flow is replayed)."""
    with contextlib.suppress(TachyonError):
        exchange.execute(admitted, exchange.seq + 1, exchange.ts_ns + 1)


def _lifecycle_flow(seed: int, warmup: Sequence[Op], ops: Sequence[Op]) -> list[Admitted]:
    """The plain flow with amends and stops mixed in, each aimed by running the flow on a
    model exchange as it is built (so amends name orders that are open)."""
    rng = random.Random(seed)
    model = _exchange(warmup)
    service = model.service
    commands: list[Admitted] = []
    # The flow's ids are the baseline's (one per limit or market order); stops take ids too.
    ids = {index: index for index in range(1, len(warmup) + 1)}
    next_flow_id = len(warmup) + 1

    def add(command: PlainCommand) -> None:
        admitted = admit(command)
        _apply(model, admitted)
        commands.append(admitted)

    for flow_op in ops:
        op = flow_op
        if op.kind == CANCEL:
            op = op._replace(price=ids[op.price])
        else:
            ids[next_flow_id] = int(service.next_order_id)
            next_flow_id += 1
        add(_command(op))
        owner = ACCOUNTS[rng.randrange(OWNERS)]
        if rng.random() < AMEND_SHARE and (mine := service.open_orders(owner)):  # type: ignore[arg-type]
            order = rng.choice(mine).order
            if rng.random() < 0.5:
                price = order.price + rng.choice((-3, -2, -1, 1, 2, 3))
                add(AmendOrder(owner, order.order_id, price=price))
            else:  # a smaller open quantity keeps its place, a larger one loses it
                done = order.qty - order.remaining_qty
                open_qty = max(1, order.remaining_qty + rng.choice((-5, -1, 5, 20)))
                add(AmendOrder(owner, order.order_id, qty=done + open_qty))
        if rng.random() < STOP_SHARE:
            last = service.top(MARKET.market_id)[2] or 10_000
            is_bid = rng.random() < 0.5
            trigger = last + rng.randint(5, 30) if is_bid else last - rng.randint(5, 30)
            price = trigger + 2 if is_bid else trigger - 2
            side = Side.BID if is_bid else Side.ASK
            add(PlaceStop(owner, MARKET.market_id, side, trigger, price, rng.randint(1, 50)))
    return commands


def _time(run: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    refused = run()
    return time.perf_counter() - started, refused


def _replay(exchange: Exchange, commands: Sequence[Admitted]) -> Callable[[], int]:
    execute = exchange.execute

    def run() -> int:
        refused = 0
        seq, ts = exchange.seq, exchange.ts_ns
        for admitted in commands:
            seq += 1
            ts += 1
            try:
                execute(admitted, seq, ts)
            except TachyonError:
                refused += 1
                seq -= 1
        return refused

    return run


def _baseline(warmup: Sequence[Op], ops: Sequence[Op]) -> Callable[[], int]:
    engine = MinimalEngine()
    for op in warmup:
        engine.place_limit(op.is_bid, op.price, op.qty)

    def run() -> int:
        for kind, _owner, is_bid, price, qty in ops:
            if kind == LIMIT:
                engine.place_limit(is_bid, price, qty)
            elif kind == CANCEL:
                engine.cancel(price)
            else:
                engine.place_market(is_bid, qty)
        return 0

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="figures are medians over runs")
    parser.add_argument("--ops", type=int, default=50_000, help="operations of the plain flow")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    warmup, ops, _ = steady_flow(args.seed, args.ops)
    plain = [admit(_command(op)) for op in ops]
    mixed = _lifecycle_flow(args.seed, warmup, ops)
    counts = {"baseline": len(ops), "exchange plain": len(plain), "exchange lifecycle": len(mixed)}
    rates: dict[str, list[float]] = {name: [] for name in counts}
    refused: dict[str, int] = {}
    for _ in range(args.runs):
        subjects = {
            "baseline": _baseline(warmup, ops),
            "exchange plain": _replay(_exchange(warmup), plain),
            "exchange lifecycle": _replay(_exchange(warmup), mixed),
        }
        for name, run in subjects.items():
            seconds, refused[name] = _time(run)
            rates[name].append(counts[name] / seconds)
    amends = sum(type(a.command) is AmendOrder for a in mixed)
    stops = sum(type(a.command) is PlaceStop for a in mixed)
    print(
        f"tachyon lifecycle benchmark, seed {args.seed}, median of {args.runs} runs;"
        f" lifecycle flow: {len(mixed):,} commands, {amends:,} amends, {stops:,} stops"
    )
    print(f"{'subject':<20}{'ops/s':>12}{'x baseline':>12}{'refused':>9}")
    for name, values in rates.items():
        ratios = [value / base for value, base in zip(values, rates["baseline"], strict=True)]
        print(
            f"{name:<20}{statistics.median(values):>12,.0f}"
            f"{statistics.median(ratios):>12.3f}{refused[name]:>9,}"
        )
    per_run = [
        mixed_rate / plain_rate
        for mixed_rate, plain_rate in zip(
            rates["exchange lifecycle"], rates["exchange plain"], strict=True
        )
    ]
    print(
        f"lifecycle flow: {statistics.median(per_run):.3f} x the plain flow's throughput on"
        " Exchange (median of each run's ratio)"
    )


if __name__ == "__main__":
    main()

"""Benchmark: InMemoryEngine and DexService against a minimal pure-Python engine, same run.

    python -m bench.bench_engine [--runs 5] [--ops 200000] [--deep-ops 100000]
                                 [--engine NAME ...]

For each flow (steady: a few thousand resting orders; deep: 100,000 resting orders over about
2,000 levels) and each subject, every run replays the same seeded operations twice: once
untimed-per-op for throughput, the subjects taking turns slice by slice so that the machine's
changing speed hits them alike, and once alone with a clock read around each operation for
latency percentiles (the clock read costs are included and printed). Figures are medians over
runs; ratios divide by the baseline's throughput measured in the same run, and are the figures
to compare across runs and machines. `--engine NAME` adds an installed engine (`liquibook`, or
any `tachyon.engines` entry point) as a subject, driven as InMemoryEngine is. Not a test: it
prints.

Each subject gets the ops in its own argument types, converted before any clock starts: the
baseline booleans and ints, the engine and the service accounts, sides and order ids.
Orders are placed with self-trade prevention ALLOW so that every subject replays exactly the
baseline's matching (the baseline has no owners); the owner comparison is still made per fill.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

from bench.baseline import MinimalEngine
from bench.flows import CANCEL, LIMIT, OWNERS, FlowStats, Op, deep_flow, steady_flow
from tachyon.dex import (
    AccountId,
    FeeSchedule,
    InMemoryEngine,
    MarketConfig,
    OrderBookEngine,
    OrderId,
    SelfTradePrevention,
    Side,
    TimeInForce,
    TokenId,
)
from tachyon.errors import TachyonError
from tachyon.exchange import DexService, engine_factory, engine_names, risk
from tachyon.exchange.risk import MarketRules, RiskLimits

ACCOUNTS = [AccountId(f"trader-{index}") for index in range(OWNERS)]
SERVICE_MARKET = MarketConfig(fees=FeeSchedule(maker_bps=2, taker_bps=5))
FUNDING = 10**15
ALLOW = SelfTradePrevention.ALLOW
SIDES = {True: Side.BID, False: Side.ASK}

Call = tuple[int, Any, Any, Any, int]  # an op in a subject's own argument types (see `Replay`)


class Replay(NamedTuple):
    """A subject built and warmed up: `prepare` turns ops into its own argument values once,
    before any clock starts (the baseline takes booleans and ints, the engine and the service
    accounts, sides and order ids), and `run` replays prepared ops, returning how many were
    refused."""

    prepare: Callable[[Sequence[Op]], list[Call]]
    run: Callable[[Sequence[Call]], int]


class Subject(NamedTuple):
    name: str
    build: Callable[[Sequence[Op]], Replay]


def _baseline(warmup: Sequence[Op]) -> Replay:
    engine = MinimalEngine()
    for op in warmup:
        engine.place_limit(op.is_bid, op.price, op.qty)
    place_limit, place_market, cancel = engine.place_limit, engine.place_market, engine.cancel

    def run(calls: Sequence[Call]) -> int:
        for kind, _owner, is_bid, price, qty in calls:
            if kind == LIMIT:
                place_limit(is_bid, price, qty)
            elif kind == CANCEL:
                cancel(price)
            else:
                place_market(is_bid, qty)
        return 0

    return Replay(list, run)  # its own types already


def _native(ops: Sequence[Op]) -> list[Call]:
    """Ops with the engine's and the service's argument types: accounts, sides, order ids."""
    return [
        (kind, ACCOUNTS[owner], SIDES[is_bid], OrderId(price) if kind == CANCEL else price, qty)
        for kind, owner, is_bid, price, qty in ops
    ]


def _engine(warmup: Sequence[Op]) -> Replay:
    return _engine_replay(InMemoryEngine(), warmup)


def _named_engine(name: str) -> Subject:
    """An installed engine by name, driven as InMemoryEngine is."""
    factory = engine_factory(name)
    return Subject(name, lambda warmup: _engine_replay(factory(MarketConfig()), warmup))


def _engine_replay(engine: OrderBookEngine, warmup: Sequence[Op]) -> Replay:
    for kind, owner, side, price, qty in _native(warmup):
        assert kind == LIMIT
        engine.place_limit(owner, side, price, qty, stp=ALLOW)
    # The engine's own API, which `DexService` calls: each placement's `EngineReport` says all
    # it did (`place_limit` / `place_market` are the seed's wrappers around these).
    place_limit, place_market, cancel = engine.execute_limit, engine.execute_market, engine.cancel

    def run(calls: Sequence[Call]) -> int:
        for kind, owner, side, price, qty in calls:
            if kind == LIMIT:
                place_limit(owner, side, price, qty, stp=ALLOW)
            elif kind == CANCEL:
                cancel(price)
            else:
                place_market(owner, side, qty, stp=ALLOW)
        return 0

    return Replay(_native, run)


def _service(warmup: Sequence[Op]) -> Replay:
    service = DexService(default_market=SERVICE_MARKET)
    for account in ACCOUNTS:
        service.deposit(account, TokenId("USDC"), FUNDING)
        service.deposit(account, TokenId("BASE"), FUNDING)
    for kind, owner, side, price, qty in _native(warmup):
        assert kind == LIMIT
        service.place_limit(owner, side, price, qty, stp=ALLOW)
    place_limit, place_market, cancel = service.place_limit, service.place_market, service.cancel

    def run(calls: Sequence[Call]) -> int:
        refused = 0
        for kind, owner, side, price, qty in calls:
            try:
                if kind == LIMIT:
                    place_limit(owner, side, price, qty, stp=ALLOW)
                elif kind == CANCEL:
                    cancel(owner, price)
                else:
                    place_market(owner, side, qty, stp=ALLOW)
            except TachyonError:  # counted and shown: a correct replay refuses nothing
                refused += 1
        return refused

    AFTER_RUN.append(service.check_invariants)  # the figures are for a correct run
    _SERVICES.append(service)
    return Replay(_native, run)


# Every risk limit set, none binding on the flow: the cost of the checks, not of refusals.
EVERY_LIMIT = MarketRules(
    max_qty=2**63,
    min_notional=1,
    limits=RiskLimits(
        max_notional=2**63, price_band_bps=9_999, max_position=2**63, max_open_orders=2**31
    ),
)


def _service_with_risk(warmup: Sequence[Op]) -> Replay:
    """`DexService` behind the risk stage (`tachyon.exchange.risk`) with every limit set, as
    `Exchange` runs it for a market with rules: the stage's cost is this over DexService."""
    replay = _service(warmup)
    service = _SERVICES[-1]
    config, rules = service.get_market(SERVICE_MARKET.market_id), EVERY_LIMIT
    check_limit, check_market, gtc = risk.check_limit, risk.check_market, TimeInForce.GTC
    place_limit, place_market, cancel = service.place_limit, service.place_market, service.cancel

    def run(calls: Sequence[Call]) -> int:
        refused = 0
        for kind, owner, side, price, qty in calls:
            try:
                if kind == LIMIT:
                    check_limit(service, rules, owner, config, (side, price, qty, gtc))
                    place_limit(owner, side, price, qty, stp=ALLOW)
                elif kind == CANCEL:
                    cancel(owner, price)
                else:
                    check_market(service, rules, owner, config, (side, qty, None))
                    place_market(owner, side, qty, stp=ALLOW)
            except TachyonError:
                refused += 1
        return refused

    return Replay(replay.prepare, run)


def _timed(run: Callable[[Sequence[Call]], int], calls: Sequence[Call]) -> list[int]:
    """The same replay, one op at a time: each op's latency (ns), sorted."""
    clock = time.perf_counter_ns
    latencies = []
    for call in calls:
        start = clock()
        run((call,))
        latencies.append(clock() - start)
    return sorted(latencies)


SLICE_OPS = 2_000  # ops a subject replays before the next takes its turn
AFTER_RUN: list[Callable[[], None]] = []  # checks to run, untimed, after a replay
_SERVICES: list[DexService] = []  # the service a subject built (for the risk subject)
SERVICE_SUBJECT, RISK_SUBJECT = "DexService", "DexService + risk limits"
SUBJECTS = [
    Subject("baseline", _baseline),
    Subject("InMemoryEngine", _engine),
    Subject(SERVICE_SUBJECT, _service),
    Subject(RISK_SUBJECT, _service_with_risk),
]


class Sample(NamedTuple):
    ops_per_s: float
    p50_ns: int
    p99_ns: int
    p999_ns: int
    refused: int


def _throughputs(warmup: Sequence[Op], ops: Sequence[Op]) -> dict[str, tuple[float, int]]:
    """Each subject's (ops/s, refused) replaying `ops` from its own warmed-up state.

    Each subject lives in a process of its own, so that its garbage collections walk its own
    heap only: in one process, a collection that one subject's allocations set off walks every
    subject's book (about 85 MB after the deep warm-up), and which subject pays for it is chance.
    The flows are frozen out of the collector before the processes fork, so no subject walks
    them either. The subjects take turns, slice by slice (the first to go rotates), so that a
    change in the machine's speed during the run (other tenants, frequency) hits every subject
    alike and the ratios stay comparable; each slice is still a subject replaying its own
    continuing flow.
    """
    context = multiprocessing.get_context("fork")
    gc.collect()
    gc.freeze()
    pipes: dict[str, Connection] = {}
    workers = []
    for subject in SUBJECTS:
        pipes[subject.name], child_end = context.Pipe()
        worker = context.Process(target=_replay_slices, args=(subject, warmup, ops, child_end))
        worker.start()
        workers.append(worker)
    gc.unfreeze()
    names = list(pipes)
    for name in names:
        pipes[name].recv()  # built and warmed up
    elapsed = dict.fromkeys(names, 0.0)
    for index, first in enumerate(range(0, len(ops), SLICE_OPS)):
        turn = index % len(names)
        for name in names[turn:] + names[:turn]:
            pipes[name].send(first)
            elapsed[name] += pipes[name].recv()
    refused = {}
    for name in names:
        pipes[name].send(None)
        refused[name] = pipes[name].recv()
    for worker in workers:
        worker.join()
    return {name: (len(ops) / elapsed[name], refused[name]) for name in names}


def _replay_slices(
    subject: Subject, warmup: Sequence[Op], ops: Sequence[Op], conn: Connection
) -> None:
    """A subject's process: build and warm it up, then replay the slices the parent asks for
    (by first index), answering each with its seconds; None ends it, answered with how many
    ops were refused once the subject's checks have passed."""
    replay = subject.build(warmup)
    calls = replay.prepare(ops)
    gc.collect()
    conn.send(0.0)
    clock = time.perf_counter
    refused = 0
    while (first := conn.recv()) is not None:
        chunk = calls[first : first + SLICE_OPS]
        start = clock()
        refused += replay.run(chunk)
        conn.send(clock() - start)
    while AFTER_RUN:
        AFTER_RUN.pop()()
    conn.send(refused)


def _latencies(subject: Subject, warmup: Sequence[Op], ops: Sequence[Op]) -> list[int]:
    """Per-op latencies (ns, sorted) of one subject replaying `ops` alone."""
    replay = subject.build(warmup)
    calls = replay.prepare(ops)
    gc.collect()
    latencies = _timed(replay.run, calls)
    while AFTER_RUN:
        AFTER_RUN.pop()()
    return latencies


def _sample(
    subject: Subject, warmup: Sequence[Op], ops: Sequence[Op], throughput: tuple[float, int]
) -> Sample:
    latencies = _latencies(subject, warmup, ops)

    def pct(q: float) -> int:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    ops_per_s, refused = throughput
    return Sample(ops_per_s, pct(0.50), pct(0.99), pct(0.999), refused)


def _resting_bytes(subject: Subject, warmup: Sequence[Op]) -> int:
    gc.collect()
    tracemalloc.start()
    holder = subject.build(warmup)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del holder
    return size


def _clock_cost_ns() -> int:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(100_000):
        start = clock()
        samples.append(clock() - start)
    return int(statistics.median(samples))


def bench_flow(title: str, flow: tuple[list[Op], list[Op], FlowStats], runs: int) -> None:
    warmup, ops, stats = flow
    print(
        f"\n== {title}: {len(warmup):,} warm-up orders, {len(ops):,} measured ops,"
        f" {stats.crossing_share:.0%} of limits cross, ~{stats.resting_mean:,.0f} resting (tracker)"
    )
    samples: dict[str, list[Sample]] = {subject.name: [] for subject in SUBJECTS}
    ratios: dict[str, list[float]] = {subject.name: [] for subject in SUBJECTS}
    for _ in range(runs):
        throughputs = _throughputs(warmup, ops)
        per_run = {
            subject.name: _sample(subject, warmup, ops, throughputs[subject.name])
            for subject in SUBJECTS
        }
        for name, sample in per_run.items():
            samples[name].append(sample)
            ratios[name].append(sample.ops_per_s / per_run["baseline"].ops_per_s)
    print(
        f"{'subject':<16}{'ops/s':>12}{'x baseline':>12}{'p50 ns':>9}{'p99 ns':>9}{'p99.9 ns':>10}{'refused':>9}"
    )
    for name, rows in samples.items():
        print(
            f"{name:<16}{statistics.median(r.ops_per_s for r in rows):>12,.0f}"
            f"{statistics.median(ratios[name]):>12.3f}"
            f"{statistics.median(r.p50_ns for r in rows):>9,.0f}"
            f"{statistics.median(r.p99_ns for r in rows):>9,.0f}"
            f"{statistics.median(r.p999_ns for r in rows):>10,.0f}"
            f"{rows[0].refused:>9}"
        )
    with_risk = [
        risk.ops_per_s / plain.ops_per_s
        for risk, plain in zip(samples[RISK_SUBJECT], samples[SERVICE_SUBJECT], strict=True)
    ]
    print(
        f"risk limits: {RISK_SUBJECT!r} runs at {statistics.median(with_risk):.3f} x"
        f" {SERVICE_SUBJECT!r}'s throughput (median of each run's ratio)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per flow; figures are medians")
    parser.add_argument("--ops", type=int, default=200_000, help="measured ops in the steady flow")
    parser.add_argument(
        "--deep-ops", type=int, default=100_000, help="measured ops in the deep flow"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="NAME",
        help="also measure this installed engine (repeatable): " + ", ".join(engine_names()),
    )
    args = parser.parse_args()
    SUBJECTS.extend(_named_engine(name) for name in args.engine)
    print(
        f"tachyon engine benchmark, seed {args.seed}, median of {args.runs} runs;"
        f" one clock read pair costs ~{_clock_cost_ns()} ns (included in latencies)"
    )
    bench_flow("steady flow", steady_flow(args.seed, args.ops), args.runs)
    deep = deep_flow(args.seed, count=args.deep_ops)
    bench_flow("deep book", deep, args.runs)
    print("\nmemory held after the deep warm-up (100,000 resting orders), traced by tracemalloc:")
    for subject in SUBJECTS:
        size = _resting_bytes(subject, deep[0])
        print(
            f"  {subject.name:<16}{size / 2**20:>8.1f} MiB  ({size / len(deep[0]):,.0f} B per order)"
        )
    whole, frozen = _collection_pauses(deep[0])
    print(
        "\nfull garbage collection holding DexService after the deep warm-up (median of 5):"
        f" {whole:.1f} ms; {frozen:.2f} ms once it is frozen (gc.freeze, as the node does)"
    )


def _collection_pauses(warmup: Sequence[Op]) -> tuple[float, float]:
    """Milliseconds a full collection takes with the service's state alive, then frozen."""
    holder = _service(warmup)
    AFTER_RUN.clear()

    def pause() -> float:
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            gc.collect()
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)

    whole = pause()
    gc.freeze()
    try:
        frozen = pause()
    finally:
        gc.unfreeze()
    del holder
    return whole, frozen


if __name__ == "__main__":
    main()

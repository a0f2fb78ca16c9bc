"""Instructions per operation of the engine benchmark's subjects, counted by valgrind.

    python -m bench.instructions [--ops 20000] [--flow steady|deep] [--cache]

A measure that does not move with the machine's speed, unlike `bench_engine`'s timings: each
subject is built and warmed up exactly as `bench_engine` builds it (the modules and the flow
frozen out of the collector first, as in its processes), then replays `--ops` operations of
the flow, once under valgrind's cachegrind and once with no operations at all; the difference
over `--ops` is what one operation costs. `--cache` also counts simulated level-1 data cache
misses (slower). Needs valgrind (Debian: `apt-get install valgrind`). Not a test: it prints.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys

from bench import bench_engine
from bench.flows import deep_flow, steady_flow

_COUNTS = {"I": re.compile(r"I\s+refs:\s+([\d,]+)"), "D1": re.compile(r"D1\s+misses:\s+([\d,]+)")}


def _replay(subject_name: str, flow: str, ops: int) -> None:
    """The child's work: build one subject, replay `ops` operations of the flow."""
    warmup, measured, _ = steady_flow(7, 20_000) if flow == "steady" else deep_flow(7, count=20_000)
    gc.collect()
    gc.freeze()
    subject = next(subject for subject in bench_engine.SUBJECTS if subject.name == subject_name)
    replay = subject.build(warmup)
    calls = replay.prepare(measured)
    gc.collect()
    replay.run(calls[:ops])


def _count(subject: str, flow: str, ops: int, cache: bool) -> dict[str, int]:
    argv = [
        "valgrind",
        "--tool=cachegrind",
        f"--cache-sim={'yes' if cache else 'no'}",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.instructions",
        "--child",
        subject,
        "--flow",
        flow,
        "--ops",
        str(ops),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every child
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)  # noqa: S603
    counts = {}
    for name, pattern in _COUNTS.items():
        found = pattern.search(done.stderr)
        if found:
            counts[name] = int(found.group(1).replace(",", ""))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=20_000, help="operations counted (<= 20,000)")
    parser.add_argument("--flow", choices=["steady", "deep"], default="steady")
    parser.add_argument("--cache", action="store_true", help="also count D1 cache misses")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _replay(args.child, args.flow, args.ops)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    print(f"instructions per operation, {args.flow} flow, {args.ops:,} operations (cachegrind)")
    baseline = 0.0
    for subject in bench_engine.SUBJECTS:
        empty = _count(subject.name, args.flow, 0, args.cache)
        full = _count(subject.name, args.flow, args.ops, args.cache)
        per_op = {name: (full[name] - empty[name]) / args.ops for name in full}
        baseline = baseline or per_op["I"]
        misses = f"{per_op['D1']:>10,.0f} D1 misses" if "D1" in per_op else ""
        print(f"  {subject.name:<16}{per_op['I']:>10,.0f}{baseline / per_op['I']:>8.2f} x{misses}")


if __name__ == "__main__":
    main()

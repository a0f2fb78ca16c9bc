#!/usr/bin/env bash
# Concurrent writers, as a new user would meet them: 30 `tachyon dex place-limit` processes at
# once for one wallet on one embedded exchange, ROUNDS times; prints how many exited with each
# code and the most common error lines. Not a test: it measures (the test is
# tests/crash/test_concurrent_cli.py).
#   bash bench/concurrent_cli.sh [SRC_DIR] [ROUNDS]    (SRC_DIR: a tachyon src/ to run, default ./src)
set -uo pipefail
SRC=${1:-$(cd "$(dirname "$0")/.." && pwd)/src}
ROUNDS=${2:-4}
PY=${PYTHON:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
export PYTHONPATH=$SRC TACHYON_PASSWORD='a long passphrase'
home=$(mktemp -d)
export TACHYON_HOME=$home
trap 'rm -rf "$home"' EXIT
"$PY" -m tachyon wallet create --db-path "$home/w" > /dev/null
"$PY" -m tachyon dex deposit-usdc --db-path "$home/w" --amount 100000000 > /dev/null
declare -A codes
for r in $(seq "$ROUNDS"); do
  pids=()
  for i in $(seq 30); do
    "$PY" -m tachyon dex place-limit --db-path "$home/w" --side bid --price $((10 + i)) --qty 1 \
      > /dev/null 2> "$home/err.$r.$i" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p"
    c=$?
    codes[$c]=$(( ${codes[$c]:-0} + 1 ))
  done
done
for c in "${!codes[@]}"; do echo "exit $c: ${codes[$c]}"; done
cat "$home"/err.* | sed 's/[0-9]\{6,\}/N/g' | sort | uniq -c | sort -rn | head -5

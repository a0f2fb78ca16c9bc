"""Goal: a SIGKILL of a real node under load loses nothing it acknowledged: after a restart on
the same data directory every acknowledged order is open with its price and quantity, every
acknowledged cancel is gone, and each balance is its deposit less what its open orders lock.
Method: `serve` in a subprocess on a free 127.0.0.1 port; eight threads, each one wallet with its
own HTTP client, place resting bids (and cancel some) until a few hundred are acknowledged; the
process is killed with requests in flight, restarted and checked, three times over; then it is
stopped with SIGTERM and the library audit replays the whole journal and checks the invariants.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx2
import pytest

from tachyon.dex import Side
from tachyon.dex.units import to_decimal, to_minor
from tachyon.exchange.commands import CancelOrder, Deposit, PlaceLimit
from tachyon.storage.audit import audit
from tests.node.server import STOP_TIMEOUT_S, free_port, start_node, wait_until_up
from tests.node.support import MARKET, USDC, Trader

REQUEST_TIMEOUT_S: Final = 10.0
THREADS: Final = 8
KILLS: Final = 3
ROUND_ACKS: Final = 500  # acknowledged commands per round before the kill ...
ROUND_TIME_S: Final = 2.0  # ... or this long under load, whichever comes first
STEPS_MAX: Final = 20_000  # a thread's bound; the kill ends it long before
CANCEL_EVERY: Final = 4  # one step in four cancels one of the thread's open orders
PRICE_MAX: Final = 100  # whole USDC; only bids rest, so nothing ever crosses
QTY_MAX: Final = 5
DEPOSIT: Final = 10_000_000 * USDC
QUOTE_DECIMALS: Final = 6
BASE_DECIMALS: Final = 0
RATE_LIMITED: Final = 429
RATE_LIMITED_PAUSE_S: Final = 0.02
CUT_OFF: Final = "the transport: "


@dataclass
class Account:
    """One wallet and what the node acknowledged to it (written by its thread only)."""

    trader: Trader
    rng: random.Random
    open: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (price, qty)
    cancelled: set[int] = field(default_factory=set)
    in_flight: PlaceLimit | None = None  # a placement sent but never answered (at a kill)
    doubtful: set[int] = field(default_factory=set)  # cancels sent but never answered
    acks: int = 0
    unexpected: list[str] = field(default_factory=list)  # answers that are neither 200 nor 429
    ended_by: str = ""


def _place(account: Account) -> None:
    trader = account.trader
    price, qty = account.rng.randint(1, PRICE_MAX) * USDC, account.rng.randint(1, QTY_MAX)
    command = PlaceLimit(trader.address, MARKET, Side.BID, price, qty, nonce=trader.nonce())
    account.in_flight = command
    response = trader.post(command)
    account.in_flight = None
    if response.status_code == 200:
        body = response.json()
        if body["status"] != "new" or body["open_qty"] != str(qty) or body["trades"]:
            account.unexpected.append(f"placement answered {body}")
        account.open[body["order_id"]] = (price, qty)
        account.acks += 1
    elif response.status_code == RATE_LIMITED:
        time.sleep(RATE_LIMITED_PAUSE_S)
    else:
        account.unexpected.append(f"place: {response.status_code} {response.text}")


def _cancel(account: Account) -> None:
    trader = account.trader
    order_id = account.rng.choice(list(account.open))
    account.doubtful.add(order_id)
    response = trader.post(CancelOrder(trader.address, order_id, nonce=trader.nonce()))
    account.doubtful.discard(order_id)
    if response.status_code == 200:
        body = response.json()
        if body["order_id"] != order_id or body["status"] != "cancelled":
            account.unexpected.append(f"cancel of {order_id} answered {body}")
        del account.open[order_id]
        account.cancelled.add(order_id)
        account.acks += 1
    elif response.status_code == RATE_LIMITED:
        time.sleep(RATE_LIMITED_PAUSE_S)
    else:
        account.unexpected.append(f"cancel: {response.status_code} {response.text}")


def _load(account: Account) -> None:
    """Place and cancel until the node is gone (a transport error) or something is wrong."""
    try:
        for step in range(STEPS_MAX):
            if account.unexpected:
                account.ended_by = "an unexpected answer"
                return
            if step % CANCEL_EVERY == CANCEL_EVERY - 1 and account.open:
                _cancel(account)
            else:
                _place(account)
        account.ended_by = "its step bound"
    except httpx2.TransportError as exc:
        account.ended_by = f"{CUT_OFF}{type(exc).__name__}"
    except Exception as exc:  # reported by the main thread, never lost in this one
        account.unexpected.append(f"{type(exc).__name__}: {exc}")
        account.ended_by = "an exception"


def _kill_under_load(process: subprocess.Popen[bytes], accounts: list[Account]) -> None:
    """Load the node from every account, SIGKILL it mid-flight, and wait for the threads."""
    before = sum(account.acks for account in accounts)
    threads = [threading.Thread(target=_load, args=(account,)) for account in accounts]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + ROUND_TIME_S
    while time.monotonic() < deadline and all(thread.is_alive() for thread in threads):
        if sum(account.acks for account in accounts) - before >= ROUND_ACKS:
            break
        time.sleep(0.005)
    process.kill()
    process.communicate(timeout=STOP_TIMEOUT_S)
    for thread in threads:
        thread.join(timeout=STOP_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a load thread did not end"
    assert process.returncode == -signal.SIGKILL, process.returncode
    assert [a.unexpected for a in accounts] == [[] for _ in accounts]
    ends = {account.ended_by for account in accounts}
    assert all(end.startswith(CUT_OFF) for end in ends), ends  # each was cut off by the kill
    assert sum(account.acks for account in accounts) > before, "no load reached the node"


def _settle_doubts(account: Account, present: dict[int, tuple[int, int]]) -> None:
    """What was in flight at the kill may or may not have been applied: learn which, and
    refuse anything else the node holds that it never acknowledged."""
    for order_id in account.doubtful:
        if order_id not in present:
            del account.open[order_id]
            account.cancelled.add(order_id)
    account.doubtful.clear()
    extra = set(present) - set(account.open)
    sent, account.in_flight = account.in_flight, None
    if sent is None:
        assert not extra, f"orders never acknowledged nor sent: {sorted(extra)}"
        return
    assert len(extra) <= 1, f"one placement was in flight; {sorted(extra)} are unknown"
    for order_id in extra:
        assert present[order_id] == (sent.price, sent.qty), (order_id, sent)
        account.open[order_id] = present[order_id]


def _open_orders(trader: Trader) -> dict[int, tuple[int, int]]:
    """The account's open orders on the node: id -> (price, qty) in minor units."""
    rows = trader.orders()
    present: dict[int, tuple[int, int]] = {}
    for row in rows:
        assert row["market"] == MARKET, row
        assert row["side"] == "bid", row
        assert row["status"] == "new", row
        assert row["filled_qty"] == "0", row
        assert row["remaining_qty"] == row["qty"], row
        price = to_minor(row["price"], QUOTE_DECIMALS, "price")
        present[row["order_id"]] = (price, to_minor(row["qty"], BASE_DECIMALS, "qty"))
    assert len(present) == len(rows), "an order listed twice"
    return present


def _check(account: Account) -> None:
    """The restarted node holds exactly what was acknowledged, and no half-applied command."""
    present = _open_orders(account.trader)
    missing = set(account.open) - set(present) - account.doubtful
    assert not missing, f"acknowledged orders lost: {sorted(missing)}"
    for order_id, (price, qty) in account.open.items():
        if order_id in present:
            assert present[order_id] == (price, qty), (order_id, present[order_id])
    revived = account.cancelled & set(present)
    assert not revived, f"acknowledged cancels undone: {sorted(revived)}"
    _settle_doubts(account, present)
    locked = sum(price * qty for price, qty in account.open.values())
    usdc = (to_decimal(DEPOSIT - locked, QUOTE_DECIMALS), to_decimal(locked, QUOTE_DECIMALS))
    assert account.trader.balances() == {"BASE": ("0", "0"), "USDC": usdc}


def _connect(port: int, process: subprocess.Popen[bytes], accounts: list[Account]) -> None:
    """Point every account's trader at the node on `port`, once it answers."""
    for account in accounts:
        account.trader.client.close()
        account.trader.client = httpx2.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT_S
        )
    wait_until_up(accounts[0].trader.client, process)


@pytest.mark.network
def test_a_node_killed_under_load_keeps_everything_it_acknowledged(tmp_path: Path) -> None:
    data_dir = tmp_path / "exchange"
    accounts = [Account(Trader(httpx2.Client()), random.Random(seed)) for seed in range(THREADS)]
    entries = 0
    try:
        for kill in range(KILLS + 1):
            port = free_port()
            process = start_node(data_dir, port)
            try:
                _connect(port, process, accounts)
                for account in accounts:
                    if kill == 0:
                        trader = account.trader
                        trader.ok(Deposit(trader.address, "USDC", DEPOSIT, trader.nonce()))
                    else:
                        _check(account)
                if kill == KILLS:
                    break
                _kill_under_load(process, accounts)
            finally:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    _, stderr = process.communicate(timeout=STOP_TIMEOUT_S)
                    assert process.returncode == 0, stderr.decode()
            report = audit(data_dir)  # the journal a kill left behind verifies and replays
            assert report.entries > entries
            assert report.snapshot_matches is not False
            entries = report.entries
    finally:
        for account in accounts:
            account.trader.client.close()
    final = audit(data_dir)
    assert final.entries == entries
    assert final.snapshot_seq == final.entries  # SIGTERM snapshotted on the way out
    assert final.snapshot_matches is True
    assert sum(len(account.cancelled) for account in accounts) > 0  # cancels were exercised

"""Goal: a signed command the state machine refuses uses its nonce, is journaled as `Refused`
in its batch's commit, is answered with its error, and every replay (catch-up, reopen, audit)
refuses it again with the same code; a replay that would not is CorruptData naming the file
and the sequence number; the same signed bytes apply at most once, sequentially or at once.
Method: real keys and SQLite files, raw journal edits, threads with hosts of their own."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Final

import pytest

from tachyon.dex.model import Side, TimeInForce
from tachyon.dex.units import AMOUNT_MINOR_MAX
from tachyon.errors import (
    CorruptData,
    FillOrKillUnfillable,
    InsufficientFunds,
    InvalidInput,
    OrderNotFound,
    StaleNonce,
    TachyonError,
)
from tachyon.exchange.auth import sign
from tachyon.exchange.commands import (
    AccountCommand,
    CancelOrder,
    Deposit,
    JournalCommand,
    PlaceLimit,
    PlaceMarket,
    Refused,
    SignedCommand,
    Withdraw,
    decode_entry,
    encode_command,
    encode_refused,
)
from tachyon.exchange.service import Placement
from tachyon.storage import EmbeddedExchange, audit, journal
from tests.exchange.helpers import BASE, DEFAULT, KEY_A, KEY_B, USDC, A, B, signed
from tests.storage.helpers import (
    DB_NAME,
    TS_START,
    StepClock,
    journal_rows,
    raw_close,
    raw_connect,
    snapshot_rows,
)

BID, ASK = Side.BID, Side.ASK
FUNDS: Final = 1_000_000


def _entries(data_dir: Path) -> list[JournalCommand]:
    return [decode_entry(row[2], canonical=True) for row in journal_rows(data_dir / DB_NAME)]


def _funded(host: EmbeddedExchange) -> None:
    for account in (A, B):
        host.submit(Deposit(account, USDC, FUNDS))
        host.submit(Deposit(account, BASE, 100))


def test_a_refused_fok_is_journaled_and_its_resend_is_stale(tmp_path: Path) -> None:
    """The issue's case end to end: the FOK refused with 409's error, journaled as refused in
    the same commit as its batch; resent after the book changed, it is stale."""
    fok = signed(KEY_A, PlaceLimit(A, DEFAULT, BID, 100, 5, TimeInForce.FOK, nonce=TS_START))
    with EmbeddedExchange.open(tmp_path, clock=StepClock()) as host:
        _funded(host)
        seq = host.seq
        results = host.submit_batch([fok, Deposit(B, USDC, 1)])
        assert isinstance(results[0], FillOrKillUnfillable)
        assert host.seq == seq + 2  # both in one commit, the refusal first
        host.submit(signed(KEY_B, PlaceLimit(B, DEFAULT, ASK, 100, 5, nonce=TS_START)))
        with pytest.raises(StaleNonce, match="was used already; nothing was changed"):
            host.submit(fok)
        assert host.open_orders(B)[0].order.remaining_qty == 5  # nothing filled it
        assert host.balances(A)[BASE].available == 100
    entries = _entries(tmp_path)
    assert entries[seq] == Refused(fok, "fill_or_kill_unfillable")
    assert len(entries) == seq + 3  # the stale resend was not journaled
    assert audit(tmp_path).entries == seq + 3


def test_refusals_by_the_state_machine_consume_nonces_of_every_kind(tmp_path: Path) -> None:
    commands = [
        signed(KEY_A, Withdraw(A, USDC, FUNDS + 1, nonce=TS_START + 1)),
        signed(KEY_A, CancelOrder(A, 99, nonce=TS_START + 2)),
        signed(KEY_A, PlaceMarket(A, DEFAULT, ASK, None, 5, nonce=TS_START + 3)),  # by quote
        signed(KEY_A, PlaceLimit(A, DEFAULT, BID, 10**6, 10**6, nonce=TS_START + 4)),
    ]
    with EmbeddedExchange.open(tmp_path, clock=StepClock()) as host:
        _funded(host)
        results = host.submit_batch(commands)
        assert [type(result) for result in results[:2]] == [InsufficientFunds, OrderNotFound]
        assert all(isinstance(result, TachyonError) for result in results)
        for command in commands:
            with pytest.raises(StaleNonce):
                host.submit(command)
    codes = [entry.code for entry in _entries(tmp_path) if isinstance(entry, Refused)]
    assert codes == [type(result).code for result in results]  # type: ignore[union-attr]


def _random_flow(rng: random.Random, host: EmbeddedExchange, clock: StepClock) -> int:
    """Signed commands of two wallets, many refused by the state (funds, unknown or foreign
    orders, unfillable FOKs, post-only takers), some resent (stale); returns refusals."""
    refused = 0
    sent: list[SignedCommand] = []
    for step in range(300):
        clock.now += rng.randint(1, 10**6)
        key, account = rng.choice(((KEY_A, A), (KEY_B, B)))
        nonce = clock.now + rng.randint(-(10**6), 10**6)
        side = rng.choice((BID, ASK))
        roll = rng.random()
        command: AccountCommand
        if roll < 0.5:
            tif = rng.choice(list(TimeInForce))
            price = rng.randint(95, 105)
            qty = rng.randint(1, 60)
            post_only = tif is TimeInForce.GTC and rng.random() < 0.2
            command = PlaceLimit(account, DEFAULT, side, price, qty, tif, post_only, nonce=nonce)
        elif roll < 0.65:
            command = PlaceMarket(account, DEFAULT, side, rng.randint(1, 30), nonce=nonce)
        elif roll < 0.85:
            command = CancelOrder(account, rng.randint(1, step + 2), nonce=nonce)
        else:
            command = Withdraw(account, rng.choice((USDC, BASE)), rng.randint(1, 200), nonce=nonce)
        envelope = signed(key, command)
        if sent and rng.random() < 0.1:
            envelope = rng.choice(sent)  # a resend: stale
        sent.append(envelope)
        seq = host.seq
        try:
            host.submit(envelope)
        except StaleNonce:
            assert host.seq == seq
        except TachyonError:
            assert host.seq == seq + 1  # journaled as refused
            refused += 1
    return refused


@pytest.mark.parametrize("snapshot_every", [10**9, 37])
def test_replay_reproduces_every_refusal(tmp_path: Path, snapshot_every: int) -> None:
    clock = StepClock()
    rng = random.Random(snapshot_every)
    host = EmbeddedExchange.open(tmp_path, clock=clock, snapshot_every=snapshot_every)
    _funded(host)
    refused = _random_flow(rng, host, clock)
    state_hash, seq = host.refresh().state_hash(), host.seq
    host.close(snapshot=False)
    assert refused >= 30
    journaled = sum(isinstance(entry, Refused) for entry in _entries(tmp_path))
    assert journaled == refused
    with EmbeddedExchange.open(tmp_path, clock=clock) as reopened:  # replays the refusals
        assert reopened.seq == seq
        assert reopened.refresh().state_hash() == state_hash
    report = audit(tmp_path)
    assert (report.entries, report.state_hash) == (seq, state_hash)
    assert report.snapshot_matches is not False


def test_another_writer_catches_up_on_refusals(tmp_path: Path) -> None:
    clock = StepClock()
    with (
        EmbeddedExchange.open(tmp_path, clock=clock) as first,
        EmbeddedExchange.open(tmp_path, clock=clock) as second,
    ):
        _funded(first)
        withdraw = signed(KEY_A, Withdraw(A, USDC, FUNDS + 1, nonce=TS_START))
        with pytest.raises(InsufficientFunds):
            first.submit(withdraw)
        first.submit(Deposit(A, USDC, 1))
        with pytest.raises(StaleNonce):  # caught up: the refusal used the nonce there too
            second.submit(withdraw)
        assert second.refresh().state_hash() == first.refresh().state_hash()


def test_the_nonce_set_survives_a_snapshot_and_restart(tmp_path: Path) -> None:
    clock = StepClock()
    placed = [
        signed(KEY_A, PlaceLimit(A, DEFAULT, BID, 90, 1, nonce=TS_START - k)) for k in range(5)
    ]
    refused = signed(KEY_A, Withdraw(A, USDC, FUNDS + 1, nonce=TS_START + 1))
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        _funded(host)
        host.submit_batch([*placed, refused])
        host.write_snapshot()
        seq = host.seq
    assert [row[0] for row in snapshot_rows(tmp_path / DB_NAME)][-1] == seq
    with EmbeddedExchange.open(tmp_path, clock=clock) as reopened:
        assert (reopened.recovered.snapshot_seq, reopened.recovered.replayed) == (seq, 0)
        for command in [*placed, refused]:
            with pytest.raises(StaleNonce):
                reopened.submit(command)
        assert reopened.seq == seq
        assert len(reopened.open_orders(A)) == 5


@pytest.mark.parametrize("wrong", ["insufficient_funds", "order_not_found"])
def test_a_refused_entry_that_replays_otherwise_is_corrupt(tmp_path: Path, wrong: str) -> None:
    """A `Refused` entry whose body applies on replay (`insufficient_funds` for a withdrawal
    that is funded), or is refused for another reason, was not written by this exchange."""
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        _funded(host)
    amount = 1 if wrong == "insufficient_funds" else FUNDS + 1  # applies / refused otherwise
    withdraw = signed(KEY_A, Withdraw(A, USDC, amount, TS_START))
    seq = _append(tmp_path, encode_refused(withdraw, wrong))
    with pytest.raises(CorruptData, match=rf"{tmp_path / DB_NAME}: journal entry {seq} was"):
        EmbeddedExchange.open(tmp_path, clock=clock)
    with pytest.raises(CorruptData, match=rf"journal entry {seq} was refused with {wrong} but"):
        audit(tmp_path)


@pytest.mark.parametrize("code", ["supply_exceeded", "insufficient_funds"])
def test_a_deposit_past_the_supply_replays_refused_under_either_code(
    tmp_path: Path, code: str
) -> None:
    """`supply_exceeded` is the code since it has its own; a journal written before, which
    refused the same deposit as `insufficient_funds`, still opens and audits."""
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        _funded(host)
    deposit = signed(KEY_A, Deposit(A, USDC, AMOUNT_MINOR_MAX, TS_START))
    seq = _append(tmp_path, encode_refused(deposit, code))
    with EmbeddedExchange.open(tmp_path, clock=clock) as reopened:
        assert reopened.seq == seq
        assert reopened.balances(A)[USDC].available == FUNDS
        with pytest.raises(StaleNonce):
            reopened.submit(deposit)
    assert audit(tmp_path).entries == seq


def test_an_accepted_entry_refused_on_replay_is_corrupt(tmp_path: Path) -> None:
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        _funded(host)
    overdraft = signed(KEY_A, Withdraw(A, USDC, FUNDS + 1, nonce=TS_START))
    seq = _append(tmp_path, encode_command(overdraft))
    with pytest.raises(CorruptData, match=rf"journal entry {seq} does not apply \(insufficient"):
        EmbeddedExchange.open(tmp_path, clock=clock)


def _append(data_dir: Path, data: bytes) -> int:
    """Chain one more entry onto the journal as the host would, bypassing it."""
    last_seq, last_ts, _, _, last_checksum = journal_rows(data_dir / DB_NAME)[-1]
    entry = journal.make_entry(last_checksum, last_seq + 1, last_ts + 1, data)
    conn = raw_connect(data_dir / DB_NAME)
    journal.append(conn, [entry])
    raw_close(conn)
    return int(last_seq) + 1


def test_the_same_signed_command_from_many_writers_at_once_applies_once(tmp_path: Path) -> None:
    """Eight hosts of their own (connections, as processes have) submit one signed order at
    the same moment: one places it, the others are told its nonce was used."""
    EmbeddedExchange.open(tmp_path).close()
    with EmbeddedExchange.open(tmp_path) as host:
        host.submit(Deposit(A, USDC, FUNDS))
    order = signed(KEY_A, PlaceLimit(A, DEFAULT, BID, 10, 1, nonce=time.time_ns()))
    start = threading.Barrier(8)
    results: list[object] = []

    def submit() -> None:
        with EmbeddedExchange.open(tmp_path) as own:
            start.wait()
            try:
                results.append(own.submit(order))
            except TachyonError as exc:
                results.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(result, Placement) for result in results) == 1, results
    assert sum(isinstance(result, StaleNonce) for result in results) == 7, results
    assert audit(tmp_path).entries == 2


def test_a_refusal_cannot_be_submitted(tmp_path: Path) -> None:
    """Only the exchange writes `Refused` entries: one handed in, bare or signed, is no command."""
    withdraw = signed(KEY_A, Withdraw(A, USDC, 1, nonce=TS_START))
    with EmbeddedExchange.open(tmp_path, clock=StepClock()) as host:
        _funded(host)
        seq = host.seq
        with pytest.raises(InvalidInput, match="not a command"):
            host.submit(Refused(withdraw, "insufficient_funds"))  # type: ignore[arg-type]
        body = encode_refused(withdraw, "insufficient_funds")
        with pytest.raises(InvalidInput, match="not a command"):
            host.submit(SignedCommand(body, sign(KEY_A, body)))
        assert host.seq == seq

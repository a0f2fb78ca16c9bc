"""Goal: the node's sequencer group-commits concurrent submissions, answers each only with its
own outcome once durable, and orders reads after earlier writes. Method: many coroutines on
one event loop against a real EmbeddedExchange in a temporary directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tachyon.dex import AccountId, Side, TokenId
from tachyon.errors import InsufficientFunds, StorageError, TachyonError
from tachyon.exchange import (
    AnyCommand,
    Deposit,
    Exchange,
    PlaceLimit,
    Withdraw,
)
from tachyon.exchange.admission import admit
from tachyon.ledger.ledger import BalanceRecord
from tachyon.node.sequencer import Sequencer
from tachyon.storage import EmbeddedExchange, audit
from tests.exchange.helpers import apply_command

MARKET = "BASE/USDC"


def _commands(count: int) -> list[AnyCommand]:
    commands: list[AnyCommand] = []
    for n in range(count):
        account = f"trader-{n % 17}"
        if n % 3 == 0:
            commands.append(Deposit(account, "USDC", 1_000 + n))
        elif n % 3 == 1:
            commands.append(PlaceLimit(account, MARKET, Side.BID, 1 + n % 5, 1))
        else:
            commands.append(Withdraw(account, "USDC", 10**12))  # always refused
    return commands


def test_concurrent_submissions_share_commits_and_each_gets_its_own_outcome(
    tmp_path: Path,
) -> None:
    commands = _commands(600)

    async def run() -> tuple[list[object], int]:
        with EmbeddedExchange.open(tmp_path, snapshot_every=10**9) as host:
            sequencer = Sequencer(host, batch_wait_ms=5.0)
            await sequencer.start()
            try:
                results = await asyncio.gather(
                    *(sequencer.submit(admit(command)) for command in commands),
                    return_exceptions=True,
                )
            finally:
                await sequencer.stop()
            return list(results), sequencer.batches

    results, batches = asyncio.run(run())
    assert batches < len(commands) // 3  # commands were grouped into commits
    # Each answer is what a serial application in queue order gives that command.
    reference = Exchange()
    expected = [_apply(reference, command) for command in commands]
    assert [_kind(result) for result in results] == [_kind(outcome) for outcome in expected]
    assert [r for r in results if not isinstance(r, TachyonError)] == [
        e for e in expected if not isinstance(e, TachyonError)
    ]
    assert sum(isinstance(result, InsufficientFunds) for result in results) >= 200
    report = audit(tmp_path)
    assert report.entries == reference.seq
    exchange_balances = reference.service.balances
    with EmbeddedExchange.open(tmp_path) as host:  # the journal holds what was answered
        for n in range(17):
            account = AccountId(f"trader-{n}")
            assert host.balances(account) == exchange_balances(account)


def _apply(exchange: Exchange, command: AnyCommand) -> object:
    try:
        return apply_command(exchange, command, exchange.seq + 1, 0)
    except TachyonError as exc:
        return exc


def _kind(result: object) -> str:
    return type(result).__name__


def test_a_read_sees_the_writes_queued_before_it(tmp_path: Path) -> None:
    async def run() -> BalanceRecord:
        with EmbeddedExchange.open(tmp_path) as host:
            sequencer = Sequencer(host, batch_wait_ms=50.0)
            await sequencer.start()
            try:
                write = asyncio.ensure_future(sequencer.submit(admit(Deposit("alice", "USDC", 7))))
                await asyncio.sleep(0)  # queued first
                balance = await sequencer.read(
                    lambda h: h.balances(AccountId("alice"))[TokenId("USDC")]
                )
                await write
                return balance
            finally:
                await sequencer.stop()

    assert asyncio.run(run()) == BalanceRecord(7, 0)


def test_stop_answers_everything_queued_then_refuses_new_work(tmp_path: Path) -> None:
    async def run() -> None:
        with EmbeddedExchange.open(tmp_path) as host:
            sequencer = Sequencer(host, batch_wait_ms=20.0)
            await sequencer.start()
            pending = [
                asyncio.ensure_future(sequencer.submit(admit(Deposit(f"a{n}", "USDC", 1))))
                for n in range(50)
            ]
            await asyncio.sleep(0)
            await sequencer.stop()
            assert all(
                isinstance(result, BalanceRecord) for result in await asyncio.gather(*pending)
            )
            with pytest.raises(StorageError, match="not running"):
                await sequencer.submit(admit(Deposit("late", "USDC", 1)))
            assert host.seq == 50

    asyncio.run(run())

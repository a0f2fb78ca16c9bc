"""Goal: a withdrawal with a destination locks its amount while pending; the operator's
completion takes it out of the exchange (the supply shrinks), a rejection returns it; every
refusal changes nothing, conservation counts pending withdrawals, and a snapshot keeps them.
Method: `Exchange` with an operator (key A), commands signed as a wallet signs them."""

from __future__ import annotations

import itertools

import pytest

from tachyon.dex.model import Side
from tachyon.errors import InsufficientFunds, InvalidInput, NotOperator, TachyonError
from tachyon.exchange.commands import (
    AdminCloseWithdrawal,
    AnyCommand,
    Deposit,
    PlaceLimit,
    RequestWithdrawal,
    SetOperator,
)
from tachyon.exchange.events import WithdrawalClosed, WithdrawalRequested
from tachyon.exchange.service import DEFAULT_MARKET_ID
from tachyon.exchange.state_machine import Exchange, Refusal, decode_state
from tachyon.exchange.withdrawals import Withdrawal, WithdrawalNotFound
from tachyon.ledger.ledger import BalanceRecord
from tests.exchange.helpers import ALICE, BOB, KEY_A, KEY_B, USDC, A, B, apply_command, signed

NOW = 10**12


class Venue:
    def __init__(self) -> None:
        self.exchange = Exchange()
        self.nonces = itertools.count(NOW)
        self.run(SetOperator(A))
        self.run(Deposit(ALICE, "USDC", 1_000))

    def run(self, command: AnyCommand) -> object:
        exchange = self.exchange
        outcome = apply_command(exchange, command, exchange.seq + 1, NOW + exchange.seq)
        exchange.check_invariants()
        return outcome

    def admin(self, withdrawal_id: int, completed: bool, reference: str | None = None) -> object:
        command = AdminCloseWithdrawal(A, withdrawal_id, completed, reference, next(self.nonces))
        return self.run(signed(KEY_A, command))

    def refused(self, run: object, error: type[TachyonError]) -> None:
        before = self.exchange.service.to_state()
        try:
            assert callable(run)
            outcome = run()
        except TachyonError as exc:
            outcome = Refusal(exc)
        assert isinstance(outcome, Refusal) and isinstance(outcome.error, error), outcome
        assert self.exchange.service.to_state() == before


@pytest.fixture
def venue() -> Venue:
    return Venue()


def test_a_completed_withdrawal_leaves_the_exchange(venue: Venue) -> None:
    service = venue.exchange.service
    requested = venue.run(RequestWithdrawal(ALICE, "USDC", 400, "iban:DE89 3704 0044"))
    assert isinstance(requested, Withdrawal)
    assert (requested.state, requested.amount, requested.destination) == (
        "pending",
        400,
        "iban:DE89 3704 0044",
    )
    assert service.balance(ALICE, USDC) == BalanceRecord(600, 400)  # locked while pending
    supply = service.ledger.total_supply(USDC)
    done = venue.admin(requested.withdrawal_id, True, "payout-77")
    assert isinstance(done, Withdrawal) and (done.state, done.reference) == (
        "completed",
        "payout-77",
    )
    assert service.balance(ALICE, USDC) == BalanceRecord(600, 0)
    assert service.ledger.total_supply(USDC) == supply - 400
    assert [w.state for w in service.withdrawals(ALICE)] == ["completed"]


def test_a_rejected_withdrawal_returns_the_amount(venue: Venue) -> None:
    service = venue.exchange.service
    requested = venue.run(RequestWithdrawal(ALICE, "USDC", 400, "addr:0xabc"))
    assert isinstance(requested, Withdrawal)
    venue.admin(requested.withdrawal_id, False, "destination not verified")
    assert service.balance(ALICE, USDC) == BalanceRecord(1_000, 0)
    (listed,) = service.withdrawals()
    assert (listed.state, listed.reference) == ("rejected", "destination not verified")


def test_the_events_say_what_happened(venue: Venue) -> None:
    exchange = venue.exchange
    from tachyon.exchange.admission import admit

    applied = exchange.execute(
        admit(RequestWithdrawal(ALICE, "USDC", 10, "x")), exchange.seq + 1, NOW + 50
    )
    assert applied.events == [WithdrawalRequested(1, ALICE, USDC, 10, "x")]
    closed = exchange.execute(
        admit(signed(KEY_A, AdminCloseWithdrawal(A, 1, True, "r", NOW + 51))),
        exchange.seq + 1,
        NOW + 51,
    )
    assert closed.events == [WithdrawalClosed(1, ALICE, USDC, 10, "completed", "r")]


def test_refusals_change_nothing(venue: Venue) -> None:
    venue.run(PlaceLimit(ALICE, DEFAULT_MARKET_ID, Side.BID, 1, 900))
    for command, error in (
        (RequestWithdrawal(ALICE, "USDC", 101, "x"), InsufficientFunds),  # 900 locked by a bid
        (RequestWithdrawal(ALICE, "USDC", 0, "x"), InvalidInput),
        (RequestWithdrawal(ALICE, "USDC", 1, ""), InvalidInput),
        (RequestWithdrawal(ALICE, "USDC", 1, "x" * 257), InvalidInput),
        (RequestWithdrawal(ALICE, "USDC", 1, "new\nline"), InvalidInput),
        (RequestWithdrawal(BOB, "USDC", 1, "x"), InsufficientFunds),
    ):
        venue.refused(lambda command=command: venue.run(command), error)
    requested = venue.run(RequestWithdrawal(ALICE, "USDC", 100, "x"))
    assert isinstance(requested, Withdrawal)
    venue.refused(lambda: venue.admin(99, True), WithdrawalNotFound)
    stranger = AdminCloseWithdrawal(B, requested.withdrawal_id, True, None, next(venue.nonces))
    venue.refused(lambda: venue.run(signed(KEY_B, stranger)), NotOperator)
    venue.admin(requested.withdrawal_id, True)
    venue.refused(lambda: venue.admin(requested.withdrawal_id, False), WithdrawalNotFound)


def test_a_snapshot_keeps_pending_and_closed_withdrawals(venue: Venue) -> None:
    first = venue.run(RequestWithdrawal(ALICE, "USDC", 100, "a"))
    venue.run(RequestWithdrawal(ALICE, "USDC", 200, "b"))
    assert isinstance(first, Withdrawal)
    venue.admin(first.withdrawal_id, True)
    state = venue.exchange.state_bytes()
    copy = decode_state(state)
    assert copy.state_bytes() == state
    copy.check_invariants()
    assert [(w.amount, w.state) for w in copy.service.withdrawals(ALICE)] == [
        (100, "completed"),
        (200, "pending"),
    ]

"""Goal: a card payment credits its account once per checkout session; refunds and disputes
take back exactly what they say (a partial refund: the increase of the total refunded), what
the account no longer has becomes its debt (counted in conservation), an account in debt
places no order and withdraws nothing until a credit settles the debt first, and every
refusal changes nothing. Method: `Exchange` fed the unsigned payment commands an on-ramp
submits, and orders signed as a wallet signs them; invariants checked after every step."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from tachyon.dex.model import Side
from tachyon.errors import (
    AccountInDebt,
    InvalidInput,
    PaymentAlreadyApplied,
    PaymentNotFound,
    TachyonError,
    TokenNotFound,
)
from tachyon.exchange.admission import admit
from tachyon.exchange.commands import (
    AmendOrder,
    AnyCommand,
    CancelOrder,
    CreditPayment,
    Deposit,
    DisputePayment,
    PlaceLimit,
    RefundPayment,
    RequestWithdrawal,
    Withdraw,
)
from tachyon.exchange.events import DebtSettled, PaymentCredited, PaymentReversed
from tachyon.exchange.service import DEFAULT_MARKET_ID, Placement
from tachyon.exchange.state_machine import Exchange, Refusal, decode_state
from tachyon.ledger.ledger import BalanceRecord
from tachyon.storage import EmbeddedExchange
from tests.exchange.helpers import KEY_A, USDC, A, apply_command, signed

NOW = 10**12
CENT = 10_000  # USDC minor units per US cent
MARKET = str(DEFAULT_MARKET_ID)
SELLER = "seller"


def credit(session: str, cents: int, to: str = A, intent: str | None = None) -> CreditPayment:
    return CreditPayment(
        f"evt_{session}", session, intent or f"pi_{session}", to, "USDC", cents * CENT, "usd", cents
    )


class Payments:
    def __init__(self) -> None:
        self.exchange = Exchange()
        self.nonces = itertools.count(NOW)
        self.events: list[object] = []

    def run(self, command: AnyCommand) -> object:
        exchange = self.exchange
        seq = exchange.seq + 1
        ts = NOW + seq
        applied = exchange.execute(admit(command), seq, ts)
        self.events.extend(applied.events)
        exchange.check_invariants()
        return applied.outcome

    def signed(self, command: AnyCommand) -> object:
        exchange = self.exchange
        seq = exchange.seq + 1
        outcome = apply_command(exchange, signed(KEY_A, command), seq, NOW + seq)
        exchange.check_invariants()
        return outcome

    def refused(self, run: Callable[[], object], error: type[TachyonError]) -> TachyonError:
        before = self.exchange.service.to_state()
        try:
            outcome = run()
        except TachyonError as exc:
            outcome = Refusal(exc)
        assert isinstance(outcome, Refusal) and isinstance(outcome.error, error), outcome
        assert self.exchange.service.to_state() == before
        return outcome.error

    def last(self) -> object:
        """The last event."""
        return self.events[-1]

    def balance(self) -> BalanceRecord:
        return self.exchange.service.balance(A, USDC)

    def nonce(self) -> int:
        return next(self.nonces)


@pytest.fixture
def pay() -> Payments:
    return Payments()


def test_a_session_credits_once_and_exactly(pay: Payments) -> None:
    supply = pay.exchange.service.ledger.total_supply(USDC)
    outcome = pay.run(credit("cs_1", 10_000))  # $100.00
    assert outcome == BalanceRecord(100_000_000, 0)  # 100 USDC at 6 decimals
    (event,) = pay.events
    assert event == PaymentCredited(A, USDC, 100_000_000, "payment", "pi_cs_1", "evt_cs_1", "cs_1")
    assert pay.exchange.service.ledger.total_supply(USDC) == supply + 100_000_000
    pay.refused(lambda: pay.run(credit("cs_1", 10_000)), PaymentAlreadyApplied)
    other_event = CreditPayment("evt_other", "cs_1", "pi_cs_1", A, "USDC", 10**8, "usd", 10_000)
    pay.refused(lambda: pay.run(other_event), PaymentAlreadyApplied)  # a retry: another event
    pay.refused(lambda: pay.run(credit("cs_2", 5, intent="pi_cs_1")), PaymentAlreadyApplied)
    assert pay.balance() == BalanceRecord(100_000_000, 0)


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (CreditPayment("e", "cs", "pi", A, "USDC", 15_001, "usd", 2), InvalidInput),  # not exact
        (CreditPayment("e", "cs", "pi", A, "USDC", 10_000, "usd", 3), InvalidInput),  # not exact
        (CreditPayment("e", "cs", "pi", A, "USDC", 0, "usd", 0), InvalidInput),
        (CreditPayment("e", "", "pi", A, "USDC", CENT, "usd", 1), InvalidInput),
        (CreditPayment("e", "cs", "pi", A, "NOPE", CENT, "usd", 1), TokenNotFound),
        (CreditPayment("e", "cs", "pi", "", "USDC", CENT, "usd", 1), InvalidInput),
    ],
)
def test_a_credit_that_cannot_be_exact_changes_nothing(
    pay: Payments, command: CreditPayment, error: type[TachyonError]
) -> None:
    pay.refused(lambda: pay.run(command), error)
    pay.run(CreditPayment("e", "cs", "pi", A, "USDC", CENT, "usd", 1))  # the ids stay free


def test_a_partial_refund_debits_the_increase_of_the_total_refunded(pay: Payments) -> None:
    pay.run(credit("cs_1", 10_000))
    pay.run(RefundPayment("evt_r1", "pi_cs_1", "usd", 2_500))  # $25 of $100
    assert pay.balance().available == 75_000_000
    assert pay.last() == PaymentReversed(
        A, USDC, 25_000_000, 25_000_000, 0, "refund", "pi_cs_1", "evt_r1"
    )
    pay.refused(
        lambda: pay.run(RefundPayment("evt_r1", "pi_cs_1", "usd", 2_500)), PaymentAlreadyApplied
    )
    pay.refused(
        lambda: pay.run(RefundPayment("evt_old", "pi_cs_1", "usd", 1_000)), PaymentAlreadyApplied
    )
    pay.run(RefundPayment("evt_r2", "pi_cs_1", "usd", 4_000))  # $40 in all: $15 more
    assert pay.balance().available == 60_000_000
    for wrong, error in (
        (RefundPayment("e", "pi_cs_1", "usd", 10_001), InvalidInput),  # more than was paid
        (RefundPayment("e", "pi_cs_1", "eur", 5_000), InvalidInput),  # another currency
        (RefundPayment("e", "pi_unknown", "usd", 5_000), PaymentNotFound),
    ):
        pay.refused(lambda wrong=wrong: pay.run(wrong), error)  # type: ignore[misc]


def test_a_refund_after_the_funds_were_traded_away_becomes_debt(pay: Payments) -> None:
    service = pay.exchange.service
    pay.run(credit("cs_1", 10_000))
    pay.run(Deposit(SELLER, "BASE", 100))
    # Spend $90 of it: 9 BASE at 10 USDC, bought from the seller.
    pay.run(PlaceLimit(SELLER, MARKET, Side.ASK, 10_000_000, 9))
    bought = pay.signed(PlaceLimit(A, MARKET, Side.BID, 10_000_000, 9, nonce=pay.nonce()))
    assert isinstance(bought, Placement) and bought.filled_qty == 9
    # Rest a bid with $5 of the remaining $10 locked.
    resting = pay.signed(PlaceLimit(A, MARKET, Side.BID, 5_000_000, 1, nonce=pay.nonce()))
    assert isinstance(resting, Placement)
    assert pay.balance() == BalanceRecord(5_000_000, 5_000_000)
    supply = service.ledger.total_supply(USDC)

    pay.run(RefundPayment("evt_r", "pi_cs_1", "usd", 10_000))  # all $100 back
    assert pay.last() == PaymentReversed(
        A, USDC, 100_000_000, 5_000_000, 95_000_000, "refund", "pi_cs_1", "evt_r"
    )
    assert pay.balance() == BalanceRecord(0, 5_000_000, 95_000_000)
    assert service.ledger.total_supply(USDC) == supply - 100_000_000  # balances - debts
    assert service.in_debt(A)

    # In debt: no new order, no amend that adds, no withdrawal of any kind.
    for barred in (
        PlaceLimit(A, MARKET, Side.BID, 1_000_000, 1, nonce=pay.nonce()),
        AmendOrder(A, resting.order_id, qty=2, nonce=pay.nonce()),
        AmendOrder(A, resting.order_id, price=4_000_000, nonce=pay.nonce()),
        Withdraw(A, "BASE", 1, nonce=pay.nonce()),
        RequestWithdrawal(A, "BASE", 1, "iban:X", nonce=pay.nonce()),
    ):
        before = service.to_state()
        refusal = pay.signed(barred)
        assert isinstance(refusal, Refusal) and isinstance(refusal.error, AccountInDebt), barred
        assert "owes 95 USDC" in str(refusal.error)
        assert service.to_state() == before
    # ... but it may cancel what it has open (the $5 goes to available, not to the debt).
    cancelled = pay.signed(CancelOrder(A, resting.order_id, nonce=pay.nonce()))
    assert isinstance(cancelled, Placement)
    assert pay.balance() == BalanceRecord(5_000_000, 0, 95_000_000)

    # A later credit settles the debt first.
    pay.run(credit("cs_2", 5_000))  # $50
    assert pay.last() == DebtSettled(A, USDC, 50_000_000, 45_000_000)
    assert pay.balance() == BalanceRecord(5_000_000, 0, 45_000_000)
    pay.run(Deposit(A, "USDC", 50_000_000))  # the operator's (or the faucet's) too
    assert pay.last() == DebtSettled(A, USDC, 45_000_000, 0)
    assert pay.balance() == BalanceRecord(10_000_000, 0, 0)
    assert not service.in_debt(A)
    placed = pay.signed(PlaceLimit(A, MARKET, Side.BID, 1_000_000, 1, nonce=pay.nonce()))
    assert isinstance(placed, Placement)


def test_an_amend_that_only_lowers_the_quantity_is_allowed_in_debt(pay: Payments) -> None:
    pay.run(credit("cs_1", 1_000))  # $10
    resting = pay.signed(PlaceLimit(A, MARKET, Side.BID, 1_000_000, 5, nonce=pay.nonce()))
    assert isinstance(resting, Placement)
    pay.run(RefundPayment("evt_r", "pi_cs_1", "usd", 1_000))
    assert pay.balance() == BalanceRecord(0, 5_000_000, 5_000_000)
    smaller = pay.signed(AmendOrder(A, resting.order_id, qty=2, nonce=pay.nonce()))
    assert isinstance(smaller, Placement)
    assert pay.balance() == BalanceRecord(3_000_000, 2_000_000, 5_000_000)


def test_a_dispute_debits_when_opened_and_credits_back_when_won(pay: Payments) -> None:
    pay.run(credit("cs_1", 10_000))
    pay.run(DisputePayment("evt_d1", "pi_cs_1", "dp_1", "usd", 10_000, "opened"))
    assert pay.balance() == BalanceRecord(0, 0)
    pay.refused(
        lambda: pay.run(DisputePayment("evt_d1", "pi_cs_1", "dp_1", "usd", 10_000, "opened")),
        PaymentAlreadyApplied,
    )
    pay.run(DisputePayment("evt_d2", "pi_cs_1", "dp_1", "usd", 10_000, "won"))
    assert pay.last() == PaymentCredited(A, USDC, 100_000_000, "dispute_won", "pi_cs_1", "evt_d2")
    assert pay.balance() == BalanceRecord(100_000_000, 0)
    for again in ("won", "lost", "opened"):
        pay.refused(
            lambda again=again: pay.run(  # type: ignore[misc]
                DisputePayment("evt_x", "pi_cs_1", "dp_1", "usd", 10_000, again)
            ),
            PaymentAlreadyApplied,
        )


def test_a_lost_dispute_keeps_what_it_took_and_one_seen_only_lost_takes_it(
    pay: Payments,
) -> None:
    pay.run(credit("cs_1", 10_000))
    pay.run(credit("cs_2", 10_000))
    pay.run(DisputePayment("e1", "pi_cs_1", "dp_1", "usd", 4_000, "opened"))
    pay.run(DisputePayment("e2", "pi_cs_1", "dp_1", "usd", 4_000, "lost"))
    assert pay.balance().available == 160_000_000
    pay.run(DisputePayment("e3", "pi_cs_2", "dp_2", "usd", 3_000, "lost"))  # created never seen
    assert pay.balance().available == 130_000_000
    pay.run(DisputePayment("e4", "pi_cs_2", "dp_3", "usd", 1_000, "won"))  # nothing was taken
    assert pay.balance().available == 130_000_000
    # A payment never loses more than it paid: $100 - $30 lost leaves room for $70 of refunds.
    pay.refused(lambda: pay.run(RefundPayment("e5", "pi_cs_2", "usd", 7_001)), InvalidInput)
    pay.run(RefundPayment("e5", "pi_cs_2", "usd", 7_000))


def test_payments_and_debts_survive_a_snapshot(pay: Payments) -> None:
    pay.run(credit("cs_1", 10_000))
    pay.run(Deposit(SELLER, "BASE", 100))
    pay.run(PlaceLimit(SELLER, MARKET, Side.ASK, 10_000_000, 10))
    pay.signed(PlaceLimit(A, MARKET, Side.BID, 10_000_000, 10, nonce=pay.nonce()))
    pay.run(DisputePayment("e", "pi_cs_1", "dp_1", "usd", 2_000, "opened"))
    pay.run(RefundPayment("e2", "pi_cs_1", "usd", 1_000))
    assert pay.balance() == BalanceRecord(0, 0, 30_000_000)
    restored = decode_state(pay.exchange.state_bytes())
    restored.check_invariants()
    assert restored.state_hash() == pay.exchange.state_hash()
    assert restored.service.balance(A, USDC) == BalanceRecord(0, 0, 30_000_000)
    with pytest.raises(PaymentAlreadyApplied):
        restored.service.credit_payment(
            restored.service._payments.of("pi_cs_1", "usd"),
            "again",
        )


def test_a_journaled_credit_is_refused_again_after_a_restart_and_replay(tmp_path: Path) -> None:
    host = EmbeddedExchange.open(tmp_path)
    host.submit(credit("cs_1", 10_000))
    host.submit(RefundPayment("evt_r", "pi_cs_1", "usd", 100))
    host.close(snapshot=False)  # the next open replays the journal
    host = EmbeddedExchange.open(tmp_path)
    try:
        assert host.balances(A)[USDC] == BalanceRecord(99_000_000, 0)
        with pytest.raises(PaymentAlreadyApplied):
            host.submit(credit("cs_1", 10_000))
        with pytest.raises(PaymentAlreadyApplied):
            host.submit(RefundPayment("evt_r", "pi_cs_1", "usd", 100))
        assert host.balances(A)[USDC] == BalanceRecord(99_000_000, 0)
    finally:
        host.close()

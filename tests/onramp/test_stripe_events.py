"""Goal: a verified Stripe event becomes exactly the payment command it asks for, converted
without rounding, and everything else is `Ignored` with a reason or refused as not an event.
Method: `command_of` on events shaped as Stripe sends them (see tests/support/stripe_standin)."""

from __future__ import annotations

from typing import Any, Final

import pytest

from tachyon.errors import InvalidInput
from tachyon.exchange.commands import CreditPayment, DisputePayment, RefundPayment
from tachyon.onramp.amounts import Unmapped, from_decimal_text, rate, to_decimal_text
from tachyon.onramp.stripe_events import Ignored, command_of
from tests.support.stripe_standin import event

ADDRESS: Final = "ab" * 32
TOKENS: Final = {"usd": "USDC", "jpy": "JPYC", "kwd": "KWDT"}
DECIMALS: Final = {"USDC": 6, "JPYC": 6, "KWDT": 2, "BASE": 0}


def session(**changes: Any) -> dict[str, Any]:
    return {
        "id": "cs_1",
        "object": "checkout.session",
        "amount_total": 10_000,
        "currency": "usd",
        "client_reference_id": ADDRESS,
        "metadata": {"tachyon_account": ADDRESS, "tachyon_token": "USDC"},
        "payment_status": "paid",
        "payment_intent": "pi_1",
        **changes,
    }


def test_a_paid_session_credits_its_account_exactly() -> None:
    for kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        command = command_of(event(kind, session(), "evt_1"), TOKENS, DECIMALS)
        assert command == CreditPayment(
            "evt_1", "cs_1", "pi_1", ADDRESS, "USDC", 100_000_000, "usd", 10_000
        )
    # The account from the metadata alone; an expanded payment intent.
    alone = session(client_reference_id=None, payment_intent={"id": "pi_9", "object": "x"})
    command = command_of(event("checkout.session.completed", alone, "e"), TOKENS, DECIMALS)
    assert isinstance(command, CreditPayment)
    assert (command.to, command.payment_intent_id) == (ADDRESS, "pi_9")


def test_currencies_convert_by_their_own_minor_units() -> None:
    yen = session(currency="jpy", amount_total=1_500, metadata={"tachyon_token": "JPYC"})
    command = command_of(event("checkout.session.completed", yen, "e"), TOKENS, DECIMALS)
    assert isinstance(command, CreditPayment) and command.amount == 1_500 * 10**6  # 0 decimals
    dinar = session(currency="kwd", amount_total=1_234, metadata={"tachyon_token": "KWDT"})
    command = command_of(event("checkout.session.completed", dinar, "e"), TOKENS, DECIMALS)
    assert isinstance(command, Ignored)  # 3 decimals do not fit in 2: never rounded
    assert "cannot hold" in command.reason
    assert rate("usd", 6) == 10_000 and rate("jpy", 0) == 1
    with pytest.raises(Unmapped):
        rate("usd", 1)
    assert (from_decimal_text("100.5", "usd"), to_decimal_text(10_050, "usd")) == (10_050, "100.50")
    assert (from_decimal_text("150", "jpy"), to_decimal_text(150, "jpy")) == (150, "150")
    with pytest.raises(InvalidInput):
        from_decimal_text("1.5", "jpy")


@pytest.mark.parametrize(
    ("kind", "item", "needle"),
    [
        ("customer.created", {"id": "cus_1", "object": "customer"}, "not one the on-ramp"),
        ("checkout.session.completed", session(payment_status="unpaid"), "unpaid"),
        ("checkout.session.completed", session(payment_status="no_payment_required"), "no_pay"),
        ("checkout.session.completed", session(currency="eur"), "not accepted"),
        ("checkout.session.completed", session(metadata={"tachyon_token": "BASE"}), "credits USDC"),
        ("checkout.session.completed", session(client_reference_id="x", metadata={}), "no tachyon"),
        ("checkout.session.completed", session(payment_intent=None), "no payment intent"),
        ("charge.dispute.closed", {"id": "dp_1", "object": "dispute", "amount": 5,
                                   "currency": "usd", "payment_intent": "pi_1",
                                   "status": "warning_closed"}, "neither won nor lost"),
    ],
)  # fmt: skip
def test_what_changes_nothing_is_ignored_with_a_reason(
    kind: str, item: dict[str, Any], needle: str
) -> None:
    ignored = command_of(event(kind, item, "e"), TOKENS, DECIMALS)
    assert isinstance(ignored, Ignored) and needle in ignored.reason, ignored


def test_refunds_and_disputes_carry_what_stripe_reports() -> None:
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "currency": "usd",
              "amount": 10_000, "amount_refunded": 2_500}  # fmt: skip
    assert command_of(event("charge.refunded", charge, "e1"), TOKENS, DECIMALS) == (
        RefundPayment("e1", "pi_1", "usd", 2_500)
    )
    dispute = {"id": "dp_1", "object": "dispute", "payment_intent": "pi_1", "currency": "usd",
               "amount": 700, "status": "needs_response"}  # fmt: skip
    for kind, status, expected in (
        ("charge.dispute.created", "needs_response", "opened"),
        ("charge.dispute.closed", "won", "won"),
        ("charge.dispute.closed", "lost", "lost"),
    ):
        command = command_of(event(kind, {**dispute, "status": status}, "e"), TOKENS, DECIMALS)
        assert command == DisputePayment("e", "pi_1", "dp_1", "usd", 700, expected)


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "checkout.session.completed", "data": {"object": session()}},  # no id
        {"id": "e", "data": {"object": session()}},  # no type
        {"id": "e", "type": "checkout.session.completed", "data": {}},
        {"id": "e", "type": "checkout.session.completed", "data": {"object": session(id=None)}},
        {"id": "e", "type": "charge.refunded", "data": {"object": {"payment_intent": "pi",
                                                                   "currency": "usd"}}},
    ],
)  # fmt: skip
def test_what_is_not_shaped_as_a_stripe_event_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        command_of(bad, TOKENS, DECIMALS)

"""Card payments an on-ramp credited, and the refunds and disputes that reverse them.

Pure; nothing here knows a payment processor. A payment is credited once per checkout session
(`session_id`) and is found again by the payment id its processor reports refunds and disputes
under (`payment_intent_id`). It records what the payer paid (`currency_amount`, in the
currency's minor units) and what it credited (`amount`, the token's minor units): an exact
whole multiple, the `rate`, by which a refund or dispute in the currency converts to the token.
A refund carries the payment's total refunded so far, so a repeated or late delivery debits
nothing more. A dispute moves once from unknown to opened, won or lost, and from opened to won
or lost: opened (or lost unseen) debits its amount, won after opened credits it back. What a
payment has lost to refunds and open or lost disputes never exceeds what it paid.
"""

from __future__ import annotations

from typing import Final

import msgspec

from tachyon.dex.ids import AccountId, TokenId
from tachyon.errors import InvalidInput, PaymentAlreadyApplied, PaymentNotFound

OPENED: Final = "opened"
WON: Final = "won"
LOST: Final = "lost"
DISPUTE_STATUSES: Final = (OPENED, WON, LOST)
PAYMENT_ID_MAX: Final = 255  # Stripe's ids are shorter; an id is a printable string


class Payment(msgspec.Struct, frozen=True, array_like=True):
    """One credited card payment; `refunded` is in the currency's minor units."""

    session_id: str
    payment_intent_id: str
    account: AccountId
    token: TokenId
    amount: int
    currency: str
    currency_amount: int
    refunded: int = 0

    @property
    def rate(self) -> int:
        """Token minor units per currency minor unit (exact: checked when credited)."""
        return self.amount // self.currency_amount


class Dispute(msgspec.Struct, frozen=True, array_like=True):
    dispute_id: str
    payment_intent_id: str
    amount: int  # in the currency's minor units
    status: str


class Reversal(msgspec.Struct, frozen=True):
    """What a refund or dispute step moves: `debit` or `credit` of the payment's token."""

    payment: Payment
    debit: int = 0
    credit: int = 0


def check_id(value: object, name: str) -> str:
    if type(value) is not str or not 0 < len(value) <= PAYMENT_ID_MAX or not value.isprintable():
        raise InvalidInput(f"{name} {value!r} must be 1 to {PAYMENT_ID_MAX} printable characters")
    return value


def check_payment(payment: Payment) -> None:
    """InvalidInput unless `payment`'s ids are ids and its amounts an exact conversion."""
    check_id(payment.session_id, "session id")
    check_id(payment.payment_intent_id, "payment intent id")
    check_id(payment.currency, "currency")
    paid, credited = payment.currency_amount, payment.amount
    if type(paid) is not int or paid <= 0 or type(credited) is not int or credited <= 0:
        raise InvalidInput(f"a payment of {paid!r} crediting {credited!r} must be above zero")
    if credited % paid:
        raise InvalidInput(
            f"{credited} token units for {paid} {payment.currency} minor units is not an exact"
            " conversion; nothing was changed"
        )


class Payments:
    """Every credited payment by session and by payment intent, and every dispute by id."""

    __slots__ = ("_by_intent", "_by_session", "_disputes")

    def __init__(self) -> None:
        self._by_session: dict[str, Payment] = {}
        self._by_intent: dict[str, str] = {}  # payment intent -> session
        self._disputes: dict[str, Dispute] = {}

    def __bool__(self) -> bool:
        return bool(self._by_session)

    def check_new(self, payment: Payment) -> None:
        """PaymentAlreadyApplied if its session (or its payment intent) was credited."""
        check_payment(payment)
        if payment.session_id in self._by_session:
            raise PaymentAlreadyApplied(
                f"checkout session {payment.session_id} was credited already; nothing was changed"
            )
        if payment.payment_intent_id in self._by_intent:
            raise PaymentAlreadyApplied(
                f"payment intent {payment.payment_intent_id} was credited already (session"
                f" {self._by_intent[payment.payment_intent_id]}); nothing was changed"
            )

    def add(self, payment: Payment) -> None:
        self._by_session[payment.session_id] = payment
        self._by_intent[payment.payment_intent_id] = payment.session_id

    def of(self, payment_intent_id: str, currency: str) -> Payment:
        """The payment credited under `payment_intent_id`, paid in `currency`."""
        session = self._by_intent.get(payment_intent_id)
        if session is None:
            raise PaymentNotFound(
                f"no card payment was credited under payment intent {payment_intent_id!r};"
                " nothing was changed"
            )
        payment = self._by_session[session]
        if currency != payment.currency:
            raise InvalidInput(
                f"payment intent {payment_intent_id} was paid in {payment.currency}, not"
                f" {currency!r}; nothing was changed"
            )
        return payment

    def refund(self, payment_intent_id: str, currency: str, total: object) -> Reversal:
        """Record that `total` of the payment is refunded now; the debit is the increase."""
        payment = self.of(payment_intent_id, currency)
        if type(total) is not int or total < 0:
            raise InvalidInput(f"amount refunded {total!r} must be a whole number of minor units")
        increase = total - payment.refunded
        if increase <= 0:
            raise PaymentAlreadyApplied(
                f"payment intent {payment_intent_id} has {payment.refunded} refunded already"
                f" ({total} now); nothing was changed"
            )
        self._check_within(payment, increase)
        refunded = msgspec.structs.replace(payment, refunded=total)
        self._by_session[payment.session_id] = refunded
        return Reversal(refunded, debit=increase * payment.rate)

    def dispute(
        self, payment_intent_id: str, currency: str, dispute_id: str, amount: object, status: str
    ) -> Reversal:
        """Move dispute `dispute_id` to `status` (see the module's docstring)."""
        payment = self.of(payment_intent_id, currency)
        check_id(dispute_id, "dispute id")
        if status not in DISPUTE_STATUSES:
            raise InvalidInput(f"dispute status {status!r} must be one of {DISPUTE_STATUSES}")
        if type(amount) is not int or amount <= 0:
            raise InvalidInput(f"disputed amount {amount!r} must be above zero")
        known = self._disputes.get(dispute_id)
        if known is not None and (known.status != OPENED or status == OPENED):
            raise PaymentAlreadyApplied(
                f"dispute {dispute_id} is {known.status} already; nothing was changed"
            )
        if known is not None and known.payment_intent_id != payment_intent_id:
            raise InvalidInput(
                f"dispute {dispute_id} is of payment intent {known.payment_intent_id}, not"
                f" {payment_intent_id}; nothing was changed"
            )
        reversal = Reversal(payment)
        if known is None and status != WON:
            self._check_within(payment, amount)
            reversal = Reversal(payment, debit=amount * payment.rate)
        elif known is not None and status == WON:
            reversal = Reversal(payment, credit=known.amount * payment.rate)
        self._disputes[dispute_id] = Dispute(dispute_id, payment_intent_id, amount, status)
        return reversal

    def _check_within(self, payment: Payment, more: int) -> None:
        lost = payment.refunded + sum(
            each.amount
            for each in self._disputes.values()
            if each.payment_intent_id == payment.payment_intent_id and each.status != WON
        )
        if lost + more > payment.currency_amount:
            raise InvalidInput(
                f"payment intent {payment.payment_intent_id} paid {payment.currency_amount}"
                f" {payment.currency} minor units and has lost {lost}: {more} more would exceed"
                " it; nothing was changed"
            )

    # -- state -----------------------------------------------------------------------------

    def to_state(self) -> list[object]:
        return [
            [list(msgspec.structs.astuple(each)) for each in self._by_session.values()],
            [list(msgspec.structs.astuple(each)) for each in self._disputes.values()],
        ]

    @classmethod
    def from_state(cls, state: list[list[list[object]]]) -> Payments:
        payments = cls()
        rows, disputes = state
        for row in rows:
            payment = msgspec.convert(row, Payment)
            check_payment(payment)
            payments.add(payment)
        for row in disputes:
            dispute = msgspec.convert(row, Dispute)
            assert dispute.payment_intent_id in payments._by_intent, dispute
            payments._disputes[dispute.dispute_id] = dispute
        return payments

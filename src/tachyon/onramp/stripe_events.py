"""A verified Stripe event, read into the exchange's payment command it asks for.

Pure. `checkout.session.completed` and `checkout.session.async_payment_succeeded` of a paid
session credit the account the session names (`client_reference_id`, or the metadata's
`tachyon_account`) with the token it names (`tachyon_token`, else the currency's); a refund
(`charge.refunded`) carries the charge's total refunded; a dispute (`charge.dispute.created`,
`charge.dispute.closed` won or lost) its amount and state. Everything else, an unpaid session
and a currency or token with no exact conversion is `Ignored`, with the reason to log. An event
that is not shaped as Stripe's are is `InvalidInput` (the webhook answers 400).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from tachyon.errors import InvalidInput
from tachyon.exchange.auth import is_address
from tachyon.exchange.commands import (
    CreditPayment,
    DisputePayment,
    PaymentCommand,
    RefundPayment,
)
from tachyon.exchange.payments import LOST, OPENED, WON
from tachyon.onramp.amounts import Unmapped, check_pair, to_token_units

ACCOUNT_KEY: Final = "tachyon_account"
TOKEN_KEY: Final = "tachyon_token"  # noqa: S105 (a metadata key, not a secret)
CREDITING: Final = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


class Ignored(NamedTuple):
    """An event that changes nothing, and why (logged; the webhook answers 2xx)."""

    reason: str


def command_of(
    event: Mapping[str, Any], tokens: Mapping[str, str], decimals: Mapping[str, int]
) -> PaymentCommand | Ignored:
    """The command `event` asks for; `tokens` maps each accepted currency to its token,
    `decimals` each registered token to its decimals."""
    event_id, kind, item = _envelope(event)
    if kind in CREDITING:
        return _credit(event_id, item, tokens, decimals)
    if kind == "charge.refunded":
        refunded = _int(item, "amount_refunded")
        return _for_payment(item, lambda pi, cur: RefundPayment(event_id, pi, cur, refunded))
    if kind in ("charge.dispute.created", "charge.dispute.closed"):
        return _dispute(event_id, kind, item)
    return Ignored(f"event type {kind} is not one the on-ramp acts on")


def _envelope(event: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]]:
    event_id, kind, data = event.get("id"), event.get("type"), event.get("data")
    item = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(event_id, str) or not isinstance(kind, str) or not isinstance(item, Mapping):
        raise InvalidInput("not a Stripe event: it needs an id, a type and data.object")
    return event_id, kind, item


def _credit(
    event_id: str,
    session: Mapping[str, Any],
    tokens: Mapping[str, str],
    decimals: Mapping[str, int],
) -> CreditPayment | Ignored:
    session_id = _text(session, "id")
    if session.get("payment_status") != "paid":
        return Ignored(f"checkout session {session_id} is {session.get('payment_status')}")
    metadata = session.get("metadata") or {}
    account = session.get("client_reference_id") or metadata.get(ACCOUNT_KEY)
    if not isinstance(account, str) or not is_address(account):
        return Ignored(f"checkout session {session_id} names no tachyon account ({account!r})")
    intent = _intent_id(session)
    if intent is None:
        return Ignored(f"checkout session {session_id} has no payment intent (not a payment)")
    currency = _text(session, "currency")
    token = str(metadata.get(TOKEN_KEY) or tokens.get(currency))
    paid = _int(session, "amount_total")
    try:
        check_pair(currency, token, tokens)
        if token not in decimals:
            raise Unmapped(f"token {token} is not registered on this exchange")
        amount = to_token_units(currency, paid, decimals[token])
    except Unmapped as exc:
        return Ignored(f"checkout session {session_id}: {exc}")
    return CreditPayment(event_id, session_id, intent, account, str(token), amount, currency, paid)


def _dispute(event_id: str, kind: str, dispute: Mapping[str, Any]) -> PaymentCommand | Ignored:
    dispute_id, amount = _text(dispute, "id"), _int(dispute, "amount")
    status = OPENED
    if kind == "charge.dispute.closed":
        stripe_status = dispute.get("status")
        if stripe_status not in (WON, LOST):
            return Ignored(f"dispute {dispute_id} closed as {stripe_status}, neither won nor lost")
        status = str(stripe_status)
    return _for_payment(
        dispute, lambda pi, cur: DisputePayment(event_id, pi, dispute_id, cur, amount, status)
    )


def _for_payment(
    item: Mapping[str, Any], make: Callable[[str, str], PaymentCommand]
) -> PaymentCommand | Ignored:
    """`make(payment intent id, currency)` of a charge or dispute; Ignored without an intent."""
    intent = _intent_id(item)
    if intent is None:
        return Ignored(f"{item.get('object', 'object')} {item.get('id')} has no payment intent")
    return make(intent, _text(item, "currency"))


def _intent_id(item: Mapping[str, Any]) -> str | None:
    """The payment intent's id (an expanded intent's too)."""
    intent = item.get("payment_intent")
    if isinstance(intent, Mapping):
        intent = intent.get("id")
    return intent if isinstance(intent, str) and intent else None


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"a Stripe {item.get('object', 'object')} without its {key}")
    return value


def _int(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key)
    if type(value) is not int:
        raise InvalidInput(f"a Stripe {item.get('object', 'object')} without its {key}")
    return value

"""Stripe, through its official library: webhook signatures and Checkout Sessions.

`verify` checks a webhook delivery's `Stripe-Signature` header with
`stripe.Webhook.construct_event` (the library's HMAC check and its timestamp tolerance) and
returns the event as plain JSON. `create_checkout` asks Stripe's API (or `api_base`: Stripe's
`stripe-mock`, a local stand-in) for a hosted Checkout Session whose `client_reference_id` and
metadata carry the tachyon account and token, and returns its id and URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import stripe

from tachyon.errors import InvalidInput, TachyonError
from tachyon.onramp.amounts import TOKENS_DEFAULT
from tachyon.onramp.stripe_events import ACCOUNT_KEY, TOKEN_KEY

TOLERANCE_S: Final = stripe.Webhook.DEFAULT_TOLERANCE  # 300 s, the library's own


class WebhookRefused(InvalidInput):
    """A delivery whose signature does not verify, or whose payload is not an event."""

    code = "invalid_webhook"


class PaymentProviderError(TachyonError):
    """Stripe's API refused a request or could not be reached; nothing was changed."""

    code = "payment_provider_error"


@dataclass(frozen=True, slots=True)
class StripeSettings:
    """What the node needs of Stripe: the webhook's signing secret (`whsec_...`), the API's
    secret key (`sk_...`), another API host if any, and each currency's token."""

    webhook_secret: str
    api_key: str
    api_base: str | None = None
    tokens: Mapping[str, str] = field(default_factory=lambda: dict(TOKENS_DEFAULT))


class Checkout(NamedTuple):
    session_id: str
    url: str


def verify(settings: StripeSettings, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event a delivery carries, once its signature verifies; WebhookRefused if not."""
    try:
        stripe.Webhook.construct_event(
            payload, signature, settings.webhook_secret, TOLERANCE_S, api_key=settings.api_key
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise WebhookRefused(f"the Stripe-Signature header does not verify: {exc}") from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise WebhookRefused(f"the payload is not a Stripe event: {exc}") from None
    if not isinstance(event, dict):
        raise WebhookRefused("the payload is not a Stripe event: not a JSON object")
    return event


def create_checkout(
    settings: StripeSettings,
    *,
    account: str,
    token: str,
    currency: str,
    amount_minor: int,
    success_url: str,
    cancel_url: str,
) -> Checkout:
    """A hosted Checkout Session for `amount_minor` of `currency`, crediting `account` with
    `token` once paid (its webhook); PaymentProviderError if Stripe refuses or is away."""
    base = None if settings.api_base is None else {"api": settings.api_base}
    client = stripe.StripeClient(settings.api_key, base_addresses=base)  # type: ignore[arg-type]
    metadata = {ACCOUNT_KEY: account, TOKEN_KEY: token}
    try:
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "client_reference_id": account,
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": currency,
                            "unit_amount": amount_minor,
                            "product_data": {"name": f"{token} for tachyon account {account}"},
                        },
                    }
                ],
                "success_url": success_url,
                "cancel_url": cancel_url,
            }
        )
    except stripe.StripeError as exc:
        raise PaymentProviderError(
            f"Stripe did not create the checkout session: {exc.user_message or exc}"
        ) from None
    if not session.id or not session.url:
        raise PaymentProviderError("Stripe answered a checkout session without an id or URL")
    return Checkout(session.id, session.url)

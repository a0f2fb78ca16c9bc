"""The card on-ramp's routes: a signed checkout request, and Stripe's webhook.

`POST /v1/onramp/checkout` (signed as a read is, the body included) creates a Stripe Checkout
Session for the signing account. `POST /v1/onramp/stripe/webhook` verifies a delivery's
signature and submits the payment command it asks for through the sequencer, as any command;
it is the only route that can submit one (clients submit signed account commands alone). It
answers 200 once the command is durable or when it changes nothing (logged, with the reason),
400 for a delivery that does not verify or is not an event, 5xx only when storage fails, so
that Stripe retries exactly what was not recorded. It is exempt from the per-client-address
limits: Stripe delivers from few addresses. Without Stripe's settings both answer 404.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Final

from fastapi import FastAPI, Header, Request
from fastapi.responses import PlainTextResponse

from tachyon.dex.units import to_decimal
from tachyon.errors import NotFound, StorageError, TachyonError
from tachyon.exchange.admission import admit
from tachyon.exchange.commands import PaymentCommand
from tachyon.node import schemas
from tachyon.node.execution import Node
from tachyon.node.headers import AddressHeader, SignatureHeader, TimestampHeader
from tachyon.onramp.amounts import (
    check_pair,
    from_decimal_text,
    to_decimal_text,
    to_token_units,
)
from tachyon.onramp.stripe_api import StripeSettings, create_checkout, verify
from tachyon.onramp.stripe_events import Ignored, command_of

CHECKOUT_PATH: Final = "/v1/onramp/checkout"
WEBHOOK_PATH: Final = "/v1/onramp/stripe/webhook"
RETURN_PATH: Final = "/v1/onramp/return"
WEBHOOK_BYTES_MAX: Final = 256 * 1024  # Stripe's events run to tens of KiB
logger = logging.getLogger("tachyon.onramp")


class OnrampDisabled(NotFound):
    code = "onramp_disabled"


def onramp_routes(app: FastAPI, node: Node) -> None:
    @app.post(
        CHECKOUT_PATH,
        response_model=None,
        responses={200: {"model": schemas.CheckoutAnswer, "description": "the answer"}},
        tags=["signed"],
    )
    async def checkout(
        wanted: schemas.CheckoutRequest,
        request: Request,
        address: AddressHeader = None,
        timestamp: TimestampHeader = None,
        signature: SignatureHeader = None,
    ) -> dict[str, object]:
        """Start a card payment for the signing account: a Stripe Checkout Session, whose
        `url` the payer opens. Signed as a read is, over the method, the path, the timestamp
        and, after a newline, the body's bytes. The account is credited once Stripe tells
        the node the session is paid (its webhook)."""
        settings = _settings(node)
        client = None if request.client is None else request.client.host
        headers = (address, timestamp, signature)
        body = await request.body()
        account = node.authenticate(client, headers, "POST", CHECKOUT_PATH, body)
        currency = wanted.currency.lower()
        token = wanted.token or settings.tokens.get(currency, "")
        check_pair(currency, token, settings.tokens)
        decimals = (await node.token(token)).decimals
        minor = from_decimal_text(wanted.amount, currency)
        credit = to_token_units(currency, minor, decimals)
        back = f"{str(request.base_url).rstrip('/')}{RETURN_PATH}"
        session = await asyncio.to_thread(
            create_checkout,
            settings,
            account=account,
            token=token,
            currency=currency,
            amount_minor=minor,
            success_url=f"{back}?paid=1&session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{back}?paid=0",
        )
        return {
            "session_id": session.session_id,
            "url": session.url,
            "address": account,
            "amount": to_decimal_text(minor, currency),
            "currency": currency,
            "token": token,
            "credit": to_decimal(credit, decimals),
        }

    @app.get(RETURN_PATH, include_in_schema=False)
    async def returned(paid: int = 0) -> PlainTextResponse:
        """Where Stripe's checkout page sends the payer back."""
        if paid:
            return PlainTextResponse(
                "Payment received. Your tachyon account is credited once Stripe confirms it."
            )
        return PlainTextResponse("Payment cancelled; nothing was charged.")

    _webhook_route(app, node)


def _webhook_route(app: FastAPI, node: Node) -> None:
    @app.post(
        WEBHOOK_PATH,
        response_model=None,
        responses={200: {"model": schemas.WebhookAnswer, "description": "the answer"}},
        tags=["onramp"],
    )
    async def stripe_webhook(
        request: Request,
        stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
    ) -> dict[str, object]:
        """Stripe's event deliveries (point the dashboard's webhook endpoint here): a paid
        checkout session credits its account once; refunds and disputes debit it (any
        shortfall becomes the account's debt); a won dispute credits back."""
        settings = _settings(node)
        event = verify(settings, await request.body(), stripe_signature)
        metas = await node.running().read(lambda host: host.tokens())
        decimals = {str(meta.symbol): meta.decimals for meta in metas}
        command = command_of(event, settings.tokens, decimals)
        event_id, kind = str(event["id"]), str(event["type"])
        if isinstance(command, Ignored):
            node.metrics.onramp_events.labels(kind, "ignored").inc()
            # An event type it does not act on is routine; anything else deserves a look.
            unusual = not command.reason.startswith("event type")
            return _not_applied(event_id, kind, command.reason, unusual=unusual)
        return await _apply(node, event_id, kind, command)


async def _apply(
    node: Node, event_id: str, kind: str, command: PaymentCommand
) -> dict[str, object]:
    try:
        await node.running().submit(admit(command))
    except StorageError:
        raise  # 503: Stripe delivers it again
    except TachyonError as exc:  # applied already, or refused for good: a retry cannot help
        node.metrics.onramp_events.labels(kind, exc.code).inc()
        reason = f"{exc.code}: {exc}"
        return _not_applied(event_id, kind, reason, unusual=exc.code != "already_applied")
    node.metrics.onramp_events.labels(kind, "applied").inc()
    logger.info(
        "a Stripe event was applied",
        extra={"event": event_id, "type": kind, "command": type(command).__name__},
    )
    return {"received": True, "applied": True, "event": event_id}


def _not_applied(event_id: str, kind: str, reason: str, *, unusual: bool) -> dict[str, object]:
    """The answer to a delivery that changed nothing, logged (a warning if `unusual`)."""
    logger.log(
        logging.WARNING if unusual else logging.INFO,
        "a Stripe event changed nothing",
        extra={"event": event_id, "type": kind, "reason": reason},
    )
    return {"received": True, "applied": False, "event": event_id, "reason": reason}


def _settings(node: Node) -> StripeSettings:
    if node.stripe is None:
        raise OnrampDisabled(
            "the card on-ramp is not enabled on this node (start it with"
            " --stripe-webhook-secret and --stripe-api-key)"
        )
    return node.stripe

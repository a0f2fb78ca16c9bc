"""Goal: the card on-ramp over a real node. A checkout request creates a Stripe Checkout Session
(through the official library, against a local stand-in of Stripe's API) carrying the amount,
the currency and the account; the webhook for that session, signed as Stripe signs it,
credits the account that asked, once. A bad or missing signature, a stale timestamp, a body
that is not an event (400), an event type it ignores, an unpaid session and an unmapped
currency (200, nothing applied) each change nothing; 1,000 shuffled, duplicated, concurrent
deliveries of 100 sessions credit exactly 100 times; a refund after the funds were traded
away leaves debt that bars orders and withdrawals until a credit settles it; a restart
replays the journal and still refuses a second credit. Method: `tachyon node serve` in a
subprocess on 127.0.0.1 with the Stripe options, deliveries posted by httpx, accounts acting
through signed HTTP requests (`tests.node.support.Trader`) and the installed CLI."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import httpx2
import pytest

from tachyon.client.signing import sign_read
from tachyon.dex.model import Side
from tachyon.exchange.commands import (
    CreditPayment,
    Deposit,
    DisputePayment,
    PlaceLimit,
    RefundPayment,
    RequestWithdrawal,
    encode_command,
)
from tests.cli.helpers import Cli
from tests.node.support import Trader, envelope
from tests.support.full_disk import on_a_small_disk
from tests.support.node_process import serving
from tests.support.stripe_standin import (
    API_KEY,
    WEBHOOK_SECRET,
    StripeStandIn,
    delivery,
    event,
    paid,
    signature_header,
    stripe_standin,
)

pytestmark = pytest.mark.network

WEBHOOK: Final = "/v1/onramp/stripe/webhook"
PASSWORD: Final = "onramp-password-1"
MARKET: Final = "BASE/USDC"


def stripe_args(standin: StripeStandIn) -> tuple[str, ...]:
    return (
        "--stripe-webhook-secret", WEBHOOK_SECRET,
        "--stripe-api-key", API_KEY,
        "--stripe-api-base", standin.url,
    )  # fmt: skip


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.fresh(tmp_path)


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    with stripe_standin() as running:
        yield running


@pytest.fixture
def node(cli: Cli, tmp_path: Path, standin: StripeStandIn) -> Iterator[httpx2.Client]:
    with (
        serving(cli, tmp_path / "node-data", *stripe_args(standin)) as url,
        httpx2.Client(base_url=url, timeout=10.0) as http,
    ):
        yield http


def session_for(account: str, cents: int, number: int, currency: str = "usd") -> dict[str, Any]:
    """A paid checkout session as Stripe reports it, for a session the node created."""
    return {
        "id": f"cs_test_{number:04d}",
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": cents,
        "currency": currency,
        "client_reference_id": account,
        "metadata": {"tachyon_account": account, "tachyon_token": "USDC"},
        "payment_status": "paid",
        "status": "complete",
        "payment_intent": f"pi_test_{number:04d}",
    }


def deliver(http: httpx2.Client, item: dict[str, Any]) -> httpx2.Response:
    payload, headers = delivery(item)
    return http.post(WEBHOOK, content=payload, headers=headers)


def applied(http: httpx2.Client, item: dict[str, Any]) -> bool:
    response = deliver(http, item)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["received"] is True and answer["event"] == item["id"]
    return bool(answer["applied"])


def usdc(trader: Trader) -> dict[str, str]:
    response = trader.read("/v1/account/balances")
    assert response.status_code == 200, response.text
    rows: dict[str, dict[str, str]] = {row["token"]: row for row in response.json()["balances"]}
    return rows.get("USDC", {"token": "USDC", "available": "0", "locked": "0"})


def test_a_checkout_is_created_and_its_webhook_credits_the_account_that_asked(
    cli: Cli, tmp_path: Path, standin: StripeStandIn
) -> None:
    address = cli.json(
        "wallet", "create", "--db-path", "~/w/payer", "--password", PASSWORD, "--format", "json"
    )["address"]
    with serving(cli, tmp_path / "node-data", *stripe_args(standin)) as url:
        acting = ("--db-path", "~/w/payer", "--password", PASSWORD, "--node", url)
        answer = cli.json("onramp", "checkout", "--amount", "100.00", *acting, "--format", "json")
        (sent,) = standin.requests
        assert standin.authorizations == [f"Bearer {API_KEY}"]
        assert sent["mode"] == "payment"
        assert sent["line_items[0][price_data][unit_amount]"] == "10000"  # cents
        assert sent["line_items[0][price_data][currency]"] == "usd"
        assert sent["line_items[0][quantity]"] == "1"
        assert sent["client_reference_id"] == address
        assert sent["metadata[tachyon_account]"] == address
        assert sent["metadata[tachyon_token]"] == "USDC"
        assert sent["payment_intent_data[metadata][tachyon_account]"] == address
        assert sent["success_url"].startswith(f"{url}/v1/onramp/return")
        session = standin.sessions[answer["session_id"]]
        assert answer == {
            "session_id": session["id"],
            "url": session["url"],
            "address": address,
            "amount": "100.00",
            "currency": "usd",
            "token": "USDC",
            "credit": "100",
        }
        text = cli.ok("onramp", "checkout", "--amount", "2.50", *acting)
        assert standin.sessions["cs_test_standin0002"]["url"] in text

        # The webhook Stripe sends once the first session is paid, built from what was sent.
        completed = event("checkout.session.completed", paid(session, "pi_test_1"), "evt_1")
        with httpx2.Client(base_url=url, timeout=10.0) as http:
            assert applied(http, completed) is True
            assert applied(http, completed) is False  # a duplicate delivery
        balance = cli.json("dex", "balance", *acting, "--format", "json")
        assert {"token": "USDC", "available": "100", "locked": "0"} in balance["balances"]


def test_refusals_and_ignored_events_change_nothing(node: httpx2.Client) -> None:
    trader = Trader(node)
    good = event("checkout.session.completed", session_for(trader.address, 1234, 1), "evt_ok")
    payload, headers = delivery(good)
    stale = signature_header(payload, at=int(headers["Stripe-Signature"][2:12]) - 600)
    for bad_headers in (
        {**headers, "Stripe-Signature": signature_header(payload, "whsec_someone_else")},
        {**headers, "Stripe-Signature": stale},  # outside the library's 300 s tolerance
        {"Content-Type": "application/json"},  # no signature at all
    ):
        response = node.post(WEBHOOK, content=payload, headers=bad_headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_webhook"
    tampered = payload.replace(b"1234", b"9234")
    response = node.post(WEBHOOK, content=tampered, headers=headers)
    assert response.status_code == 400, response.text
    not_json = b"not an event"
    response = node.post(
        WEBHOOK, content=not_json, headers={"Stripe-Signature": signature_header(not_json)}
    )
    assert response.status_code == 400, response.text
    assert usdc(trader)["available"] == "0"

    unpaid = {**session_for(trader.address, 500, 2), "payment_status": "unpaid"}
    euros = session_for(trader.address, 500, 3, currency="eur")
    nobody = {**session_for("not-an-address", 500, 4), "metadata": {}}
    for ignored in (
        event("customer.created", {"id": "cus_1", "object": "customer"}, "evt_customer"),
        event("checkout.session.completed", unpaid, "evt_unpaid"),
        event("checkout.session.expired", session_for(trader.address, 500, 5), "evt_expired"),
        event("checkout.session.completed", euros, "evt_eur"),
        event("checkout.session.completed", nobody, "evt_nobody"),
        event("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": "pi_none",
                                  "currency": "usd", "amount_refunded": 100}, "evt_refund"),
    ):  # fmt: skip
        response = deliver(node, ignored)
        assert response.status_code == 200, response.text
        assert response.json()["applied"] is False and response.json()["reason"]
    assert usdc(trader)["available"] == "0"
    assert applied(node, good) is True
    assert usdc(trader)["available"] == "12.34"
    metrics = node.get("/metrics").text
    for line in (
        'tachyon_onramp_events_total{outcome="ignored",type="customer.created"} 1.0',
        'tachyon_onramp_events_total{outcome="payment_not_found",type="charge.refunded"} 1.0',
        'tachyon_onramp_events_total{outcome="applied",type="checkout.session.completed"} 1.0',
    ):
        assert line in metrics


def test_a_thousand_shuffled_concurrent_deliveries_of_a_hundred_sessions_credit_a_hundred(
    node: httpx2.Client,
) -> None:
    traders = [Trader(node) for _ in range(10)]
    rng = random.Random(18)
    sessions = [
        session_for(traders[number % 10].address, rng.randrange(50, 100_000), number)
        for number in range(100)
    ]
    deliveries: list[dict[str, Any]] = []
    for session in sessions:
        # Stripe retries with the same event id; a delayed method sends a second event.
        deliveries += [event("checkout.session.completed", session, f"evt_{session['id']}")] * 7
        deliveries += [
            event("checkout.session.async_payment_succeeded", session, f"evt_async_{session['id']}")
        ] * 3  # fmt: skip
    rng.shuffle(deliveries)
    assert len(deliveries) == 1_000
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda item: applied(node, item), deliveries))
    assert outcomes.count(True) == 100
    for number, trader in enumerate(traders):
        cents = sum(s["amount_total"] for s in sessions[number::10])
        assert usdc(trader)["available"] == f"{cents // 100}.{cents % 100:02d}".rstrip("0").rstrip(
            "."
        )


def test_a_refund_after_the_funds_were_traded_away_leaves_debt_until_a_credit_settles_it(
    node: httpx2.Client,
) -> None:
    payer, seller = Trader(node), Trader(node)
    assert applied(
        node, event("checkout.session.completed", session_for(payer.address, 10_000, 1), "e1")
    )
    assert applied(
        node, event("checkout.session.completed", session_for(seller.address, 100, 2), "e2")
    )
    # The seller needs BASE: the dev faucet (a Deposit signed by its key).
    seller.ok(Deposit(seller.address, "BASE", 10, nonce=seller.nonce()))
    seller.ok(PlaceLimit(seller.address, MARKET, Side.ASK, 9_000_000, 10, nonce=seller.nonce()))
    payer.ok(PlaceLimit(payer.address, MARKET, Side.BID, 9_000_000, 10, nonce=payer.nonce()))
    assert usdc(payer) == {"token": "USDC", "available": "10", "locked": "0"}

    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_test_0001",
              "currency": "usd", "amount": 10_000, "amount_refunded": 2_500}  # fmt: skip
    assert applied(node, event("charge.refunded", charge, "e3"))  # $25: $10 taken, $15 owed
    assert usdc(payer) == {"token": "USDC", "available": "0", "locked": "0", "debt": "15"}
    assert not applied(node, event("charge.refunded", charge, "e3"))
    response = payer.post(
        PlaceLimit(payer.address, MARKET, Side.BID, 1_000_000, 1, nonce=payer.nonce())
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "account_in_debt"
    response = payer.post(
        RequestWithdrawal(payer.address, "BASE", 1, "iban:X", nonce=payer.nonce())
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "account_in_debt"

    dispute = {"id": "dp_1", "object": "dispute", "payment_intent": "pi_test_0001",
               "charge": "ch_1", "currency": "usd", "amount": 7_500, "status": "needs_response"}  # fmt: skip
    assert applied(node, event("charge.dispute.created", dispute, "e4"))
    assert usdc(payer)["debt"] == "90"
    assert applied(node, event("charge.dispute.closed", {**dispute, "status": "won"}, "e5"))
    assert usdc(payer) == {"token": "USDC", "available": "0", "locked": "0", "debt": "15"}
    # A new card payment settles the debt first.
    assert applied(
        node, event("checkout.session.completed", session_for(payer.address, 2_000, 3), "e6")
    )
    assert usdc(payer) == {"token": "USDC", "available": "5", "locked": "0"}
    payer.ok(PlaceLimit(payer.address, MARKET, Side.BID, 1_000_000, 1, nonce=payer.nonce()))


def test_a_restarted_node_replays_its_credits_and_still_credits_once(
    cli: Cli, tmp_path: Path, standin: StripeStandIn
) -> None:
    data_dir = tmp_path / "node-data"
    env = {  # the variables instead of the options
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_API_BASE": standin.url,
    }
    with serving(cli, data_dir, env=env) as url, httpx2.Client(base_url=url) as http:
        trader = Trader(http)
        key = trader.key
        completed = event("checkout.session.completed", session_for(trader.address, 700, 1), "e")
        assert applied(http, completed)
    with serving(cli, data_dir, env=env) as url, httpx2.Client(base_url=url) as http:
        trader = Trader(http, key=key)
        assert not applied(http, completed)
        assert not applied(http, {**completed, "id": "e_another"})
        assert usdc(trader)["available"] == "7"


def test_checkout_refusals(node: httpx2.Client, standin: StripeStandIn) -> None:
    trader = Trader(node)
    path = "/v1/onramp/checkout"

    def checkout(body: dict[str, Any], *, signed: bool = True) -> httpx2.Response:
        content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            ts = time.time_ns()
            headers |= {
                "X-Tachyon-Address": trader.address,
                "X-Tachyon-Timestamp": str(ts),
                "X-Tachyon-Signature": sign_read(trader.key, "POST", path, ts, content),
            }
        return node.post(path, content=content, headers=headers)

    assert checkout({"amount": "10.00"}).status_code == 200
    for body, status, code in (
        ({"amount": "10.00"}, 401, "unauthorized"),
        ({"amount": "10.00", "currency": "eur"}, 400, "unmapped_currency"),
        ({"amount": "10.00", "token": "BASE"}, 400, "unmapped_currency"),
        ({"amount": "10.001"}, 400, "invalid_amount"),
        ({"amount": "ten"}, 400, "invalid_amount"),
        ({"amount": "0"}, 400, "invalid_amount"),
    ):
        response = checkout(body, signed=status != 401)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    standin.refuse = "Amount must be at least $0.50 usd"
    response = checkout({"amount": "0.10"})
    assert response.status_code == 502, response.text
    assert "at least $0.50" in response.json()["error"]["message"]
    assert len(standin.requests) == 2  # the refusals above never reached Stripe


def test_without_stripe_settings_the_onramp_is_off(cli: Cli, tmp_path: Path) -> None:
    with serving(cli, tmp_path / "plain") as url, httpx2.Client(base_url=url) as http:
        item = event("checkout.session.completed", session_for("a" * 64, 100, 1), "e")
        response = deliver(http, item)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "onramp_disabled"


def test_in_the_prod_profile_money_enters_by_card_and_not_by_the_faucet(
    cli: Cli, tmp_path: Path, standin: StripeStandIn
) -> None:
    env = {"TACHYON_PROFILE": "prod"}
    with (
        serving(cli, tmp_path / "prod", *stripe_args(standin), env=env) as url,
        httpx2.Client(base_url=url) as http,
    ):
        trader = Trader(http)
        response = trader.post(Deposit(trader.address, "USDC", 10**6, nonce=trader.nonce()))
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "deposits_disabled"
        assert applied(
            http, event("checkout.session.completed", session_for(trader.address, 300, 1), "e")
        )
        assert usdc(trader)["available"] == "3"


def test_the_webhook_is_exempt_from_the_per_client_address_limit(
    cli: Cli, tmp_path: Path, standin: StripeStandIn
) -> None:
    limits = ("--client-rate-limit", "1", "--client-rate-burst", "3")
    with (
        serving(cli, tmp_path / "limited", *stripe_args(standin), *limits) as url,
        httpx2.Client(base_url=url) as http,
    ):
        trader = Trader(http)
        statuses = [trader.read("/v1/account/balances").status_code for _ in range(6)]
        assert 429 in statuses  # the same client address, over its limit
        for number in range(30):
            item = session_for(trader.address, 100, number)
            assert applied(http, event("checkout.session.completed", item, f"e{number}"))


def test_the_webhook_takes_stripe_sized_bodies(node: httpx2.Client) -> None:
    """Stripe's events run to tens of KiB (above the 16 KiB of a command request)."""
    trader = Trader(node)
    session = {**session_for(trader.address, 100, 1), "custom_text": {"note": "x" * 100_000}}
    assert applied(node, event("checkout.session.completed", session, "e_big"))
    huge = {**session_for(trader.address, 100, 2), "custom_text": {"note": "x" * 300_000}}
    response = deliver(node, event("checkout.session.completed", huge, "e_huge"))
    assert response.status_code == 413, response.text
    assert usdc(trader)["available"] == "1"


def test_no_client_request_can_submit_a_payment_command(node: httpx2.Client) -> None:
    """Payment commands are unsigned and reach the sequencer from the webhook route only: as
    a signed command's body they are refused before anything is applied."""
    trader = Trader(node)
    for command in (
        CreditPayment("e", "cs_x", "pi_x", trader.address, "USDC", 10**8, "usd", 10_000),
        RefundPayment("e", "pi_x", "usd", 1),
        DisputePayment("e", "pi_x", "dp_x", "usd", 1, "won"),
    ):
        response = node.post("/v1/commands", json=envelope(trader.key, encode_command(command)))
        assert response.status_code == 400, response.text
        assert "only account commands are signed" in response.json()["error"]["message"]
    assert usdc(trader)["available"] == "0"


def test_a_delivery_the_disk_cannot_take_is_a_5xx_and_its_retry_credits_once(
    tmp_path: Path,
) -> None:
    """A real full disk (a 16 MiB tmpfs in a private mount namespace, as root)."""
    answer, _ = on_a_small_disk(tmp_path, "tests.node.full_disk_onramp_worker")
    assert answer["first"] == 200, answer
    assert answer["full"] == 503, answer  # Stripe retries it
    assert answer["retried"] == 200, answer  # once there is room, the retry is applied
    assert answer["after_restart"] == 200, answer
    assert answer["unsigned"] == 400, answer
    assert answer["usdc"] == 20_000_000, answer  # two sessions of $10, each credited once

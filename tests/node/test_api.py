"""Goal: every endpoint of the node answers what the CLI's JSON says, and two wallets trade over
HTTP to exact balances that survive a restart. Method: the app in-process (TestClient, which
runs its lifespan) over a real data directory; real Ed25519 keys sign every command."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tachyon.cli.main import cli
from tachyon.dex import AccountId, Side, TokenId
from tachyon.errors import InvalidInput
from tachyon.exchange.auth import address_of, sign
from tachyon.exchange.commands import (
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    SetFees,
    SignedCommand,
    Withdraw,
    encode_command,
)
from tachyon.node import create_app, schemas
from tachyon.node.gateway import authenticate_read, decode_base64
from tachyon.storage import EmbeddedExchange
from tests.node.support import MARKET, USDC, Trader, envelope

COUNT = 40


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "exchange"


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(data_dir)) as client:
        yield client


def _trade(alice: Trader, bob: Trader) -> tuple[dict[str, object], dict[str, object]]:
    """alice bids 10 BASE at 100 USDC; bob sells 4 into it at market."""
    alice.ok(Deposit(alice.address, "USDC", 2_000 * USDC, alice.nonce()))
    bob.ok(Deposit(bob.address, "BASE", 25, bob.nonce()))
    bid = alice.ok(PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 10, nonce=alice.nonce()))
    ask = bob.ok(PlaceMarket(bob.address, MARKET, Side.ASK, 4, nonce=bob.nonce()))
    return bid, ask


def test_server_time_is_the_clock(data_dir: Path) -> None:
    with TestClient(create_app(data_dir, clock=lambda: 1_234_567_890)) as client:
        assert client.get("/v1/time").json() == {"server_time_ns": 1_234_567_890}
    with TestClient(create_app(data_dir)) as client:
        before = time.time_ns()
        server = client.get("/v1/time").json()["server_time_ns"]
        assert before <= server <= time.time_ns()


def test_openapi_describes_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "tachyon node"
    assert set(spec["paths"]) == {
        "/v1/time",
        "/v1/markets",
        "/v1/tokens",
        "/v1/orderbook",
        "/v1/trades",
        "/v1/commands",
        "/v1/account/balances",
        "/v1/account/orders",
        "/v1/account/history",
        "/v1/account/stops",
        "/v1/account/withdrawals",
        "/v1/onramp/checkout",
        "/v1/onramp/stripe/webhook",
    }
    post = spec["paths"]["/v1/commands"]["post"]
    assert {"400", "401", "403", "404", "409", "413"} <= set(post["responses"])
    assert "ErrorBody" in spec["components"]["schemas"]
    answers = post["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    shapes = {answer["$ref"].rsplit("/", 1)[1] for answer in answers}
    admin = {"OperatorSet", "TokenListed", "MarketListed", "FeesSet", "RiskSet", "HaltSet"}
    orders = {"PlacementShape", "StopOrder", "Cancellations", "Balances", "WithdrawalAnswer"}
    assert admin | orders == shapes
    for name in ("AdminAddMarket", "AdminSetRisk", "AdminHaltMarket", "not_operator"):
        assert name in post["description"]


def test_openapi_shows_the_patterns_the_gateway_enforces(client: TestClient) -> None:
    """Every header of a signed read and both fields of a signed command carry the pattern of
    what the gateway accepts; the patterns agree with the gateway on real and broken values."""
    spec = client.get("/openapi.json").json()
    address, timestamp, signature = (
        r"^[0-9a-f]{64}$",
        r"^[0-9]{1,20}$",
        schemas.BASE64_PATTERN,
    )
    paths = ("/v1/account/balances", "/v1/account/orders", "/v1/account/history")
    signed = [(path, "get") for path in (*paths, "/v1/account/stops", "/v1/account/withdrawals")]
    for path, method in [*signed, ("/v1/onramp/checkout", "post")]:
        headers = {
            parameter["name"]: parameter["schema"]
            for parameter in spec["paths"][path][method]["parameters"]
            if parameter["in"] == "header"
        }
        assert {name: (each["type"], each["pattern"]) for name, each in headers.items()} == {
            "X-Tachyon-Address": ("string", address),
            "X-Tachyon-Timestamp": ("string", timestamp),
            "X-Tachyon-Signature": ("string", signature),
        }
    fields = spec["components"]["schemas"]["SignedCommandRequest"]["properties"]
    assert (fields["body"]["pattern"], fields["signature"]["pattern"]) == (signature,) * 2
    key = Ed25519PrivateKey.generate()
    assert re.fullmatch(address, address_of(key))
    for wrong in (address_of(key).upper(), address_of(key)[1:], "0x" + address_of(key)[2:]):
        assert not re.fullmatch(address, wrong)
        with pytest.raises(InvalidInput, match="X-Tachyon-Address must be 64 lowercase hex"):
            authenticate_read(wrong, "1", "", method="GET", path="/", now_ns=1, window_ms=1)
    for size in range(70):
        text = base64.b64encode(bytes(range(size))).decode()
        assert re.fullmatch(signature, text), text
        assert decode_base64(text, "body") == bytes(range(size))
    for wrong in ("YQ", "YQ=", "Y===", "YQ==\n", "a-b_", "YWJj ZA==", "é"):
        assert not re.fullmatch(signature, wrong), wrong
        with pytest.raises(InvalidInput, match="body is not base64"):
            decode_base64(wrong, "body")


def _journal_times(data_dir: Path) -> list[int]:
    """Each journal entry's time, in sequence order."""
    conn = sqlite3.connect(f"file:{data_dir / 'exchange.db'}?mode=ro", uri=True)
    try:
        return [ts for (ts,) in conn.execute("SELECT ts_ns FROM journal ORDER BY seq")]
    finally:
        conn.close()


def test_two_wallets_trade_to_exact_balances(client: TestClient, data_dir: Path) -> None:
    alice, bob = Trader(client), Trader(client)
    bid, ask = _trade(alice, bob)
    _, _, placed, traded = _journal_times(data_dir)  # two deposits, the bid, the ask
    assert bid == {
        "order_id": 1,
        "market": MARKET,
        "status": "new",
        "filled_qty": "0",
        "open_qty": "10",
        "time_ns": placed,
        "trades": [],
    }
    trade = {
        "trade_id": 1,
        "price": "100",
        "qty": "4",
        "maker_order_id": 1,
        "taker_order_id": 2,
        "taker_side": "ask",
        "maker_fee": "0",  # the default market charges no fees
        "taker_fee": "0",
        "time_ns": traded,
    }
    assert ask == {
        "order_id": 2,
        "market": MARKET,
        "status": "filled",
        "filled_qty": "4",
        "open_qty": "0",
        "time_ns": traded,
        "trades": [trade],
    }
    assert alice.balances() == {"BASE": ("4", "0"), "USDC": ("1000", "600")}
    assert bob.balances() == {"BASE": ("21", "0"), "USDC": ("400", "0")}
    assert alice.orders() == [
        {
            "order_id": 1,
            "market": MARKET,
            "side": "bid",
            "price": "100",
            "qty": "10",
            "remaining_qty": "6",
            "filled_qty": "4",
            "status": "partially_filled",
            "time_ns": placed,
        }
    ]
    assert bob.orders() == []
    book = client.get("/v1/orderbook", params={"market": MARKET, "depth": 5}).json()
    assert book == {"market": MARKET, "bids": [{"price": "100", "qty": "6"}], "asks": []}
    assert client.get("/v1/trades").json() == {"market": MARKET, "trades": [trade]}


def test_cancel_and_withdraw_answer_their_shapes(client: TestClient, data_dir: Path) -> None:
    alice, bob = Trader(client), Trader(client)
    _trade(alice, bob)
    cancelled = alice.ok(CancelOrder(alice.address, 1, alice.nonce()))
    assert cancelled == {
        "order_id": 1,
        "market": MARKET,
        "status": "cancelled",
        "filled_qty": "4",
        "open_qty": "0",
        "time_ns": _journal_times(data_dir)[-1],
        "trades": [],
    }
    withdrawn = bob.ok(Withdraw(bob.address, "USDC", 150_500_000, bob.nonce()))
    assert withdrawn == {
        "address": bob.address,
        "balances": [{"token": "USDC", "available": "249.5", "locked": "0"}],
    }
    assert alice.balances() == {"BASE": ("4", "0"), "USDC": ("1600", "0")}
    assert alice.orders() == []


def test_an_accounts_history_is_a_signed_read_by_market_and_limit(data_dir: Path) -> None:
    with EmbeddedExchange.open(data_dir) as host:  # fees in USDC: 0.1% maker, 0.2% taker
        host.submit(SetFees(MARKET, 10, 20))
    with TestClient(create_app(data_dir)) as client:
        alice, bob = Trader(client), Trader(client)
        _trade(alice, bob)
        alice.ok(CancelOrder(alice.address, 1, alice.nonce()))
        _, _, _, placed, traded, cancelled = _journal_times(data_dir)
        answer = alice.read("/v1/account/history")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "orders": [
                {
                    "order_id": 1,
                    "market": MARKET,
                    "side": "bid",
                    "price": "100",
                    "qty": "10",
                    "filled_qty": "4",
                    "status": "cancelled",
                    "reason": "user",
                    "time_ns": placed,
                    "closed_time_ns": cancelled,
                }
            ],
            "fills": [
                {
                    "trade_id": 1,
                    "market": MARKET,
                    "order_id": 1,
                    "side": "bid",
                    "role": "maker",
                    "price": "100",
                    "qty": "4",
                    "fee": "0.4",  # 10 bps of 400 USDC
                    "fee_token": "USDC",
                    "time_ns": traded,
                }
            ],
        }
        taker = bob.read("/v1/account/history", params={"market": MARKET, "limit": 1}).json()
        assert [(row["status"], row["reason"]) for row in taker["orders"]] == [("filled", None)]
        assert [(row["role"], row["fee"]) for row in taker["fills"]] == [("taker", "0.8")]
        assert client.get("/v1/trades").json()["trades"][0]["taker_fee"] == "0.8"
        unknown = alice.read("/v1/account/history", params={"market": "X/Y"})
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "market_not_found")
        for limit in (0, 1001, "x"):
            bad = alice.read("/v1/account/history", params={"limit": limit})
            assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_request")
        unsigned = client.get("/v1/account/history")
        assert unsigned.status_code == 401


def test_an_exchange_that_journaled_nothing_has_an_empty_history(client: TestClient) -> None:
    answer = Trader(client).read("/v1/account/history")  # the read model is written by the
    assert answer.status_code == 200, answer.text  # first commit: none yet, nothing to tell
    assert answer.json() == {"orders": [], "fills": []}


def test_a_node_without_the_read_model_answers_no_times_and_no_history(data_dir: Path) -> None:
    with TestClient(create_app(data_dir, read_model=False)) as client:
        alice, bob = Trader(client), Trader(client)
        bid, _ = _trade(alice, bob)
        assert isinstance(bid["time_ns"], int)  # a command's time comes from its entry
        (trade,) = client.get("/v1/trades").json()["trades"]
        assert (trade["time_ns"], trade["maker_fee"], trade["taker_fee"]) == (None, None, None)
        assert [order["time_ns"] for order in alice.orders()] == [None]
        refused = alice.read("/v1/account/history")
        assert refused.status_code == 503
        assert "read model is behind" in refused.json()["error"]["message"]


def test_a_cancel_finds_an_order_another_process_placed(data_dir: Path) -> None:
    """The sequencer catches up with other processes' entries before a batch's cancels look
    up their orders' markets."""
    with TestClient(create_app(data_dir)) as client:
        alice = Trader(client)
        alice.ok(Deposit(alice.address, "USDC", 100 * USDC, alice.nonce()))
        with EmbeddedExchange.open(data_dir) as other:  # e.g. the CLI, embedded
            bid = PlaceLimit(alice.address, MARKET, Side.BID, 10 * USDC, 2, nonce=alice.nonce())
            body = encode_command(bid)
            placed = other.submit(SignedCommand(body, sign(alice.key, body)))
        order_id = placed.order_id  # type: ignore[union-attr]
        cancelled = alice.ok(CancelOrder(alice.address, order_id, alice.nonce()))
        assert (cancelled["order_id"], cancelled["status"]) == (order_id, "cancelled")
        assert alice.orders() == []


def test_concurrent_requests_share_commits_and_each_gets_its_own_answer(data_dir: Path) -> None:
    app = create_app(data_dir, batch_wait_ms=50.0)
    keys = [Ed25519PrivateKey.generate() for _ in range(COUNT)]
    nonce = time.time_ns()
    requests = [
        envelope(key, encode_command(Deposit(address_of(key), "BASE", n + 1, nonce + n)))
        for n, key in enumerate(keys)
    ]

    async def run() -> tuple[list[Any], int]:
        async with app.router.lifespan_context(app):
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://node") as http:
                answers = await asyncio.gather(
                    *(http.post("/v1/commands", json=request) for request in requests)
                )
            batches: int = app.state.sequencer.batches
        return [answer.json() for answer in answers], batches

    answers, batches = asyncio.run(run())
    assert batches < COUNT  # group commit: requests shared journal commits
    for n, (key, answer) in enumerate(zip(keys, answers, strict=True)):
        assert answer == {
            "address": address_of(key),
            "balances": [{"token": "BASE", "available": str(n + 1), "locked": "0"}],
        }
    with TestClient(create_app(data_dir)) as client:
        for n, key in enumerate(keys):
            assert Trader(client, key).balances()["BASE"] == (str(n + 1), "0")


def test_answers_have_their_documented_shapes(client: TestClient) -> None:
    alice, bob = Trader(client), Trader(client)
    bid, ask = _trade(alice, bob)
    for answer in (bid, ask):
        schemas.PlacementShape.model_validate(answer)
    schemas.Balances.model_validate(alice.read("/v1/account/balances").json())
    schemas.OpenOrders.model_validate(alice.read("/v1/account/orders").json())
    schemas.Markets.model_validate(client.get("/v1/markets").json())
    schemas.Book.model_validate(client.get("/v1/orderbook").json())
    schemas.Trades.model_validate(client.get("/v1/trades").json())
    schemas.ServerTime.model_validate(client.get("/v1/time").json())


def test_public_reads_match_the_cli_json(data_dir: Path) -> None:
    with TestClient(create_app(data_dir)) as client:
        alice, bob = Trader(client), Trader(client)
        _trade(alice, bob)
        answers = {
            "markets": client.get("/v1/markets").json(),
            "orderbook": client.get("/v1/orderbook", params={"depth": 3}).json(),
            "trades": client.get("/v1/trades", params={"limit": 7}).json(),
        }
    # The CLI reads the directory the node has closed.
    for command, extra in (
        ("markets", []),
        ("orderbook", ["--depth", "3"]),
        ("trades", ["--limit", "7"]),
    ):
        result = CliRunner().invoke(
            cli, ["--format", "json", "dex", command, "--data-dir", str(data_dir), *extra]
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == answers[command], command


def test_shutdown_snapshots_and_a_restart_recovers_everything(data_dir: Path) -> None:
    with TestClient(create_app(data_dir)) as client:
        alice, bob = Trader(client), Trader(client)
        _trade(alice, bob)
        expected = (alice.balances(), bob.balances(), alice.orders())
    with EmbeddedExchange.open(data_dir) as host:
        assert host.recovered.snapshot_seq == host.seq  # the clean shutdown's snapshot
        assert host.recovered.replayed == 0
        assert host.balances(AccountId(alice.address))[TokenId("BASE")].available == 4
    with TestClient(create_app(data_dir)) as client:
        alice.client = bob.client = client
        assert (alice.balances(), bob.balances(), alice.orders()) == expected

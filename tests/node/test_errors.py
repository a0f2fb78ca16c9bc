"""Goal: every way a request can be wrong is refused in the one error schema, with its 4xx
status and stable code, and changes nothing. Method: a funded two-account exchange in-process;
each bad request is sent and the whole observable state compared before and after."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from tachyon.client.signing import read_message
from tachyon.dex import Side
from tachyon.exchange.auth import sign
from tachyon.exchange.commands import (
    AddMarket,
    AnyCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    Withdraw,
    encode_command,
)
from tachyon.node import create_app
from tachyon.node.errors import REQUEST_BYTES_MAX, STATUS_BY_CODE
from tests.node.support import MARKET, USDC, Trader, assert_error, b64, envelope, state

SECOND_NS = 1_000_000_000


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "exchange", recv_window_ms=1_000)) as client:
        yield client


@pytest.fixture
def traders(client: TestClient) -> tuple[Trader, Trader]:
    """alice has 2,000 USDC and a bid for 10 BASE at 100 resting; bob has 25 BASE."""
    alice, bob = Trader(client), Trader(client)
    alice.ok(Deposit(alice.address, "USDC", 2_000 * USDC, alice.nonce()))
    bob.ok(Deposit(bob.address, "BASE", 25, bob.nonce()))
    alice.ok(PlaceLimit(alice.address, MARKET, Side.BID, 100 * USDC, 10, nonce=alice.nonce()))
    return alice, bob


def _refused(
    client: TestClient,
    traders: tuple[Trader, ...],
    send: Callable[[], Response],
    status: int,
    code: str,
) -> str:
    before = state(client, *traders)
    message = assert_error(send(), status, code)
    assert state(client, *traders) == before
    return message


def _bid(trader: Trader, **changes: Any) -> PlaceLimit:
    fields: dict[str, Any] = {
        "account": trader.address,
        "market": MARKET,
        "side": Side.BID,
        "price": 90 * USDC,
        "qty": 1,
        "nonce": trader.nonce(),
    }
    fields.update(changes)
    return PlaceLimit(**fields)


def _post(client: TestClient, json: object) -> Callable[[], Response]:
    return lambda: client.post("/v1/commands", json=json)


def test_malformed_base64_is_invalid_input(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, _ = traders
    good = envelope(alice.key, encode_command(_bid(alice)))
    for bad in ({**good, "body": "not base64!"}, {**good, "signature": "%%%"}):
        message = _refused(client, traders, _post(client, bad), 400, "invalid_input")
        assert "base64" in message


def test_non_canonical_and_garbage_bytes_are_refused(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, _ = traders
    body = encode_command(_bid(alice))
    minimal = b"\xce" + (90 * USDC).to_bytes(4, "big")  # msgpack uint32: the canonical price
    assert body.count(minimal) == 1
    padded = body.replace(minimal, b"\xcf" + (90 * USDC).to_bytes(8, "big"))  # uint64: not
    message = _refused(
        client, traders, _post(client, envelope(alice.key, padded)), 400, "invalid_input"
    )
    assert "canonical" in message
    for junk in (body + b"\x00", b"\x93\x01\x02\x03", b""):
        _refused(client, traders, _post(client, envelope(alice.key, junk)), 400, "invalid_input")


def test_commands_that_are_not_an_address_s_own_are_refused(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, _ = traders
    for command in (
        AddMarket("NEW", "USDC"),
        Deposit("alice", "USDC", 5, alice.nonce()),
        _bid(alice, account=alice.address.upper()),
    ):
        body = encode_command(command)
        _refused(client, traders, _post(client, envelope(alice.key, body)), 400, "invalid_input")


def test_wrong_key_and_altered_body_are_bad_signatures(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, bob = traders
    body = encode_command(_bid(alice))
    by_bob = envelope(bob.key, body)
    _refused(client, traders, _post(client, by_bob), 401, "bad_signature")
    altered = encode_command(_bid(alice, qty=2, nonce=alice.last_nonce))
    moved = {"body": b64(altered), "signature": b64(sign(alice.key, body))}
    _refused(client, traders, _post(client, moved), 401, "bad_signature")
    short = {"body": b64(body), "signature": b64(sign(alice.key, body)[:63])}
    _refused(client, traders, _post(client, short), 401, "bad_signature")


def test_nonce_outside_the_receive_window_is_refused(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, _ = traders
    for skew_ns in (-2 * SECOND_NS, 2 * SECOND_NS):
        command = _bid(alice, nonce=time.time_ns() + skew_ns)
        message = _refused(
            client, traders, partial(alice.post, command), 400, "outside_receive_window"
        )
        assert "1000 ms" in message


def test_a_replayed_command_is_a_stale_nonce(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, _ = traders
    request = envelope(alice.key, encode_command(_bid(alice)))
    assert client.post("/v1/commands", json=request).status_code == 200
    _refused(client, traders, _post(client, request), 409, "stale_nonce")
    # An older nonce never used is fresh (another process of the wallet), once.
    older = envelope(alice.key, encode_command(_bid(alice, nonce=alice.last_nonce - 1)))
    assert client.post("/v1/commands", json=older).status_code == 200
    _refused(client, traders, _post(client, older), 409, "stale_nonce")


def test_cancelling_another_account_s_order_is_forbidden(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, bob = traders
    stolen = CancelOrder(bob.address, 1, bob.nonce())
    _refused(client, traders, lambda: bob.post(stolen), 403, "order_not_owned")
    missing = CancelOrder(alice.address, 999, alice.nonce())
    _refused(client, traders, lambda: alice.post(missing), 404, "order_not_found")
    assert [order["order_id"] for order in alice.orders()] == [1]


def test_refusals_of_the_exchange_map_to_their_status(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, bob = traders
    cases: list[tuple[AnyCommand, int, str]] = [
        (_bid(alice, market="NOPE/USDC"), 404, "market_not_found"),
        (Deposit(alice.address, "NOPE", 5, alice.nonce()), 404, "token_not_found"),
        (_bid(alice, qty=10**6), 409, "insufficient_funds"),
        (Withdraw(alice.address, "BASE", 1, alice.nonce()), 409, "insufficient_funds"),
        (Deposit(alice.address, "BASE", 2**64 - 1, alice.nonce()), 409, "supply_exceeded"),
        (_bid(alice, qty=0), 400, "invalid_amount"),
    ]
    for command, status, code in cases:
        _refused(client, traders, partial(alice.post, command), status, code)
    sell_too_much = PlaceMarket(bob.address, MARKET, Side.ASK, 26, nonce=bob.nonce())
    _refused(client, traders, lambda: bob.post(sell_too_much), 409, "insufficient_funds")
    taker = _bid(bob, side=Side.ASK, post_only=True)  # alice bids 100: an ask at 90 would take
    _refused(client, traders, lambda: bob.post(taker), 409, "post_only_would_take")


def test_the_prod_profile_refuses_deposits(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path, profile="prod")) as client:
        alice = Trader(client)
        deposit = Deposit(alice.address, "USDC", 5 * USDC, alice.nonce())
        message = _refused(client, (alice,), lambda: alice.post(deposit), 403, "deposits_disabled")
        assert "prod" in message
        assert alice.balances() == {"BASE": ("0", "0"), "USDC": ("0", "0")}


def test_oversized_bodies_are_refused_before_parsing(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    big = b"{" + b" " * REQUEST_BYTES_MAX + b"}"
    declared = lambda: client.post("/v1/commands", content=big)  # noqa: E731
    _refused(client, traders, declared, 413, "request_too_large")
    streamed = lambda: client.post("/v1/commands", content=iter([big[:9000], big[9000:]]))  # noqa: E731
    _refused(client, traders, streamed, 413, "request_too_large")
    long_field = {"body": "A" * 8000, "signature": "A"}
    _refused(client, traders, _post(client, long_field), 400, "invalid_request")


def test_malformed_requests_are_invalid_requests(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, _ = traders
    good = envelope(alice.key, encode_command(_bid(alice)))
    sends = [
        lambda: client.post("/v1/commands", content=b"{not json"),
        lambda: client.post(  # bytes no JSON parser takes
            "/v1/commands", content=b"\xff", headers={"Content-Type": "application/json"}
        ),
        _post(client, {"body": good["body"]}),
        _post(client, {**good, "extra": 1}),
        _post(client, [good]),
        _post(client, {"body": 5, "signature": None}),
        lambda: client.get("/v1/orderbook", params={"depth": 0}),
        lambda: client.get("/v1/orderbook", params={"depth": "ten"}),
        lambda: client.get("/v1/orderbook", params={"depth": 1001}),
        lambda: client.get("/v1/trades", params={"limit": -1}),
        lambda: client.get("/v1/trades", params={"market": "X" * 65}),
        lambda: client.get("/v1/trades", params={"market": ""}),
    ]
    for send in sends:
        _refused(client, traders, send, 400, "invalid_request")


def test_unknown_paths_markets_and_methods(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    _refused(client, traders, lambda: client.get("/v1/nothing"), 404, "not_found")
    _refused(client, traders, lambda: client.delete("/v1/markets"), 405, "method_not_allowed")
    for path in ("/v1/orderbook", "/v1/trades"):
        send = lambda p=path: client.get(p, params={"market": "NOPE/USDC"})  # noqa: E731
        _refused(client, traders, send, 404, "market_not_found")


def test_signed_reads_need_the_account_s_own_fresh_signature(
    client: TestClient, traders: tuple[Trader, Trader]
) -> None:
    alice, bob = traders
    path = "/v1/account/balances"
    now = time.time_ns()
    forged = {**alice.headers("GET", path, now), "X-Tachyon-Address": bob.address}
    other_path = alice.headers("GET", "/v1/account/orders", now)
    cases: list[tuple[dict[str, str], int, str]] = [
        ({}, 401, "unauthorized"),
        ({"X-Tachyon-Address": alice.address}, 401, "unauthorized"),
        (forged, 401, "bad_signature"),
        (other_path, 401, "bad_signature"),
        (alice.headers("GET", path, now - 2 * SECOND_NS), 400, "outside_receive_window"),
        ({**alice.headers("GET", path, now), "X-Tachyon-Address": "ab"}, 400, "invalid_input"),
        ({**alice.headers("GET", path, now), "X-Tachyon-Timestamp": "-5"}, 400, "invalid_input"),
        ({**alice.headers("GET", path, now), "X-Tachyon-Signature": "?"}, 400, "invalid_input"),
    ]
    for headers, status, code in cases:
        _refused(client, traders, partial(client.get, path, headers=headers), status, code)
    signature = b64(alice.key.sign(read_message("GET", path, str(now))))
    assert alice.headers("GET", path, now)["X-Tachyon-Signature"] == signature


def test_every_refusal_code_has_a_client_status() -> None:
    client_codes = {code: status for code, status in STATUS_BY_CODE.items() if status < 500}
    assert set(client_codes.values()) <= {400, 401, 403, 404, 409, 413}
    assert STATUS_BY_CODE["storage_error"] == 503

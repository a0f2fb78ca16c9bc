"""Goal: no request, however malformed or hostile, makes the node answer 5xx; every answer has
the shape its OpenAPI description documents, and every refusal is the one error schema
{"error": {"code": str, "message": str}}.
Method: schemathesis generates requests for every operation of the node's own description (its
examples, coverage and fuzzing phases, valid and invalid data, unsupported methods) and sends
them in-process to the ASGI app, its lifespan running, over a fresh data directory. Random
headers rarely make a valid signature, so a Hypothesis property signs commands built from
`tachyon.exchange.commands` itself: extreme integers, odd markets and tokens, foreign accounts,
nonces around the receive window, on a funded book. They pass the gateway and reach the
exchange's refusals; every answer, and the signed reads after them, is checked by the same
schemathesis checks. Derandomized, fixed example counts: about 20 s on two cores."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tachyon.dex import Side
from tachyon.dex.model import SelfTradePrevention, TimeInForce
from tachyon.exchange.commands import (
    AccountCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    Withdraw,
    encode_command,
)
from tachyon.node import create_app
from tachyon.node.app import RECV_WINDOW_MS_DEFAULT
from tests.node.support import MARKET, USDC, Trader, envelope

FUZZ_EXAMPLES: Final = 80  # per operation, fuzzing phase (examples and coverage come on top)
SIGNED_EXAMPLES: Final = 100
STEPS_MAX: Final = 16
WINDOW_NS: Final = RECV_WINDOW_MS_DEFAULT * 1_000_000

# Building the description opens nothing: the data directory is touched by the lifespan only.
DESCRIPTION: Final = create_app(Path("description-only")).openapi()
schema = schemathesis.openapi.from_dict(DESCRIPTION)
COMMANDS: Final = schema["/v1/commands"]["POST"]
READS: Final = {
    path: schema[path]["GET"]
    for path in (
        "/v1/account/balances",
        "/v1/account/orders",
        "/v1/account/history",
        "/v1/orderbook",
        "/v1/trades",
    )
}
OPERATIONS: Final = {
    "GET /v1/time",
    "GET /v1/markets",
    "GET /v1/orderbook",
    "GET /v1/trades",
    "POST /v1/commands",
    "GET /v1/account/balances",
    "GET /v1/account/orders",
    "GET /v1/account/history",
}
CHECKS: Final = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]

OperationTest = Callable[[schemathesis.Case[Any], FastAPI], None]
each_operation: Callable[[OperationTest], OperationTest] = schema.parametrize()


def assert_answer_shape(status: int, headers: Mapping[str, str], content: bytes) -> str:
    """What the answer says: "ok" for a 2xx, else its code, after checking that a refusal is
    JSON in the one error schema with a non-empty code and message."""
    assert status < 500, (status, content)  # `not_a_server_error` too; plain here
    if status < 300:
        return "ok"
    assert headers.get("content-type", "").startswith("application/json"), (status, headers)
    body = json.loads(content)
    assert isinstance(body, dict), (status, body)
    assert set(body) == {"error"}, (status, body)
    error = body["error"]
    assert isinstance(error, dict), (status, body)
    assert set(error) == {"code", "message"}, (status, body)
    code, message = error["code"], error["message"]
    assert isinstance(code, str), (status, body)
    assert code, (status, body)
    assert isinstance(message, str), (status, body)
    assert message, (status, body)
    return code


@pytest.fixture
def node(tmp_path: Path) -> Iterator[FastAPI]:
    """A node over a fresh directory; schemathesis starts its lifespan at the first request."""
    yield create_app(tmp_path / "exchange")
    # schemathesis keeps an ASGI app's lifespan running between requests and its pytest plugin
    # ends it after the test; end it here too, so the exchange is closed before tmp_path goes.
    asgi.shutdown_lifespans()


def test_the_fuzzed_description_is_the_served_one_with_every_operation(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "exchange")) as client:
        assert client.get("/openapi.json").json() == DESCRIPTION
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), results  # schemathesis can generate for each
    # These at least, the signed ones too; an operation added later is fuzzed without a word.
    assert {operation.label for operation in operations} >= OPERATIONS


@each_operation
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    # One node serves every example of an operation, as a server serves many requests.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_operation_answers_as_described(case: schemathesis.Case[Any], node: FastAPI) -> None:
    response = case.call(app=node)
    case.validate_response(response, checks=CHECKS)
    headers = {name.lower(): values[0] for name, values in response.headers.items()}
    said = assert_answer_shape(response.status_code, headers, response.content)
    event(f"{response.status_code} {said}")


# --- validly signed commands with fuzzed fields --------------------------------------------

TRADERS: Final = 3
KEYS: Final = [Ed25519PrivateKey.from_private_bytes(bytes([n + 1]) * 32) for n in range(TRADERS)]
EXTREMES: Final = (0, 1, -1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63))
ODD_MARKETS: Final = ("USDC/BASE", "BASE/BASE", "NOPE/USDC", "BASE", "", "base/usdc", "/")
ODD_TOKENS: Final = ("NOPE", "", "usdc", "BASE/USDC", "tachyon:fees")
ODD_ACCOUNTS: Final = ("other", "nobody", "upper", "fees", "empty")


@dataclass(frozen=True)
class Step:
    """One command signed by trader `signer`. Its account is the signer's own, another
    trader's, an address nobody holds or not an address (`account`); its nonce is `nonce[1]`
    ns past the signer's last done one if `nonce[0]` is "last", else past its next one."""

    signer: int
    account: str
    nonce: tuple[str, int]
    command: AccountCommand  # its account and nonce are filled in when it is sent


def mostly(typical: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`typical` four times in five, else `odd`: most steps pass most checks and go deep.
    (`one_of` would pick each branch about as often, however many times one is given.)"""
    return st.sampled_from((True,) * 4 + (False,)).flatmap(lambda usual: typical if usual else odd)


def integers(typical: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    """`typical` values mostly; else extremes and anything msgpack encodes (64-bit)."""
    return mostly(typical, st.sampled_from(EXTREMES) | st.integers(-(2**63), 2**64 - 1))


def commands() -> st.SearchStrategy[AccountCommand]:
    markets = mostly(st.just(MARKET), st.sampled_from(ODD_MARKETS) | st.text(max_size=80))
    tokens = mostly(st.sampled_from(("BASE", "USDC")), st.sampled_from(ODD_TOKENS))
    prices = integers(st.integers(90, 110).map(lambda n: n * USDC))
    qtys = integers(st.integers(1, 50))
    amounts = integers(st.integers(1, 10**9))
    sides = st.sampled_from(Side)
    stps = st.sampled_from(SelfTradePrevention)
    return st.one_of(
        st.builds(Deposit, st.just(""), tokens, amounts),
        st.builds(Withdraw, st.just(""), tokens, amounts),
        st.builds(
            PlaceLimit,
            st.just(""),
            markets,
            sides,
            prices,
            qtys,
            mostly(st.just(TimeInForce.GTC), st.sampled_from(TimeInForce)),
            mostly(st.just(False), st.just(True)),
            stps,
        ),
        st.builds(
            PlaceMarket, st.just(""), markets, sides, st.none() | qtys, st.none() | amounts, stps
        ),
        st.builds(CancelOrder, st.just(""), integers(st.integers(1, 4))),
    )


NONCE_OFFSETS: Final = {  # ns added to the signer's next nonce, or to its last one
    "next": st.just(0),
    "last": st.integers(-2, 2),  # replays and stale nonces
    "near": st.integers(-(10**9), 10**9),  # within the receive window
    "far": st.integers(-20 * WINDOW_NS, 20 * WINDOW_NS),  # mostly outside it
    "extreme": st.sampled_from((-(2**60), 2**62)),
}
NONCES: Final = ("next",) * 10 + ("last",) * 3 + ("near", "far", "extreme")


def steps() -> st.SearchStrategy[Step]:
    nonces = st.sampled_from(NONCES).flatmap(
        lambda kind: st.tuples(st.just(kind), NONCE_OFFSETS[kind])
    )
    accounts = mostly(st.just("own"), st.sampled_from(ODD_ACCOUNTS))
    return st.builds(Step, st.integers(0, TRADERS - 1), accounts, nonces, commands())


def account_of(step: Step, traders: list[Trader]) -> str:
    signer = traders[step.signer].address
    match step.account:
        case "own":
            return signer
        case "other":
            return traders[(step.signer + 1) % TRADERS].address
        case "nobody":
            return "ab" * 32
        case "upper":
            return signer.upper()
        case "fees":
            return "tachyon:fees"
    return ""


def send(step: Step, traders: list[Trader]) -> str:
    """Sign and post the step's command; check the answer; what it said."""
    trader = traders[step.signer]
    last = trader.last_nonce  # the last the exchange took: set below, not by `trader.nonce()`
    nonce = step.nonce[1] + (last if step.nonce[0] == "last" else max(time.time_ns(), last + 1))
    command = msgspec.structs.replace(step.command, account=account_of(step, traders), nonce=nonce)
    request: dict[str, Any] = envelope(trader.key, encode_command(command))
    response = trader.client.post("/v1/commands", json=request)
    COMMANDS.Case(body=request, media_type="application/json").validate_response(
        response, checks=CHECKS
    )
    said = assert_answer_shape(response.status_code, response.headers, response.content)
    event(f"{type(command).__name__}: {response.status_code} {said}")
    if said == "ok":
        trader.last_nonce = nonce
    return said


def read_everything(client: TestClient, traders: list[Trader]) -> None:
    """Every read answers 200 in its documented shape after whatever the steps did."""
    for trader in traders:
        for path in ("/v1/account/balances", "/v1/account/orders", "/v1/account/history"):
            headers = trader.headers("GET", path, time.time_ns())
            response = client.get(path, headers=headers)
            READS[path].Case(headers=headers).validate_response(response, checks=CHECKS)
            assert response.status_code == 200, response.text
    for path in ("/v1/orderbook", "/v1/trades"):
        query: dict[str, str | int] = {
            "market": MARKET,
            ("depth" if path == "/v1/orderbook" else "limit"): 1_000,
        }
        response = client.get(path, params=query)
        READS[path].Case(query=query).validate_response(response, checks=CHECKS)
        assert response.status_code == 200, response.text


def fund(data_dir: Path) -> None:
    """An exchange whose traders hold plenty of both tokens and have orders resting on both
    sides (ids 1 to 3), so that orders rest, match and are cancelled, by others too."""
    with TestClient(create_app(data_dir, batch_wait_ms=0.0, rate_limit=None)) as client:
        traders = [Trader(client, key) for key in KEYS]
        for trader in traders:
            trader.ok(Deposit(trader.address, "BASE", 10**6, trader.nonce()))
            trader.ok(Deposit(trader.address, "USDC", 10**6 * USDC, trader.nonce()))
        for trader, side, price in zip(
            traders, (Side.BID, Side.ASK, Side.BID), (95, 105, 90), strict=True
        ):
            trader.ok(
                PlaceLimit(trader.address, MARKET, side, price * USDC, 10, nonce=trader.nonce())
            )


def test_signed_commands_with_fuzzed_fields_are_done_or_refused_never_5xx(tmp_path: Path) -> None:
    funded = tmp_path / "funded"
    fund(funded)
    said: Counter[str] = Counter()

    @settings(max_examples=SIGNED_EXAMPLES, deadline=None, derandomize=True)
    @given(st.lists(steps(), min_size=1, max_size=STEPS_MAX))
    def session(plan: list[Step]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "exchange"
            shutil.copytree(funded, data_dir)  # a fresh copy: each session starts the same
            # No rate limit: every refusal is the gateway's or the exchange's judgement.
            with TestClient(create_app(data_dir, batch_wait_ms=0.0, rate_limit=None)) as client:
                traders = [Trader(client, key) for key in KEYS]
                said.update(send(step, traders) for step in plan)
                read_everything(client, traders)

    session()
    # The deep paths were reached: done, and refused by the gateway and by the exchange.
    assert {"ok", "bad_signature", "outside_receive_window", "stale_nonce"} <= set(said), said
    deep = {"insufficient_funds", "order_not_owned", "market_not_found", "token_not_found"}
    assert deep <= set(said), said

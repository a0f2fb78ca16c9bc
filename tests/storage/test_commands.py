"""Goal: commands have exactly one byte string each, and Exchange.apply sequences them safely.
Method: round trips of every command type, hand-built malformed and non-canonical msgpack, and
nonce and sequence rules checked against state_bytes before and after each refusal."""

from __future__ import annotations

import msgspec
import pytest

from tachyon.dex.ids import AccountId, MarketId, OrderId
from tachyon.dex.model import SelfTradePrevention, Side, TimeInForce
from tachyon.errors import (
    InsufficientFunds,
    InvalidInput,
    OrderNotOwned,
    OutsideReceiveWindow,
    StaleNonce,
)
from tachyon.exchange.commands import (
    COMMAND_BYTES_MAX,
    AddMarket,
    AnyCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    RegisterToken,
    SetFees,
    SetReceiveWindow,
    Withdraw,
    decode_command,
    encode_command,
)
from tachyon.exchange.nonces import (
    NONCES_PER_ACCOUNT_MAX,
    RECEIVE_WINDOW_MS_DEFAULT,
    RECEIVE_WINDOW_MS_MAX,
)
from tachyon.exchange.service import Placement
from tachyon.exchange.state_machine import Exchange
from tachyon.ledger.ledger import BalanceRecord
from tests.exchange.helpers import ALICE, BASE, BOB, DEFAULT, ETH, USDC, apply_command
from tests.storage.helpers import ADD_ETH, ETH_MARKET

EXAMPLES: list[AnyCommand] = [
    RegisterToken("SOL", 2),
    RegisterToken("GOLD", 0),
    ADD_ETH,
    AddMarket("XAU", "USDC"),
    AddMarket("SOL", "USDC", 20, 5, 10, 2, 6, 10, 20, "SOL", "fees2"),
    SetFees(ETH_MARKET, 5, 7),
    SetFees(ETH_MARKET, 0, 10_000, ETH, "fees2"),
    Deposit(ALICE, USDC, 1),
    Deposit(ALICE, USDC, 2**64 - 1, nonce=2**64 - 1),
    Withdraw(BOB, BASE, 300, nonce=9),
    PlaceLimit(ALICE, DEFAULT, Side.BID, 100, 10),
    PlaceLimit(
        BOB,
        ETH_MARKET,
        Side.ASK,
        40_000,
        15,
        TimeInForce.IOC,
        False,
        SelfTradePrevention.DECREMENT_AND_CANCEL,
        3,
    ),
    PlaceLimit(ALICE, DEFAULT, Side.ASK, 7, 1, TimeInForce.GTC, True),
    PlaceLimit(ALICE, DEFAULT, Side.BID, 7, 1, TimeInForce.FOK, stp=SelfTradePrevention.ALLOW),
    PlaceMarket(ALICE, DEFAULT, Side.BID, 10),
    PlaceMarket(ALICE, ETH_MARKET, Side.BID, None, 123_456, SelfTradePrevention.CANCEL_BOTH, 4),
    PlaceMarket(BOB, DEFAULT, Side.ASK, 3, stp=SelfTradePrevention.CANCEL_TAKER),
    CancelOrder(ALICE, 1),
    CancelOrder(BOB, 2**63, nonce=1),
    SetReceiveWindow(5_000),
]
TAGS = {
    RegisterToken: "register_token",
    AddMarket: "add_market",
    SetFees: "set_fees",
    Deposit: "deposit",
    Withdraw: "withdraw",
    PlaceLimit: "place_limit",
    PlaceMarket: "place_market",
    CancelOrder: "cancel_order",
    SetReceiveWindow: "set_receive_window",
}


def _fixstr(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 32
    return bytes([0xA0 | len(data)]) + data


# -- canonical bytes -----------------------------------------------------------------------


def test_the_examples_cover_every_command_type() -> None:
    assert {type(command) for command in EXAMPLES} == set(TAGS)


@pytest.mark.parametrize("command", EXAMPLES, ids=repr)
def test_every_command_round_trips_to_an_equal_value(command: AnyCommand) -> None:
    data = encode_command(command)
    decoded = decode_command(data)
    assert decoded == command
    assert type(decoded) is type(command)
    assert encode_command(decoded) == data
    assert len(data) <= COMMAND_BYTES_MAX
    raw = msgspec.msgpack.decode(data)  # an array: the tag first, then every field in order
    assert raw[0] == TAGS[type(command)]
    assert len(raw) == 1 + len(command.__struct_fields__)


def test_the_encoding_is_the_documented_byte_string() -> None:
    data = encode_command(Deposit(ALICE, USDC, 200))
    assert data == (
        b"\x95" + _fixstr("deposit") + _fixstr("alice") + _fixstr("USDC") + b"\xcc\xc8" + b"\x00"
    )


def test_different_commands_have_different_bytes() -> None:
    encodings = {encode_command(command) for command in EXAMPLES}
    assert len(encodings) == len(EXAMPLES)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"not a command",
        msgspec.msgpack.encode({"deposit": 1}),
        msgspec.msgpack.encode(["deposit", "alice", "USDC", "5", 0]),
        msgspec.msgpack.encode(["no_such_command", "alice"]),
        msgspec.msgpack.encode(["deposit", "alice", "USDC", 5, 0, 1]),
        msgspec.msgpack.encode(["place_limit", "alice", "BASE/USDC", "sideways", 1, 1]),
        msgspec.msgpack.encode(["deposit", "alice", "USDC", True, 0]),
    ],
    ids=[
        "empty",
        "reserved-opcode",
        "text",
        "map",
        "string-amount",
        "unknown-tag",
        "extra-field",
        "bad-enum",
        "bool-amount",
    ],
)
def test_decode_refuses_garbage(data: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"not a command"):
        decode_command(data)


@pytest.mark.parametrize("command", EXAMPLES, ids=repr)
def test_decode_refuses_truncated_bytes(command: AnyCommand) -> None:
    data = encode_command(command)
    for length in range(len(data)):
        with pytest.raises(InvalidInput):
            decode_command(data[:length])


@pytest.mark.parametrize("command", EXAMPLES, ids=repr)
@pytest.mark.parametrize("extra", [b"\x00", b"\xc0", b"\x90"], ids=["zero", "nil", "array"])
def test_decode_refuses_an_extra_trailing_byte(command: AnyCommand, extra: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"not a command"):
        decode_command(encode_command(command) + extra)


def test_decode_refuses_more_than_command_bytes_max_before_decoding() -> None:
    with pytest.raises(InvalidInput, match=rf"at most {COMMAND_BYTES_MAX} bytes, not 4097"):
        decode_command(bytes(COMMAND_BYTES_MAX + 1))


def test_decode_accepts_a_command_of_exactly_command_bytes_max() -> None:
    empty = len(msgspec.msgpack.encode(Deposit(AccountId(""), USDC, 1)))
    for pad in (3, 2):  # a str8 header is 2 bytes, str16 is 3: find the padding that fits
        name = "a" * (COMMAND_BYTES_MAX - empty - pad)
        data = msgspec.msgpack.encode(Deposit(AccountId(name), USDC, 1))
        if len(data) == COMMAND_BYTES_MAX:
            break
    assert len(data) == COMMAND_BYTES_MAX
    assert decode_command(data) == Deposit(AccountId(name), USDC, 1)
    longer = msgspec.msgpack.encode(Deposit(AccountId(name + "a"), USDC, 1))
    with pytest.raises(InvalidInput, match=r"at most 4096 bytes, not 4097"):
        decode_command(longer)


def test_encode_refuses_a_command_longer_than_command_bytes_max() -> None:
    """COMMAND_BYTES_MAX says "no command encodes longer": a command that encodes longer must
    be refused when it is encoded, or the host journals bytes that decode_command refuses."""
    command = Deposit(AccountId("a" * COMMAND_BYTES_MAX), USDC, 1)
    with pytest.raises(InvalidInput):
        encode_command(command)


_CANONICAL = (
    b"\x95" + _fixstr("deposit") + _fixstr("alice") + _fixstr("USDC") + b"\xcc\xc8" + b"\x00"
)
NON_CANONICAL = {
    "amount-as-uint16": b"\x95"
    + _fixstr("deposit")
    + _fixstr("alice")
    + _fixstr("USDC")
    + b"\xcd\x00\xc8"
    + b"\x00",
    "amount-as-uint64": b"\x95"
    + _fixstr("deposit")
    + _fixstr("alice")
    + _fixstr("USDC")
    + b"\xcf\x00\x00\x00\x00\x00\x00\x00\xc8"
    + b"\x00",
    "nonce-as-uint8": b"\x95"
    + _fixstr("deposit")
    + _fixstr("alice")
    + _fixstr("USDC")
    + b"\xcc\xc8"
    + b"\xcc\x00",
    "account-as-str8": b"\x95"
    + _fixstr("deposit")
    + b"\xd9\x05alice"
    + _fixstr("USDC")
    + b"\xcc\xc8"
    + b"\x00",
    "array16-header": b"\xdc\x00\x05"
    + _fixstr("deposit")
    + _fixstr("alice")
    + _fixstr("USDC")
    + b"\xcc\xc8"
    + b"\x00",
    "default-nonce-omitted": b"\x94"
    + _fixstr("deposit")
    + _fixstr("alice")
    + _fixstr("USDC")
    + b"\xcc\xc8",
}


@pytest.mark.parametrize("name", sorted(NON_CANONICAL))
def test_decode_refuses_a_non_canonical_encoding_of_a_valid_command(name: str) -> None:
    data = NON_CANONICAL[name]
    assert encode_command(Deposit(ALICE, USDC, 200)) == _CANONICAL
    assert data != _CANONICAL
    # The bytes are valid msgpack of an equal value: only their form is wrong.
    plain = msgspec.msgpack.decode(data)
    assert plain == msgspec.msgpack.decode(_CANONICAL) or plain == ["deposit", ALICE, USDC, 200]
    with pytest.raises(InvalidInput, match=r"not in canonical form"):
        decode_command(data)


@pytest.mark.parametrize(
    "command",
    [
        Deposit(ALICE, USDC, 2**70),
        Withdraw(ALICE, USDC, 2**70),
        Deposit(ALICE, USDC, -(2**70)),
        PlaceLimit(ALICE, DEFAULT, Side.BID, 2**70, 1),
        PlaceMarket(ALICE, DEFAULT, Side.BID, None, 2**70),
        CancelOrder(ALICE, OrderId(2**64)),
        Deposit(ALICE, USDC, 1, nonce=2**70),
    ],
    ids=repr,
)
def test_encode_refuses_integers_outside_64_bits(command: AnyCommand) -> None:
    with pytest.raises(InvalidInput, match=r"cannot be encoded"):
        encode_command(command)


# -- Exchange.apply: nonces ----------------------------------------------------------------


def _funded() -> Exchange:
    exchange = Exchange()
    apply_command(exchange, Deposit(ALICE, USDC, 10_000), 1, 100)
    apply_command(exchange, Deposit(BOB, BASE, 50), 2, 200)
    return exchange


def _refused_changes_nothing(
    exchange: Exchange, command: AnyCommand, error: type[Exception]
) -> None:
    before = exchange.state_bytes()
    seq, hash_before = exchange.seq, exchange.state_hash()
    with pytest.raises(error):
        apply_command(exchange, command, seq + 1, exchange.ts_ns + 1)
    assert exchange.seq == seq
    assert exchange.state_hash() == hash_before
    assert exchange.state_bytes() == before
    exchange.check_invariants()


def test_every_kind_of_command_changes_the_state() -> None:
    exchange = Exchange()
    steps: list[AnyCommand] = [
        RegisterToken("SOL", 2),
        AddMarket("XAU", "USDC"),
        SetFees(DEFAULT, 1, 2),
        Deposit(ALICE, USDC, 10_000),
        Deposit(ALICE, BASE, 10),
        Withdraw(ALICE, USDC, 1),
        PlaceLimit(ALICE, DEFAULT, Side.BID, 100, 10),
        CancelOrder(ALICE, 1),
        PlaceMarket(ALICE, DEFAULT, Side.ASK, 1),  # nothing to sell to: it only uses an id
        SetReceiveWindow(30_000),
    ]
    assert {type(command) for command in steps} == set(TAGS)
    for seq, command in enumerate(steps, 1):
        before = exchange.state_bytes()
        apply_command(exchange, command, seq, seq)
        assert exchange.state_bytes() != before, command
    assert exchange.service.balance(ALICE, USDC) == BalanceRecord(9_999, 0)
    assert exchange.service.get_market(MarketId("XAU/USDC")).quote == USDC


def test_nonce_zero_means_no_nonce() -> None:
    exchange = _funded()
    for seq in range(3, 8):
        apply_command(exchange, Deposit(ALICE, USDC, 1), seq, 1_000)
    assert exchange.last_nonce(ALICE) == 0
    assert exchange.service.balance(ALICE, USDC) == BalanceRecord(10_005, 0)
    assert exchange.to_state()["nonces"] == []


@pytest.mark.parametrize(
    ("nonce", "match"),
    [
        (-1, "must not be negative"),
        (-(2**63), "must not be negative"),
        ("7", "not a command"),
        (1.5, "not a command"),
    ],
)
def test_a_nonce_that_is_not_a_non_negative_integer_is_refused(nonce: object, match: str) -> None:
    exchange = _funded()
    command = Deposit(ALICE, USDC, 1, nonce=nonce)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=match):
        apply_command(exchange, command, exchange.seq + 1, exchange.ts_ns + 1)
    _refused_changes_nothing(exchange, command, InvalidInput)
    assert exchange.last_nonce(ALICE) == 0


def test_a_nonce_is_used_once_in_any_order() -> None:
    """Concurrent processes of one wallet: nonces from its clock arrive out of order, and each
    is accepted once; a reused one is refused, whichever command carries it."""
    exchange = _funded()
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=500), 3, 300)
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=450), 4, 400)  # older: still fresh
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=2), 5, 500)
    assert exchange.last_nonce(ALICE) == 500
    for nonce in (500, 450, 2):
        _refused_changes_nothing(exchange, Deposit(ALICE, USDC, 1, nonce=nonce), StaleNonce)
    _refused_changes_nothing(exchange, Withdraw(ALICE, USDC, 1, nonce=450), StaleNonce)
    _refused_changes_nothing(
        exchange, PlaceLimit(ALICE, DEFAULT, Side.BID, 1, 1, nonce=500), StaleNonce
    )
    _refused_changes_nothing(exchange, CancelOrder(ALICE, 1, nonce=2), StaleNonce)
    assert exchange.service.open_orders(ALICE) == []
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=501), 6, 600)
    apply_command(exchange, Deposit(ALICE, USDC, 1), 7, 700)  # nonce 0 still means none
    assert exchange.service.balance(ALICE, USDC) == BalanceRecord(10_005, 0)
    assert exchange.to_state()["nonces"] == [["alice", 0, [2, 450, 500, 501]]]


def test_the_refusals_of_a_nonce_say_nothing_was_changed() -> None:
    exchange = _funded()
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=300), 3, 300)
    with pytest.raises(StaleNonce, match=r"nonce 300 of alice was used already; nothing was"):
        apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=300), 4, 400)
    window_ns = RECEIVE_WINDOW_MS_DEFAULT * 1_000_000
    with pytest.raises(
        OutsideReceiveWindow,
        match=r"is 60000 ms from the command's time 400; the receive window is 60000 ms;"
        r" nothing was changed",
    ):
        apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=window_ns + 401), 4, 400)


def test_a_nonce_outside_the_window_of_the_commands_time_is_refused() -> None:
    """|nonce - ts| <= window: the bound itself is inside, one nanosecond past is not."""
    window_ns = RECEIVE_WINDOW_MS_DEFAULT * 1_000_000
    ts = 10 * window_ns
    exchange = Exchange()
    apply_command(exchange, Deposit(ALICE, USDC, 10), 1, ts)
    for nonce in (ts - window_ns, ts + window_ns + 2, 1):  # judged at ts + 1: one ns out
        _refused_changes_nothing(
            exchange, Deposit(ALICE, USDC, 1, nonce=nonce), OutsideReceiveWindow
        )
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=ts - window_ns), 2, ts)
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=ts + window_ns), 3, ts)
    assert exchange.last_nonce(ALICE) == ts + window_ns


def test_nonces_older_than_the_window_are_dropped_into_the_floor() -> None:
    window_ns = RECEIVE_WINDOW_MS_DEFAULT * 1_000_000
    exchange = _funded()
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=300), 3, 300)
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=301), 4, 301)
    later = 302 + window_ns  # 300 and 301 are older than the window now
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=later), 5, later)
    assert exchange.to_state()["nonces"] == [["alice", 301, [later]]]
    _refused_changes_nothing(exchange, Deposit(ALICE, USDC, 1, nonce=301), OutsideReceiveWindow)
    # Widened, the window reaches back past the floor: what it dropped stays refused.
    apply_command(exchange, SetReceiveWindow(2 * RECEIVE_WINDOW_MS_DEFAULT), 6, later)
    _refused_changes_nothing(exchange, Deposit(ALICE, USDC, 1, nonce=301), StaleNonce)
    _refused_changes_nothing(exchange, Deposit(ALICE, USDC, 1, nonce=250), StaleNonce)
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=302), 7, later)  # above the floor
    assert exchange.last_nonce(ALICE) == later


def test_a_full_set_evicts_its_oldest_nonce_into_the_floor() -> None:
    exchange = Exchange()
    ts = 10**12
    apply_command(exchange, Deposit(ALICE, USDC, 10), 1, ts)
    nonces = [ts + k for k in range(NONCES_PER_ACCOUNT_MAX + 2)]
    for seq, nonce in enumerate(nonces[1:], 2):  # all but the first, in order
        apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=nonce), seq, ts)
    rows = exchange.to_state()["nonces"]
    assert isinstance(rows, list)
    (row,) = rows
    assert row[1] == nonces[1]  # the oldest of the set, evicted
    assert row[2] == nonces[2:]
    assert len(row[2]) == NONCES_PER_ACCOUNT_MAX
    # At or below the floor is stale (deterministically), even never used (nonces[0]).
    _refused_changes_nothing(exchange, Deposit(ALICE, USDC, 1, nonce=nonces[0]), StaleNonce)
    _refused_changes_nothing(exchange, Deposit(ALICE, USDC, 1, nonce=nonces[1]), StaleNonce)
    exchange.check_invariants()


def test_nonces_are_per_account() -> None:
    exchange = _funded()
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=9), 3, 300)
    apply_command(exchange, Deposit(BOB, BASE, 1, nonce=9), 4, 400)
    assert (exchange.last_nonce(ALICE), exchange.last_nonce(BOB)) == (9, 9)
    _refused_changes_nothing(exchange, Deposit(BOB, BASE, 1, nonce=9), StaleNonce)


def test_a_refused_unsigned_command_does_not_use_its_nonce() -> None:
    """Library commands for names that are not addresses: a refusal changes nothing at all
    (a signed command's refusal uses its nonce: see tests/exchange/test_auth.py)."""
    exchange = _funded()
    _refused_changes_nothing(exchange, Withdraw(ALICE, USDC, 10**9, nonce=7), InsufficientFunds)
    placed = apply_command(exchange, PlaceLimit(ALICE, DEFAULT, Side.BID, 10, 1), 3, 300)
    assert isinstance(placed, Placement)
    _refused_changes_nothing(exchange, CancelOrder(BOB, placed.order_id, nonce=7), OrderNotOwned)
    assert exchange.last_nonce(ALICE) == exchange.last_nonce(BOB) == 0
    apply_command(exchange, Withdraw(ALICE, USDC, 1, nonce=7), 4, 400)
    apply_command(exchange, CancelOrder(ALICE, placed.order_id, nonce=8), 5, 500)
    assert exchange.last_nonce(ALICE) == 8


@pytest.mark.parametrize("nonce", [-1, -(2**63)])
def test_a_negative_nonce_is_invalid(nonce: int) -> None:
    _refused_changes_nothing(_funded(), Deposit(ALICE, USDC, 1, nonce=nonce), InvalidInput)


def test_nonces_and_the_window_survive_the_state_round_trip() -> None:
    exchange = _funded()
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=3), 3, 300)
    apply_command(exchange, SetReceiveWindow(1_000), 4, 400)
    restored = Exchange.from_state(exchange.to_state())
    assert restored.state_bytes() == exchange.state_bytes()
    assert restored.last_nonce(ALICE) == 3
    assert restored.receive_window_ms == 1_000
    _refused_changes_nothing(restored, Deposit(ALICE, USDC, 1, nonce=3), StaleNonce)
    window_ns = 1_000 * 1_000_000  # judged at 401: one ns out
    _refused_changes_nothing(
        restored, Deposit(ALICE, USDC, 1, nonce=401 + window_ns + 1), OutsideReceiveWindow
    )


def test_an_old_snapshots_last_nonce_loads_as_the_floor() -> None:
    """Before format 3 a state held each account's last nonce and no window: the last nonce
    becomes the floor (exactly the old rule: above it only) under the default window."""
    exchange = _funded()
    state = exchange.to_state()
    del state["receive_window_ms"]
    state["nonces"] = [["alice", 700]]
    restored = Exchange.from_state(state)
    assert restored.receive_window_ms == RECEIVE_WINDOW_MS_DEFAULT
    assert restored.last_nonce(ALICE) == 700
    for nonce in (699, 700):
        _refused_changes_nothing(restored, Deposit(ALICE, USDC, 1, nonce=nonce), StaleNonce)
    apply_command(restored, Deposit(ALICE, USDC, 1, nonce=701), 3, 300)
    assert restored.to_state()["nonces"] == [["alice", 700, [701]]]


@pytest.mark.parametrize("window_ms", [0, -1, RECEIVE_WINDOW_MS_MAX + 1])
def test_a_receive_window_out_of_bounds_is_refused(window_ms: int) -> None:
    exchange = _funded()
    with pytest.raises(InvalidInput, match=r"a receive window is 1 to 3600000 ms.*nothing was"):
        apply_command(exchange, SetReceiveWindow(window_ms), 3, 300)
    _refused_changes_nothing(exchange, SetReceiveWindow(window_ms), InvalidInput)
    assert exchange.receive_window_ms == RECEIVE_WINDOW_MS_DEFAULT


def test_the_receive_window_is_what_the_state_machine_applies() -> None:
    exchange = _funded()
    assert exchange.receive_window_ms == RECEIVE_WINDOW_MS_DEFAULT == 60_000
    apply_command(exchange, SetReceiveWindow(1), 3, 10**7)
    _refused_changes_nothing(
        exchange, Deposit(ALICE, USDC, 1, nonce=10**7 + 1_000_002), OutsideReceiveWindow
    )
    apply_command(exchange, Deposit(ALICE, USDC, 1, nonce=10**7 + 1_000_000), 4, 10**7)


# -- Exchange.apply: sequence numbers ------------------------------------------------------


def test_a_refused_command_leaves_seq_so_the_number_is_reused() -> None:
    exchange = Exchange()
    with pytest.raises(InsufficientFunds):
        apply_command(exchange, Withdraw(ALICE, USDC, 1), 1, 100)
    assert (exchange.seq, exchange.ts_ns) == (0, 0)
    assert exchange.state_hash() == Exchange().state_hash()
    apply_command(exchange, Deposit(ALICE, USDC, 5), 1, 100)
    assert (exchange.seq, exchange.ts_ns) == (1, 100)
    placed = apply_command(exchange, PlaceLimit(ALICE, DEFAULT, Side.BID, 5, 1), 2, 200)
    assert isinstance(placed, Placement)
    with pytest.raises(OrderNotOwned):
        apply_command(exchange, CancelOrder(BOB, placed.order_id), 3, 300)
    assert (exchange.seq, exchange.ts_ns) == (2, 200)
    apply_command(exchange, Deposit(BOB, USDC, 5), 3, 300)
    assert exchange.seq == 3


@pytest.mark.parametrize("offset", [0, 2, 10, -1], ids=["same", "skip-one", "skip-many", "back"])
def test_apply_asserts_seq_continuity(offset: int) -> None:
    exchange = _funded()
    before = exchange.state_bytes()
    with pytest.raises(AssertionError, match=r"command -?\d+ applied after 2"):
        apply_command(exchange, Deposit(ALICE, USDC, 1), exchange.seq + offset, 1_000)
    assert exchange.state_bytes() == before


def test_apply_asserts_time_does_not_go_back() -> None:
    exchange = _funded()
    before = exchange.state_bytes()
    with pytest.raises(AssertionError, match=r"command 3 is older than command 2"):
        apply_command(exchange, Deposit(ALICE, USDC, 1), 3, exchange.ts_ns - 1)
    assert exchange.state_bytes() == before
    apply_command(exchange, Deposit(ALICE, USDC, 1), 3, exchange.ts_ns)  # equal time is fine
    assert exchange.seq == 3

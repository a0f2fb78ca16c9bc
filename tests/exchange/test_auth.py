"""Goal: an address account is commanded only by its key: signed commands apply, every forgery,
replay or unsigned action is refused with the state unchanged, a signed command the state
machine refuses uses its nonce and is journaled as refused, and the journal keeps signatures.
Method: real Ed25519 keys against Exchange.apply, and signed flows through EmbeddedExchange files."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Final

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tachyon.dex.ids import AccountId, OrderId
from tachyon.dex.model import Side, TimeInForce
from tachyon.errors import (
    BadSignature,
    CorruptData,
    FillOrKillUnfillable,
    InsufficientFunds,
    InvalidInput,
    OrderNotOwned,
    StaleNonce,
    TachyonError,
    Unauthorized,
)
from tachyon.exchange.auth import SIGNATURE_LENGTH, SIGNING_DOMAIN, address_of, is_address, sign
from tachyon.exchange.commands import (
    AccountCommand,
    AddMarket,
    AnyCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    PlaceMarket,
    RegisterToken,
    SetFees,
    SignedCommand,
    Withdraw,
    encode_command,
)
from tachyon.exchange.service import Placement
from tachyon.exchange.state_machine import Exchange, Outcome, Refusal
from tachyon.ledger.ledger import BalanceRecord
from tachyon.storage import EmbeddedExchange, audit, journal
from tests.exchange.helpers import (
    ALICE,
    BASE,
    BOB,
    DEFAULT,
    KEY_A,
    KEY_B,
    USDC,
    A,
    B,
    apply_command,
    signed,
)
from tests.storage.helpers import (
    DB_NAME,
    TS_START,
    StepClock,
    journal_rows,
    raw_close,
    raw_connect,
)

BID, ASK = Side.BID, Side.ASK
USDC_FUNDS = 1_000_000
BASE_FUNDS = 100


def apply_next(exchange: Exchange, command: AnyCommand) -> Outcome | Refusal:
    return apply_command(exchange, command, exchange.seq + 1, exchange.ts_ns + 1)


def assert_refused(
    exchange: Exchange,
    command: AnyCommand,
    error: type[Exception] | tuple[type[Exception], ...],
    match: str | None = None,
) -> Exception:
    """The command raises `error` and leaves the state (hash) and the sequence as they were."""
    before_hash, before_seq, before_ts = exchange.state_hash(), exchange.seq, exchange.ts_ns
    with pytest.raises(error, match=match) as info:
        apply_command(exchange, command, before_seq + 1, before_ts + 1)
    assert exchange.seq == before_seq
    assert exchange.ts_ns == before_ts
    assert exchange.state_hash() == before_hash
    exchange.check_invariants()
    return info.value


def funded() -> Exchange:
    """A and B (addresses) funded through the unsigned faucet path; no nonce used yet."""
    exchange = Exchange()
    for account in (A, B):
        apply_next(exchange, Deposit(account, USDC, USDC_FUNDS))
        apply_next(exchange, Deposit(account, BASE, BASE_FUNDS))
    assert exchange.last_nonce(A) == exchange.last_nonce(B) == 0
    return exchange


def resting_ask_of_b(exchange: Exchange) -> OrderId:
    placement = apply_next(exchange, signed(KEY_B, PlaceLimit(B, DEFAULT, ASK, 120, 5, nonce=1)))
    assert isinstance(placement, Placement)
    assert placement.open_qty == 5
    return placement.order_id


# -- accepted ----------------------------------------------------------------------------------


def _flow(account: AccountId, wrap: bool) -> tuple[Exchange, list[Outcome | Refusal]]:
    """The same flow for `account`, signed by KEY_A (`wrap`) or unsigned; bob is the maker."""

    def own(command: AccountCommand) -> AnyCommand:
        return signed(KEY_A, command) if wrap else command

    exchange = Exchange()
    apply_next(exchange, Deposit(BOB, BASE, 50))
    apply_next(exchange, PlaceLimit(BOB, DEFAULT, ASK, 100, 10))
    commands: list[AnyCommand] = [
        own(Deposit(account, USDC, 1_000_000, nonce=1)),
        own(PlaceLimit(account, DEFAULT, BID, 100, 4, nonce=2)),
        own(PlaceMarket(account, DEFAULT, BID, 3, nonce=5)),
        own(PlaceLimit(account, DEFAULT, BID, 90, 5, nonce=6)),
        own(CancelOrder(account, OrderId(4), nonce=7)),
        own(Withdraw(account, USDC, 1_000, nonce=9)),
        own(PlaceLimit(account, DEFAULT, BID, 95, 2, nonce=10)),
    ]
    outcomes = [apply_next(exchange, command) for command in commands]
    exchange.check_invariants()
    return exchange, outcomes


def test_signed_commands_apply_exactly_as_unsigned_ones_for_a_plain_account() -> None:
    by_key, signed_outcomes = _flow(A, wrap=True)
    plain, plain_outcomes = _flow(ALICE, wrap=False)
    assert [repr(o).replace(A, ALICE) for o in signed_outcomes] == [repr(o) for o in plain_outcomes]
    # Spot-check the flow did what it says, to the unit.
    assert signed_outcomes[0] == BalanceRecord(1_000_000, 0)
    first, second = signed_outcomes[1], signed_outcomes[2]
    assert isinstance(first, Placement) and isinstance(second, Placement)
    assert (first.filled_qty, first.open_qty, second.filled_qty) == (4, 0, 3)
    assert signed_outcomes[5] == BalanceRecord(1_000_000 - 700 - 1_000, 0)
    assert by_key.service.balances(A) == plain.service.balances(ALICE)
    assert by_key.service.balances(A) == {
        BASE: BalanceRecord(7, 0),
        USDC: BalanceRecord(1_000_000 - 700 - 1_000 - 190, 190),
    }
    assert by_key.service.balances(BOB) == plain.service.balances(BOB)
    assert by_key.service.balances(BOB) == {BASE: BalanceRecord(40, 3), USDC: BalanceRecord(700, 0)}
    assert repr(by_key.service.open_orders(A)).replace(A, ALICE) == repr(
        plain.service.open_orders(ALICE)
    )
    assert by_key.service.snapshot(10, DEFAULT) == plain.service.snapshot(10, DEFAULT)
    assert by_key.last_nonce(A) == plain.last_nonce(ALICE) == 10
    assert (by_key.seq, by_key.ts_ns) == (plain.seq, plain.ts_ns)


def test_an_unsigned_deposit_for_an_address_is_accepted() -> None:
    """The faucet / operator path: a credit needs no signature."""
    exchange = Exchange()
    assert apply_next(exchange, Deposit(A, USDC, 5)) == BalanceRecord(5, 0)
    assert exchange.service.balances(A) == {USDC: BalanceRecord(5, 0)}


def test_an_unsigned_deposit_with_a_nonce_for_an_address_does_not_lock_its_key_out() -> None:
    """Anyone who may use the faucet must not be able to burn an address's nonces."""
    exchange = Exchange()
    with contextlib.suppress(TachyonError):  # refusing it is fine too
        apply_next(exchange, Deposit(A, USDC, 1, nonce=2**64 - 1))
    apply_next(exchange, Deposit(A, USDC, 10))
    assert apply_next(exchange, signed(KEY_A, Withdraw(A, USDC, 1, nonce=1))) is not None
    assert exchange.last_nonce(A) == 1


# -- refused: keys and bytes -------------------------------------------------------------------


def test_a_command_signed_by_another_key_is_refused() -> None:
    exchange = funded()
    assert_refused(exchange, signed(KEY_B, Withdraw(A, USDC, 1, nonce=1)), BadSignature)
    assert_refused(exchange, signed(KEY_A, Withdraw(B, USDC, 1, nonce=1)), BadSignature)
    # ...and the genuine one still applies afterwards: the refusals used no nonce.
    apply_next(exchange, signed(KEY_A, Withdraw(A, USDC, 1, nonce=1)))
    assert exchange.service.balances(A)[USDC] == BalanceRecord(USDC_FUNDS - 1, 0)


def test_every_single_byte_flip_of_the_body_is_refused_and_changes_nothing() -> None:
    exchange = funded()
    good = signed(KEY_A, PlaceLimit(A, DEFAULT, BID, 100, 3, nonce=7))
    for position in range(len(good.body)):
        for mask in (0x01, 0x80):
            body = bytearray(good.body)
            body[position] ^= mask
            forged = SignedCommand(bytes(body), good.signature)
            assert_refused(exchange, forged, (BadSignature, InvalidInput))
    apply_next(exchange, good)
    assert exchange.last_nonce(A) == 7


def test_a_signed_body_with_invalid_utf8_is_invalid_input() -> None:
    exchange = funded()
    body = bytearray(encode_command(Withdraw(A, USDC, 1, nonce=1)))
    body[body.index(b"USDC")] = 0xFF
    assert_refused(exchange, SignedCommand(bytes(body), sign(KEY_A, bytes(body))), InvalidInput)


def test_a_signed_body_with_invalid_utf8_does_not_sink_its_batch(tmp_path: Path) -> None:
    """The host answers each command of a batch on its own: one undecodable signed body is
    refused (InvalidInput) and the others are journaled (text that is not UTF-8 once escaped
    as a UnicodeDecodeError and sank the whole batch as a "damaged database")."""
    body = bytearray(encode_command(Withdraw(A, USDC, 1, nonce=1)))
    body[body.index(b"USDC")] = 0xFF
    bad = SignedCommand(bytes(body), sign(KEY_A, bytes(body)))
    with EmbeddedExchange.open(tmp_path, clock=StepClock()) as host:
        try:
            results = host.submit_batch([Deposit(BOB, USDC, 5), bad])
        except CorruptData as exc:
            raise AssertionError(f"the batch failed: {exc}") from exc
        assert results[0] == BalanceRecord(5, 0)
        assert isinstance(results[1], InvalidInput)
        assert host.seq == 1


@pytest.mark.parametrize(
    "altered",
    [
        Withdraw(A, USDC, 2_000, nonce=3),  # a bigger amount
        Withdraw(A, BASE, 1_000, nonce=3),  # another token
        Withdraw(A, USDC, 1_000, nonce=4),  # another nonce (a replay dodging the nonce check)
        Withdraw(B, USDC, 1_000, nonce=3),  # moved to another address
        Deposit(A, USDC, 1_000, nonce=3),  # another command
    ],
)
def test_a_changed_field_under_the_old_signature_is_refused(altered: AccountCommand) -> None:
    exchange = funded()
    original = signed(KEY_A, Withdraw(A, USDC, 1_000, nonce=3))
    forged = SignedCommand(encode_command(altered), original.signature)
    assert_refused(exchange, forged, BadSignature)


def test_every_single_byte_flip_of_the_signature_is_refused() -> None:
    exchange = funded()
    good = signed(KEY_A, Withdraw(A, USDC, 1, nonce=1))
    for position in range(SIGNATURE_LENGTH):
        signature = bytearray(good.signature)
        signature[position] ^= 0x01
        assert_refused(exchange, SignedCommand(good.body, bytes(signature)), BadSignature)


@pytest.mark.parametrize("length", [0, 1, SIGNATURE_LENGTH - 1, SIGNATURE_LENGTH + 1, 128])
def test_a_signature_of_the_wrong_length_is_refused(length: int) -> None:
    exchange = funded()
    good = signed(KEY_A, Withdraw(A, USDC, 1, nonce=1))
    signature = (good.signature * 2)[:length]
    assert_refused(
        exchange,
        SignedCommand(good.body, signature),
        BadSignature,
        rf"a signature is {SIGNATURE_LENGTH} bytes, not {length}",
    )


def test_a_signature_without_the_signing_domain_is_refused() -> None:
    exchange = funded()
    body = encode_command(Withdraw(A, USDC, 1, nonce=1))
    assert_refused(exchange, SignedCommand(body, KEY_A.sign(body)), BadSignature)
    assert_refused(
        exchange, SignedCommand(body, KEY_A.sign(b"tachyon/other/v1\n" + body)), BadSignature
    )
    apply_next(exchange, SignedCommand(body, KEY_A.sign(SIGNING_DOMAIN + body)))
    assert exchange.last_nonce(A) == 1


# -- refused: nonces ---------------------------------------------------------------------------


def test_a_replayed_signed_command_is_refused() -> None:
    exchange = funded()
    command = signed(KEY_A, Withdraw(A, USDC, 10, nonce=5))
    apply_next(exchange, command)
    assert exchange.service.balances(A)[USDC] == BalanceRecord(USDC_FUNDS - 10, 0)
    assert_refused(
        exchange, command, StaleNonce, f"nonce 5 of {A} was used already; nothing was changed"
    )
    # A lower nonce never used is fresh (another process of the wallet): applied once.
    lower = signed(KEY_A, Withdraw(A, USDC, 10, nonce=4))
    apply_next(exchange, lower)
    assert_refused(exchange, lower, StaleNonce, "nonce 4 .* used already")
    assert exchange.service.balances(A)[USDC] == BalanceRecord(USDC_FUNDS - 20, 0)


def test_a_signed_command_the_state_machine_refuses_uses_its_nonce() -> None:
    """Refused by the state (here: funds), it takes its sequence number and its nonce and
    changes nothing else; the same bytes resent once the funds are there stay refused."""
    exchange = funded()
    withdraw = signed(KEY_A, Withdraw(A, USDC, USDC_FUNDS + 1, nonce=3))
    seq, balances = exchange.seq, exchange.service.balances(A)
    refusal = apply_next(exchange, withdraw)
    assert isinstance(refusal, Refusal)
    assert isinstance(refusal.error, InsufficientFunds)
    assert exchange.seq == seq + 1
    assert exchange.service.balances(A) == balances
    assert exchange.last_nonce(A) == 3
    apply_next(exchange, Deposit(A, USDC, 1))
    assert_refused(exchange, withdraw, StaleNonce, f"nonce 3 of {A} was used already")
    assert exchange.service.balances(A)[USDC] == BalanceRecord(USDC_FUNDS + 1, 0)
    exchange.check_invariants()


def test_a_refused_fill_or_kill_resent_after_the_book_changed_is_stale() -> None:
    """The issue's case: a FOK refused (nothing to fill) must not fill later when anyone
    resends its bytes inside the window after the book changed."""
    exchange = funded()
    fok = signed(KEY_A, PlaceLimit(A, DEFAULT, BID, 120, 5, TimeInForce.FOK, nonce=7))
    refusal = apply_next(exchange, fok)
    assert isinstance(refusal, Refusal)
    assert isinstance(refusal.error, FillOrKillUnfillable)
    resting_ask_of_b(exchange)  # now it could fill
    assert_refused(exchange, fok, StaleNonce, f"nonce 7 of {A} was used already")
    assert exchange.service.balances(A)[BASE] == BalanceRecord(BASE_FUNDS, 0)


def test_nonces_are_per_account() -> None:
    exchange = funded()
    apply_next(exchange, signed(KEY_A, Withdraw(A, USDC, 1, nonce=9)))
    apply_next(exchange, signed(KEY_B, Withdraw(B, USDC, 1, nonce=1)))
    assert (exchange.last_nonce(A), exchange.last_nonce(B)) == (9, 1)


def test_a_signed_command_with_nonce_zero_is_refused() -> None:
    exchange = funded()
    command = signed(KEY_A, Withdraw(A, USDC, 1, nonce=0))
    assert_refused(exchange, command, InvalidInput, "needs a nonce above 0")


# -- refused: what may be signed ---------------------------------------------------------------


def test_a_signed_signed_command_is_refused() -> None:
    exchange = funded()
    inner = signed(KEY_A, Withdraw(A, USDC, 1, nonce=1))
    assert_refused(exchange, signed(KEY_A, inner), InvalidInput, "not SignedCommand")


@pytest.mark.parametrize(
    "command",
    [
        AddMarket("ETH", "USDC"),
        RegisterToken("SOL", 2),
        SetFees(DEFAULT, 10, 20),
    ],
)
def test_a_signed_non_account_command_is_refused(command: AnyCommand) -> None:
    exchange = funded()
    name = type(command).__name__
    assert_refused(exchange, signed(KEY_A, command), InvalidInput, f"not {name}")


@pytest.mark.parametrize("account", [ALICE, A.upper(), A[:-1], A + "0", ""])
def test_a_signed_command_for_a_non_address_is_refused(account: str) -> None:
    exchange = funded()
    assert_refused(
        exchange,
        signed(KEY_A, Withdraw(account, USDC, 1, nonce=1)),
        InvalidInput,
        "account must be an address",
    )


def test_signed_bytes_that_are_not_a_command_are_refused() -> None:
    exchange = funded()
    for body in (b"", b"\x00", b"\x91\xa7deposit", b"\xff" * 100):
        assert_refused(exchange, SignedCommand(body, sign(KEY_A, body)), InvalidInput)


@pytest.mark.parametrize(
    "command",
    [
        Withdraw(A, USDC, 1),
        Withdraw(A, USDC, 1, nonce=1),
        PlaceLimit(A, DEFAULT, BID, 100, 1),
        PlaceLimit(A, DEFAULT, ASK, 100, 1, nonce=1),
        PlaceMarket(A, DEFAULT, BID, 1),
        PlaceMarket(A, DEFAULT, BID, None, max_quote=100, nonce=1),
        CancelOrder(A, OrderId(1)),
        CancelOrder(A, OrderId(1), nonce=1),
    ],
)
def test_an_unsigned_action_for_an_address_is_unauthorized(command: AccountCommand) -> None:
    exchange = funded()
    # Whether or not the order exists, the lack of a signature is what refuses the cancel.
    resting_ask_of_b(exchange)
    assert_refused(exchange, command, Unauthorized, f"account {A} is a wallet address")


# -- ownership ---------------------------------------------------------------------------------


def test_a_valid_signature_cannot_cancel_another_accounts_order() -> None:
    exchange = funded()
    order_id = resting_ask_of_b(exchange)
    refusal = apply_next(exchange, signed(KEY_A, CancelOrder(A, order_id, nonce=1)))
    assert isinstance(refusal, Refusal)
    assert isinstance(refusal.error, OrderNotOwned)
    assert str(refusal.error) == f"order {order_id} belongs to another account"
    assert exchange.last_nonce(A) == 1  # refused by the state: its nonce is used
    (owned,) = exchange.service.open_orders(B)
    assert (owned.order.order_id, owned.order.remaining_qty, owned.locked) == (order_id, 5, 5)
    # Its owner's signature cancels it.
    cancelled = apply_next(exchange, signed(KEY_B, CancelOrder(B, order_id, nonce=2)))
    assert isinstance(cancelled, Placement)
    assert exchange.service.open_orders(B) == []
    assert exchange.service.balances(B)[BASE] == BalanceRecord(BASE_FUNDS, 0)


# -- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "account",
    [A, B, "0" * 64, "f" * 64, "0123456789abcdef" * 4],
)
def test_is_address_accepts_64_lowercase_hex_digits(account: str) -> None:
    assert is_address(account)


@pytest.mark.parametrize(
    "account",
    [
        "",
        "alice",
        "0" * 63,
        "0" * 65,
        A.upper(),
        "A" + A[1:],
        "g" + A[1:],
        A[:-1] + "\n",
        " " + A[1:],
        "0x" + A[2:],
        "\u0660" + A[1:],  # ARABIC-INDIC DIGIT ZERO: a digit, but not an ASCII one
        "\uff41" + A[1:],  # FULLWIDTH LATIN SMALL LETTER A
    ],
)
def test_is_address_refuses_anything_else(account: str) -> None:
    assert not is_address(account)


def test_an_address_is_the_hex_of_the_public_key() -> None:
    key = Ed25519PrivateKey.generate()
    address = address_of(key)
    assert is_address(address)
    assert bytes.fromhex(address) == key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# -- the journal -------------------------------------------------------------------------------


N: Final = TS_START
"""Nonces of the journal tests: near the StepClock's time, as a wallet's clock is."""


def _signed_flow(host: EmbeddedExchange, clock: StepClock) -> None:
    commands: list[AnyCommand] = [
        Deposit(A, USDC, USDC_FUNDS),
        Deposit(B, BASE, BASE_FUNDS),
        signed(KEY_B, PlaceLimit(B, DEFAULT, ASK, 100, 10, nonce=N + 1)),
        signed(KEY_A, PlaceLimit(A, DEFAULT, BID, 100, 4, nonce=N + 1)),
        signed(KEY_A, PlaceMarket(A, DEFAULT, BID, 2, nonce=N + 2)),
        signed(KEY_A, Withdraw(A, USDC, 1_000, nonce=N + 3)),
    ]
    for command in commands:
        clock.now += 1_000
        host.submit(command)


@pytest.mark.parametrize("snapshot", [False, True])
def test_signed_commands_survive_close_and_reopen(tmp_path: Path, snapshot: bool) -> None:
    clock = StepClock()
    host = EmbeddedExchange.open(tmp_path, clock=clock)
    _signed_flow(host, clock)
    state_hash, seq, head = host.refresh().state_hash(), host.seq, host.head_hash
    host.close(snapshot=snapshot)
    # The journal holds the signed envelopes, not the bare commands.
    commands = [row[2] for row in journal_rows(tmp_path / DB_NAME)]
    assert commands[3] == encode_command(
        signed(KEY_A, PlaceLimit(A, DEFAULT, BID, 100, 4, nonce=N + 1))
    )
    with EmbeddedExchange.open(tmp_path, clock=clock) as reopened:
        assert (reopened.seq, reopened.head_hash) == (seq, head)
        assert reopened.refresh().state_hash() == state_hash
        assert reopened.balances(A) == {
            BASE: BalanceRecord(6, 0),
            USDC: BalanceRecord(USDC_FUNDS - 600 - 1_000, 0),
        }
        assert reopened.last_nonce(A) == N + 3
        assert reopened.last_nonce(B) == N + 1
        # The replayed nonces still refuse a replay.
        with pytest.raises(StaleNonce):
            reopened.submit(signed(KEY_A, Withdraw(A, USDC, 1_000, nonce=N + 3)))
        assert reopened.seq == seq
    report = audit(tmp_path)
    assert (report.entries, report.state_hash) == (seq, state_hash)


def test_the_host_journals_no_command_refused_before_the_state_machine(tmp_path: Path) -> None:
    """Refused by admission (signature, form, unsigned for an address) or by the nonce rule
    (used, outside the window): nothing is used and nothing journaled."""
    clock = StepClock()
    with EmbeddedExchange.open(tmp_path, clock=clock) as host:
        _signed_flow(host, clock)
        seq, head, state_hash = host.seq, host.head_hash, host.refresh().state_hash()
        refused: list[AnyCommand] = [
            signed(KEY_B, Withdraw(A, USDC, 1, nonce=N + 10)),
            signed(KEY_A, Withdraw(A, USDC, 1, nonce=N + 3)),
            signed(KEY_A, Withdraw(A, USDC, 1, nonce=1)),  # outside the window
            Withdraw(A, USDC, 1, nonce=N + 10),
            signed(KEY_A, AddMarket("ETH", "USDC")),
        ]
        for command in refused:
            with pytest.raises((BadSignature, StaleNonce, Unauthorized, InvalidInput)):
                host.submit(command)
        assert (host.seq, host.head_hash) == (seq, head)
        assert host.refresh().state_hash() == state_hash
    assert len(journal_rows(tmp_path / DB_NAME)) == seq


def test_audit_verifies_signatures_that_recovery_trusts(tmp_path: Path) -> None:
    """A journal entry with a forged signature but a correct hash chain (only a writer that
    bypassed tachyon could leave one) is opened by recovery, which trusts the chain, and refused
    by audit, which checks every signature again."""
    clock = StepClock()
    host = EmbeddedExchange.open(tmp_path, clock=clock)
    _signed_flow(host, clock)
    host.close(snapshot=False)
    last_seq, last_ts, _, _, last_checksum = journal_rows(tmp_path / DB_NAME)[-1]
    forged = signed(KEY_B, Withdraw(A, USDC, 5_000, nonce=N + 4))  # B's key, A's funds
    seq = last_seq + 1
    entry = journal.make_entry(last_checksum, seq, last_ts + 1, encode_command(forged))
    conn = raw_connect(tmp_path / DB_NAME)
    journal.append(conn, [entry])  # the host's own insert; autocommit, so no COMMIT needed
    raw_close(conn)

    with pytest.raises(
        CorruptData,
        match=rf"journal entry {seq} is not a command the exchange admits \(bad_signature",
    ):
        audit(tmp_path)
    with EmbeddedExchange.open(tmp_path, clock=StepClock(TS_START + 10**9)) as reopened:
        assert reopened.seq == seq
        assert reopened.balances(A)[USDC] == BalanceRecord(USDC_FUNDS - 600 - 1_000 - 5_000, 0)
        assert reopened.last_nonce(A) == N + 4

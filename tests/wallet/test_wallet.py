"""Goal: a Wallet acts only for its own address, only when unlocked, with nonces that always rise
(its clock in ns, never below its last), and its trades settle to the unit. Method: two real key
files and a real EmbeddedExchange SQLite directory in tmp_path, the wallets talking to it through
the port (`EmbeddedPort.over`); read balances, orders and the journal back after each step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest

from tachyon.dex.ids import AccountId, OrderId
from tachyon.dex.model import OrderStatus, Side
from tachyon.errors import InvalidInput, OrderNotOwned, WrongPassword
from tachyon.exchange.auth import SIGNING_DOMAIN, address_of, verify
from tachyon.exchange.commands import (
    AccountCommand,
    CancelOrder,
    Deposit,
    PlaceLimit,
    Refused,
    SignedCommand,
    Withdraw,
    decode_command,
    decode_entry,
)
from tachyon.exchange.service import Placement
from tachyon.ledger.ledger import BalanceRecord
from tachyon.storage import EmbeddedExchange, EmbeddedPort
from tachyon.wallet import KDF_MIN, Wallet, create_key_file, load_key_file
from tests.exchange.helpers import BASE, DEFAULT, USDC
from tests.storage.helpers import DB_NAME, TS_START, StepClock, journal_rows

BID, ASK = Side.BID, Side.ASK
PASSWORD_A: Final = "password of wallet a"
PASSWORD_B: Final = "password of wallet b"
FROZEN: Final = TS_START + 5  # the wallets' clock, near the exchange's: inside its window


def frozen_clock() -> int:
    return FROZEN


@pytest.fixture
def host(tmp_path: Path) -> Iterator[EmbeddedExchange]:
    with EmbeddedExchange.open(tmp_path / "exchange", clock=StepClock()) as opened:
        yield opened


@pytest.fixture
def key_dirs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "wallets" / "a", tmp_path / "wallets" / "b"
    create_key_file(a, PASSWORD_A, {"kind": "embedded"}, KDF_MIN)
    create_key_file(b, PASSWORD_B, {"kind": "embedded"}, KDF_MIN)
    return a, b


def open_wallet(
    directory: Path,
    host: EmbeddedExchange,
    password: str | None,
    clock: Callable[[], int] = frozen_clock,
) -> Wallet:
    wallet = Wallet(load_key_file(directory), EmbeddedPort.over(host), clock=clock)
    if password is not None:
        wallet.unlock(password)
    return wallet


@pytest.fixture
def wallets(key_dirs: tuple[Path, Path], host: EmbeddedExchange) -> tuple[Wallet, Wallet]:
    a, b = key_dirs
    return open_wallet(a, host, PASSWORD_A), open_wallet(b, host, PASSWORD_B)


def funded(wallets: tuple[Wallet, Wallet]) -> tuple[Wallet, Wallet]:
    a, b = wallets
    assert a.deposit(USDC, 1_000_000) == BalanceRecord(1_000_000, 0)
    assert b.deposit(BASE, 100) == BalanceRecord(100, 0)
    return a, b


def journaled_nonces(host: EmbeddedExchange, account: AccountId) -> list[int]:
    """The nonce of every signed entry for `account`, in journal order."""
    nonces: list[int] = []
    for row in journal_rows(host.db_path):
        envelope = decode_command(row[2])
        assert isinstance(envelope, SignedCommand), envelope
        command = decode_command(envelope.body)
        assert isinstance(command, AccountCommand), command
        if command.account == account:
            nonces.append(command.nonce)
    return nonces


# -- trading -----------------------------------------------------------------------------------


def test_two_wallets_trade_and_balances_read_back_to_the_unit(
    wallets: tuple[Wallet, Wallet], host: EmbeddedExchange
) -> None:
    a, b = funded(wallets)
    assert a.address == a.key_file.address != b.address

    ask = b.place_limit(DEFAULT, ASK, 500, 10)
    assert (ask.order_id, ask.status, ask.filled_qty, ask.open_qty) == (1, OrderStatus.NEW, 0, 10)
    assert b.balances() == {BASE: BalanceRecord(90, 10)}

    bid = a.place_limit(DEFAULT, BID, 500, 4)
    assert (bid.order_id, bid.filled_qty, bid.open_qty) == (2, 4, 0)
    assert [(t.price, t.qty, t.maker_owner, t.taker_owner) for t in bid.trades] == [
        (500, 4, b.address, a.address)
    ]
    by_qty = a.place_market(DEFAULT, BID, 3)
    assert (by_qty.order_id, by_qty.filled_qty, by_qty.open_qty) == (3, 3, 0)
    resting = a.place_limit(DEFAULT, BID, 400, 5)
    assert (resting.order_id, resting.filled_qty, resting.open_qty) == (4, 0, 5)
    hit = b.place_market(DEFAULT, ASK, 2)
    assert [(t.price, t.qty, t.maker_order_id) for t in hit.trades] == [(400, 2, 4)]
    by_quote = a.place_market(DEFAULT, BID, None, max_quote=1_000)
    assert [(t.price, t.qty, t.maker_order_id) for t in by_quote.trades] == [(500, 2, 1)]
    assert b.withdraw(USDC, 300) == BalanceRecord(5_000, 0)

    # a paid 4*500 + 3*500 + 2*400 + 2*500 = 5_300 for 11 BASE; order 4 still holds 3*400.
    assert a.balances() == {BASE: BalanceRecord(11, 0), USDC: BalanceRecord(993_500, 1_200)}
    # b sold those 11 for 5_300, then withdrew 300; 1 BASE is still held by order 1.
    assert b.balances() == {BASE: BalanceRecord(88, 1), USDC: BalanceRecord(5_000, 0)}
    (a_order,) = a.open_orders()
    assert a_order == (4, DEFAULT, BID, 400, 5, 3, 2)  # id, market, side, price, qty, rest, filled
    (a_held,) = host.open_orders(a.address)  # what it holds, as the exchange records it
    assert (a_held.locked, a_held.locked_token) == (1_200, USDC)
    (b_order,) = b.open_orders()
    assert (b_order.order_id, b_order.side, b_order.remaining_qty) == (1, ASK, 1)
    (b_held,) = host.open_orders(b.address)
    assert (b_held.locked, b_held.locked_token) == (1, BASE)

    cancelled = a.cancel(OrderId(4))
    assert (cancelled.order_id, cancelled.status) == (4, OrderStatus.CANCELLED)
    assert a.open_orders() == []
    assert a.balances() == {BASE: BalanceRecord(11, 0), USDC: BalanceRecord(994_700, 0)}
    trades = host.recent_trades(10, DEFAULT)
    assert sorted((t.price, t.qty) for t in trades) == [(400, 2), (500, 2), (500, 3), (500, 4)]


def test_nonces_rise_strictly_with_a_frozen_clock(
    wallets: tuple[Wallet, Wallet], host: EmbeddedExchange
) -> None:
    a, b = funded(wallets)
    seen = [host.last_nonce(a.address)]
    for price in (90, 91, 92):
        a.place_limit(DEFAULT, BID, price, 1)
        seen.append(host.last_nonce(a.address))
    a.withdraw(USDC, 1)
    seen.append(host.last_nonce(a.address))
    assert seen == [FROZEN, FROZEN + 1, FROZEN + 2, FROZEN + 3, FROZEN + 4]
    assert journaled_nonces(host, a.address) == list(range(FROZEN, FROZEN + 5))
    assert journaled_nonces(host, b.address) == [FROZEN]


def test_a_wallet_never_asks_the_exchange_for_its_nonce(
    key_dirs: tuple[Path, Path], host: EmbeddedExchange
) -> None:
    """Its nonce is its own clock: a second object on the same key, its clock ahead of what the
    first one used, starts from that clock, not from the account's record."""
    first = open_wallet(key_dirs[0], host, PASSWORD_A, lambda: TS_START + 1_000)
    for _ in range(3):
        first.deposit(USDC, 1)
    again = open_wallet(key_dirs[0], host, PASSWORD_A, lambda: TS_START + 5_000)
    again.deposit(USDC, 1)
    again.deposit(USDC, 1)
    assert journaled_nonces(host, first.address) == [
        TS_START + nonce for nonce in (1_000, 1_001, 1_002, 5_000, 5_001)
    ]


def test_nonces_rise_when_the_clock_goes_back(
    key_dirs: tuple[Path, Path], host: EmbeddedExchange
) -> None:
    readings = iter(TS_START + reading for reading in (1_000, 400, 400, 2_000, 10))

    def clock() -> int:
        return next(readings)

    a = open_wallet(key_dirs[0], host, PASSWORD_A, clock)
    for _ in range(5):
        a.deposit(USDC, 1)
    assert journaled_nonces(host, a.address) == [
        TS_START + nonce for nonce in (1_000, 1_001, 1_002, 2_000, 2_001)
    ]
    assert a.balances() == {USDC: BalanceRecord(5, 0)}


def test_the_wallets_state_survives_reopening_the_exchange(
    wallets: tuple[Wallet, Wallet], host: EmbeddedExchange, tmp_path: Path
) -> None:
    a, b = funded(wallets)
    b.place_limit(DEFAULT, ASK, 500, 10)
    a.place_limit(DEFAULT, BID, 500, 4)
    state_hash = host.refresh().state_hash()
    with EmbeddedExchange.open(tmp_path / "exchange", clock=StepClock()) as other:
        assert other.refresh().state_hash() == state_hash
        assert other.balances(a.address) == a.balances()
        assert other.last_nonce(a.address) == FROZEN + 1


# -- refusals ----------------------------------------------------------------------------------


def test_a_locked_wallet_refuses_to_act(
    key_dirs: tuple[Path, Path], host: EmbeddedExchange
) -> None:
    locked = open_wallet(key_dirs[0], host, None)
    with pytest.raises(WrongPassword):
        locked.unlock(PASSWORD_B)
    seq, head = host.seq, host.head_hash
    actions: list[Callable[[], object]] = [
        lambda: locked.deposit(USDC, 1),
        lambda: locked.withdraw(USDC, 1),
        lambda: locked.place_limit(DEFAULT, BID, 100, 1),
        lambda: locked.place_market(DEFAULT, BID, 1),
        lambda: locked.cancel(OrderId(1)),
        lambda: locked.signed(Deposit(locked.address, USDC, 1, nonce=1)),
    ]
    for action in actions:
        with pytest.raises(InvalidInput, match="the wallet is locked"):
            action()
    assert (host.seq, host.head_hash) == (seq, head)
    assert host.last_nonce(locked.address) == 0
    # Reading needs no password.
    assert locked.balances() == {}
    assert locked.open_orders() == []
    # Unlocked with the right password, it acts.
    locked.unlock(PASSWORD_A)
    assert locked.deposit(USDC, 7) == BalanceRecord(7, 0)


def test_signed_refuses_a_command_for_another_account(wallets: tuple[Wallet, Wallet]) -> None:
    a, b = wallets
    for command in (
        Withdraw(b.address, USDC, 1, nonce=1),
        Deposit(b.address, USDC, 1, nonce=1),
        PlaceLimit("alice", DEFAULT, BID, 100, 1, nonce=1),
        CancelOrder(a.address.upper(), 1, nonce=1),
    ):
        with pytest.raises(InvalidInput, match=f"this wallet signs for {a.address}"):
            a.signed(command)
    envelope = a.signed(Withdraw(a.address, USDC, 1, nonce=1))
    assert decode_command(envelope.body) == Withdraw(a.address, USDC, 1, nonce=1)
    assert address_of(a.key_file.unlock(PASSWORD_A)) == a.address


def test_a_wallet_cannot_cancel_another_wallets_order(
    wallets: tuple[Wallet, Wallet], host: EmbeddedExchange
) -> None:
    a, b = funded(wallets)
    order = b.place_limit(DEFAULT, ASK, 500, 10)
    assert isinstance(order, Placement)
    seq = host.seq
    balances = a.balances(), b.balances()
    with pytest.raises(OrderNotOwned, match=f"order {order.order_id} belongs to another account"):
        a.cancel(order.order_id)
    # Refused by the exchange: journaled as refused, its nonce used, nothing else changed.
    assert host.seq == seq + 1
    assert (a.balances(), b.balances()) == balances
    (still_open,) = b.open_orders()
    assert (still_open.order_id, still_open.remaining_qty) == (order.order_id, 10)
    last = decode_entry(journal_rows(host.db_path)[-1][2], canonical=True)
    assert isinstance(last, Refused)
    assert last.code == "order_not_owned"
    # Its owner can.
    assert b.cancel(order.order_id).status == OrderStatus.CANCELLED
    assert b.balances() == {BASE: BalanceRecord(100, 0)}


def test_the_journal_holds_only_signed_wallet_commands(
    wallets: tuple[Wallet, Wallet], host: EmbeddedExchange, tmp_path: Path
) -> None:
    a, b = funded(wallets)
    b.place_limit(DEFAULT, ASK, 500, 10)
    a.place_market(DEFAULT, BID, 1)
    rows = journal_rows(tmp_path / "exchange" / DB_NAME)
    assert len(rows) == host.seq == 4
    for row in rows:
        assert isinstance(decode_command(row[2]), SignedCommand)


# -- the wallet's key as a client's signer -------------------------------------------------------


def test_the_wallets_signer_signs_as_the_wallet_does(
    wallets: tuple[Wallet, Wallet], host: EmbeddedExchange, key_dirs: tuple[Path, Path]
) -> None:
    a, b = wallets
    signer = a.signer()
    assert signer.address == a.address != b.signer().address
    command = Deposit(a.address, USDC, 5, nonce=FROZEN)
    envelope = a.signed(command)
    # Ed25519 is deterministic: the same key over the same bytes, the same signature.
    assert signer.sign(SIGNING_DOMAIN + envelope.body) == envelope.signature
    verify(a.address, envelope.body, signer.sign(SIGNING_DOMAIN + envelope.body))
    # A command the signer signed is the wallet's to the exchange.
    EmbeddedPort.over(host).submit(
        SignedCommand(envelope.body, signer.sign(SIGNING_DOMAIN + envelope.body))
    )
    assert a.balances() == {USDC: BalanceRecord(5, 0)}
    with pytest.raises(InvalidInput, match="the wallet is locked"):
        open_wallet(key_dirs[0], host, None).signer()

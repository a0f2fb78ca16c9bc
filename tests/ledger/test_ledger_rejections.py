"""Goal: every refusal of TokenLedger's single-account operations names the bad value and rule.
Method: each bad call on a populated ledger; exception type, message, and to_state() unchanged."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tachyon.dex.ids import AccountId, TokenId
from tachyon.dex.units import AMOUNT_MINOR_MAX
from tachyon.errors import InsufficientFunds, InvalidAmount, TokenNotFound
from tachyon.ledger.ledger import TokenLedger, TokenMeta

ALICE = AccountId("alice")
BOB = AccountId("bob")
NOBODY = AccountId("nobody")
USDC = TokenId("USDC")
GOLD = TokenId("GOLD")

Operation = Callable[[TokenLedger, AccountId, TokenId, int], object]

OPERATIONS: dict[str, Operation] = {
    "credit": TokenLedger.credit,
    "debit": TokenLedger.debit,
    "lock": TokenLedger.lock,
    "unlock": TokenLedger.unlock,
    "spend_locked": TokenLedger.spend_locked,
}


def populated() -> TokenLedger:
    """alice: USDC 3 available + 2 locked (6 decimals); GOLD 3 available + 2 locked (0 decimals)."""
    ledger = TokenLedger()
    ledger.set_meta(TokenMeta(USDC, 6))
    ledger.set_meta(TokenMeta(GOLD, 0))
    for token in (USDC, GOLD):
        ledger.credit(ALICE, token, 5)
        ledger.lock(ALICE, token, 2)
        ledger.credit(BOB, token, 100)
    ledger.check_conservation()
    return ledger


BAD_AMOUNTS: list[tuple[object, str]] = [
    (0, r"amount 0 must be positive"),
    (-1, r"amount -1 must be positive"),
    (-(2**70), rf"amount {-(2**70)} must be positive"),
    (1.0, r"amount 1\.0 is not an integer"),
    ("5", r"amount '5' is not an integer"),
    (None, r"amount None is not an integer"),
    (True, r"amount True is not an integer"),
    (False, r"amount False is not an integer"),
    (
        AMOUNT_MINOR_MAX + 1,
        rf"amount {AMOUNT_MINOR_MAX + 1} exceeds the maximum {AMOUNT_MINOR_MAX}",
    ),
]


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@pytest.mark.parametrize(("amount", "message"), BAD_AMOUNTS)
def test_bad_amounts_are_refused_and_change_nothing(
    name: str, amount: object, message: str
) -> None:
    ledger = populated()
    before = ledger.to_state()
    with pytest.raises(InvalidAmount, match=message):
        OPERATIONS[name](ledger, ALICE, GOLD, amount)  # type: ignore[arg-type]
    assert ledger.to_state() == before
    ledger.check_conservation()


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_unknown_token_is_checked_before_the_amount(name: str) -> None:
    ledger = populated()
    before = ledger.to_state()
    with pytest.raises(TokenNotFound, match=r"unknown token 'DOGE'; known: GOLD, USDC"):
        OPERATIONS[name](ledger, ALICE, TokenId("DOGE"), 0)
    assert ledger.to_state() == before


@pytest.mark.parametrize(
    ("name", "account", "token", "amount", "message"),
    [
        ("debit", ALICE, GOLD, 4, r"insufficient available GOLD: need 4, have 3"),
        ("lock", ALICE, GOLD, 5, r"insufficient available GOLD: need 5, have 3"),
        ("unlock", ALICE, GOLD, 3, r"insufficient locked GOLD: need 3, have 2"),
        ("spend_locked", ALICE, GOLD, 3, r"insufficient locked GOLD: need 3, have 2"),
        ("debit", ALICE, USDC, 4, r"insufficient available USDC: need 0\.000004, have 0\.000003"),
        ("lock", ALICE, USDC, 4, r"insufficient available USDC: need 0\.000004, have 0\.000003"),
        ("unlock", ALICE, USDC, 3, r"insufficient locked USDC: need 0\.000003, have 0\.000002"),
        (
            "spend_locked",
            ALICE,
            USDC,
            2_000_000,
            r"insufficient locked USDC: need 2, have 0\.000002",
        ),
        # bob has 100 available and nothing locked
        ("unlock", BOB, GOLD, 1, r"insufficient locked GOLD: need 1, have 0"),
        ("spend_locked", BOB, GOLD, 1, r"insufficient locked GOLD: need 1, have 0"),
        # an account the ledger has never seen
        ("debit", NOBODY, GOLD, 1, r"insufficient available GOLD: need 1, have 0"),
        ("lock", NOBODY, USDC, 1, r"insufficient available USDC: need 0\.000001, have 0"),
        ("unlock", NOBODY, GOLD, 1, r"insufficient locked GOLD: need 1, have 0"),
        ("spend_locked", NOBODY, GOLD, 1, r"insufficient locked GOLD: need 1, have 0"),
    ],
)
def test_insufficient_balance_is_refused_naming_need_and_have(
    name: str, account: AccountId, token: TokenId, amount: int, message: str
) -> None:
    ledger = populated()
    before = ledger.to_state()
    with pytest.raises(InsufficientFunds, match=message):
        OPERATIONS[name](ledger, account, token, amount)
    assert ledger.to_state() == before
    assert ledger.balances(NOBODY) == {}
    ledger.check_conservation()


@pytest.mark.parametrize(
    ("name", "amount"), [("debit", 3), ("lock", 3), ("unlock", 2), ("spend_locked", 2)]
)
def test_exact_balance_is_enough(name: str, amount: int) -> None:
    ledger = populated()
    OPERATIONS[name](ledger, ALICE, GOLD, amount)
    ledger.check_conservation()
    record = ledger.balance(ALICE, GOLD)
    if name in {"debit", "lock"}:
        assert record.available == 0
    else:
        assert record.locked == 0


def test_a_refused_operation_leaves_supply_unchanged() -> None:
    ledger = populated()
    supplies = {token: ledger.total_supply(token) for token in (USDC, GOLD)}
    for name, operation in OPERATIONS.items():
        for amount in (0, 10**6, AMOUNT_MINOR_MAX + 1):
            if name == "credit" and amount == 10**6:
                continue  # a valid deposit
            with pytest.raises((InvalidAmount, InsufficientFunds)):
                operation(ledger, ALICE, GOLD, amount)
    assert {token: ledger.total_supply(token) for token in (USDC, GOLD)} == supplies
    ledger.check_conservation()

"""Goal: TokenLedger's registry, single-account operations, supply accounting and state round trip.
Method: hand-computed balances after each call, conservation checked after every operation."""

from __future__ import annotations

import json
from typing import cast

import pytest

from tachyon.dex.ids import AccountId, TokenId
from tachyon.dex.units import AMOUNT_MINOR_MAX, DECIMALS_MAX
from tachyon.errors import (
    AlreadyExists,
    InvalidConfig,
    SupplyExceeded,
    TokenNotFound,
)
from tachyon.ledger.ledger import BalanceRecord, TokenLedger, TokenMeta

ALICE = AccountId("alice")
BOB = AccountId("bob")
CAROL = AccountId("carol")
USDC = TokenId("USDC")
ETH = TokenId("ETH")
GOLD = TokenId("GOLD")


def make_ledger() -> TokenLedger:
    ledger = TokenLedger()
    ledger.set_meta(TokenMeta(USDC, 6))
    ledger.set_meta(TokenMeta(ETH, 2))
    ledger.set_meta(TokenMeta(GOLD, 0))
    ledger.check_conservation()
    return ledger


def state_of(ledger: TokenLedger) -> dict[str, object]:
    return ledger.to_state()


# -- registry ------------------------------------------------------------------------------


def test_set_meta_registers_tokens_sorted_by_symbol() -> None:
    ledger = make_ledger()
    assert ledger.tokens() == [TokenMeta(ETH, 2), TokenMeta(GOLD, 0), TokenMeta(USDC, 6)]
    assert ledger.get_meta(ETH) == TokenMeta(ETH, 2)
    assert ledger.total_supply(USDC) == 0
    assert ledger.accounts(USDC) == {}


def test_set_meta_again_with_the_same_meta_changes_nothing() -> None:
    ledger = make_ledger()
    ledger.credit(ALICE, USDC, 50)
    before = state_of(ledger)
    ledger.set_meta(TokenMeta(USDC, 6))
    assert state_of(ledger) == before
    assert ledger.balance(ALICE, USDC) == BalanceRecord(50, 0)
    assert ledger.total_supply(USDC) == 50
    ledger.check_conservation()


def test_set_meta_with_conflicting_decimals_is_refused() -> None:
    ledger = make_ledger()
    ledger.credit(ALICE, USDC, 50)
    before = state_of(ledger)
    with pytest.raises(AlreadyExists, match=r"token USDC is registered with 6 decimals"):
        ledger.set_meta(TokenMeta(USDC, 8))
    assert state_of(ledger) == before
    assert ledger.get_meta(USDC).decimals == 6
    ledger.check_conservation()


@pytest.mark.parametrize(
    "call",
    [
        lambda ledger: ledger.get_meta(TokenId("DOGE")),
        lambda ledger: ledger.total_supply(TokenId("DOGE")),
        lambda ledger: ledger.balance(ALICE, TokenId("DOGE")),
        lambda ledger: ledger.accounts(TokenId("DOGE")),
        lambda ledger: ledger.credit(ALICE, TokenId("DOGE"), 1),
        lambda ledger: ledger.debit(ALICE, TokenId("DOGE"), 1),
        lambda ledger: ledger.lock(ALICE, TokenId("DOGE"), 1),
        lambda ledger: ledger.unlock(ALICE, TokenId("DOGE"), 1),
        lambda ledger: ledger.spend_locked(ALICE, TokenId("DOGE"), 1),
    ],
)
def test_unknown_token_is_refused_naming_it(call: object) -> None:
    ledger = make_ledger()
    ledger.credit(ALICE, USDC, 10)
    before = state_of(ledger)
    with pytest.raises(TokenNotFound, match=r"unknown token 'DOGE'; known: ETH, GOLD, USDC"):
        call(ledger)  # type: ignore[operator]
    assert state_of(ledger) == before
    ledger.check_conservation()


def test_unknown_token_on_an_empty_registry_says_none_are_known() -> None:
    with pytest.raises(TokenNotFound, match=r"unknown token 'USDC'; known: none"):
        TokenLedger().get_meta(USDC)


@pytest.mark.parametrize("symbol", ["", "US DC", "US/DC", "ÜSDC", "USDC!", "a.b"])
def test_bad_symbols_are_refused(symbol: str) -> None:
    with pytest.raises(InvalidConfig, match=r"token symbol .* must be letters and digits") as info:
        TokenMeta(TokenId(symbol), 6)
    assert repr(symbol) in str(info.value)


@pytest.mark.parametrize("symbol", ["USDC", "wBTC-2", "A1", "x"])
def test_good_symbols_are_accepted(symbol: str) -> None:
    assert TokenMeta(TokenId(symbol), 0).symbol == symbol


def test_non_string_symbol_is_refused_as_invalid_config() -> None:
    with pytest.raises(InvalidConfig, match=r"token symbol 5 must be letters and digits"):
        TokenMeta(cast(TokenId, 5), 6)


@pytest.mark.parametrize("decimals", [-1, DECIMALS_MAX + 1, True, 2.0, "6", None])
def test_bad_decimals_are_refused(decimals: object) -> None:
    with pytest.raises(InvalidConfig, match=r"decimals .* must be an integer from 0 to 18") as e:
        TokenMeta(USDC, cast(int, decimals))
    assert repr(decimals) in str(e.value)


@pytest.mark.parametrize("decimals", [0, DECIMALS_MAX])
def test_decimal_bounds_are_accepted(decimals: int) -> None:
    assert TokenMeta(USDC, decimals).decimals == decimals


# -- single-account operations ----------------------------------------------------------------


def test_credit_debit_lock_unlock_spend_for_several_accounts_and_tokens() -> None:
    ledger = make_ledger()
    ledger.credit(ALICE, USDC, 1_000)
    ledger.check_conservation()
    ledger.credit(BOB, USDC, 400)
    ledger.check_conservation()
    ledger.credit(ALICE, ETH, 70)
    ledger.check_conservation()
    ledger.credit(CAROL, GOLD, 9)
    ledger.check_conservation()
    ledger.credit(ALICE, USDC, 1)
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(1_001, 0)

    ledger.lock(ALICE, USDC, 600)
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(401, 600)
    assert ledger.balance(ALICE, USDC).total == 1_001
    ledger.unlock(ALICE, USDC, 100)
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(501, 500)
    ledger.spend_locked(ALICE, USDC, 200)
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(501, 300)
    ledger.debit(ALICE, USDC, 501)
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(0, 300)

    ledger.lock(BOB, USDC, 400)
    ledger.check_conservation()
    ledger.unlock(BOB, USDC, 400)
    ledger.check_conservation()
    ledger.debit(BOB, USDC, 150)
    ledger.check_conservation()
    ledger.lock(ALICE, ETH, 70)
    ledger.check_conservation()
    ledger.spend_locked(ALICE, ETH, 70)
    ledger.check_conservation()

    assert ledger.balance(BOB, USDC) == BalanceRecord(250, 0)
    assert ledger.balance(ALICE, ETH) == BalanceRecord(0, 0)
    assert ledger.balance(CAROL, GOLD) == BalanceRecord(9, 0)
    assert ledger.balance(CAROL, USDC) == BalanceRecord(0, 0)
    assert ledger.balances(ALICE) == {ETH: BalanceRecord(0, 0), USDC: BalanceRecord(0, 300)}
    assert list(ledger.balances(ALICE)) == [ETH, USDC]
    assert ledger.balances(CAROL) == {GOLD: BalanceRecord(9, 0)}
    assert ledger.balances(AccountId("nobody")) == {}
    assert ledger.accounts(USDC) == {ALICE: BalanceRecord(0, 300), BOB: BalanceRecord(250, 0)}
    # supply = deposits - withdrawals - spend_locked, per token
    assert ledger.total_supply(USDC) == (1_000 + 400 + 1) - (501 + 150) - 200
    assert ledger.total_supply(ETH) == 70 - 70
    assert ledger.total_supply(GOLD) == 9


def test_supply_reaches_the_maximum_exactly_and_no_further() -> None:
    ledger = make_ledger()
    ledger.credit(ALICE, GOLD, AMOUNT_MINOR_MAX - 5)
    ledger.credit(BOB, GOLD, 5)
    ledger.check_conservation()
    assert ledger.total_supply(GOLD) == AMOUNT_MINOR_MAX
    before = state_of(ledger)
    with pytest.raises(
        SupplyExceeded,
        match=rf"deposit of 1 GOLD would take its supply past the maximum {AMOUNT_MINOR_MAX};"
        " nothing was changed",
    ):
        ledger.credit(CAROL, GOLD, 1)
    assert state_of(ledger) == before
    assert ledger.balance(CAROL, GOLD) == BalanceRecord()
    ledger.check_conservation()
    # another token's supply is bounded separately
    ledger.credit(CAROL, USDC, AMOUNT_MINOR_MAX)
    ledger.check_conservation()
    # after a withdrawal there is room again
    ledger.debit(BOB, GOLD, 3)
    ledger.credit(CAROL, GOLD, 3)
    assert ledger.total_supply(GOLD) == AMOUNT_MINOR_MAX
    ledger.check_conservation()


def test_supply_bound_message_renders_decimals() -> None:
    ledger = make_ledger()
    ledger.credit(ALICE, ETH, AMOUNT_MINOR_MAX)
    before = state_of(ledger)
    with pytest.raises(
        SupplyExceeded,
        match=r"deposit of 0\.5 ETH would take its supply past the maximum 184467440737095516\.15;",
    ):
        ledger.credit(BOB, ETH, 50)
    assert state_of(ledger) == before


def test_state_round_trip_preserves_everything() -> None:
    ledger = make_ledger()
    ledger.credit(ALICE, USDC, 1_000)
    ledger.credit(BOB, ETH, 30)
    ledger.lock(ALICE, USDC, 250)
    ledger.lock(BOB, ETH, 10)
    ledger.debit(BOB, ETH, 20)  # leaves bob's ETH available at 0: the record is kept
    ledger.check_conservation()
    state = ledger.to_state()
    assert state == {
        "tokens": [["ETH", 2], ["GOLD", 0], ["USDC", 6]],
        "balances": [["ETH", "bob", 0, 10], ["USDC", "alice", 750, 250]],
    }
    # through JSON, as a saved file would be
    loaded = json.loads(json.dumps(state))
    copy = TokenLedger.from_state(loaded["tokens"], loaded["balances"])
    copy.check_conservation()
    assert copy.to_state() == state
    assert copy.tokens() == ledger.tokens()
    for token in (USDC, ETH, GOLD):
        assert copy.total_supply(token) == ledger.total_supply(token)
        assert copy.accounts(token) == ledger.accounts(token)
    # the copy is independent and fully working
    copy.unlock(ALICE, USDC, 250)
    copy.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(750, 250)
    assert copy.balance(ALICE, USDC) == BalanceRecord(1_000, 0)


def test_empty_ledger_round_trip() -> None:
    state = TokenLedger().to_state()
    assert state == {"tokens": [], "balances": []}
    assert TokenLedger.from_state([], []).to_state() == state

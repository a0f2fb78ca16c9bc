"""Goal: TokenLedger.settle_fill (both fee modes), the seed's bid/ask helpers, and every refusal.
Method: hand-computed balances of buyer, seller and fee account; to_state() unchanged on refusal."""

from __future__ import annotations

import pytest

from tachyon.dex.ids import AccountId, TokenId
from tachyon.dex.model import FEE_ACCOUNT
from tachyon.dex.units import AMOUNT_MINOR_MAX
from tachyon.errors import InsufficientFunds, InvalidAmount, TachyonError, TokenNotFound
from tachyon.ledger.ledger import BalanceRecord, TokenLedger, TokenMeta

ALICE = AccountId("alice")  # the buyer
BOB = AccountId("bob")  # the seller
VAULT = AccountId("vault")  # a custom fee account
ETH = TokenId("ETH")  # base, 2 decimals
USDC = TokenId("USDC")  # quote, 6 decimals


def funded(
    buyer_quote_locked: int = 1_003, seller_base_locked: int = 52, account_b: AccountId = BOB
) -> TokenLedger:
    """alice: 500 USDC available + `buyer_quote_locked` locked; bob: 7 ETH available + locked."""
    ledger = TokenLedger()
    ledger.set_meta(TokenMeta(ETH, 2))
    ledger.set_meta(TokenMeta(USDC, 6))
    ledger.credit(ALICE, USDC, 500 + buyer_quote_locked)
    ledger.lock(ALICE, USDC, buyer_quote_locked)
    ledger.credit(account_b, ETH, 7 + seller_base_locked)
    ledger.lock(account_b, ETH, seller_base_locked)
    ledger.check_conservation()
    return ledger


def test_quote_fee_buyer_pays_on_top_seller_receives_less() -> None:
    ledger = funded()
    supply = (ledger.total_supply(ETH), ledger.total_supply(USDC))
    ledger.settle_fill(ETH, USDC, ALICE, BOB, 50, 1_000, buyer_fee=3, seller_fee=2)
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(500, 1_003 - 1_000 - 3)
    assert ledger.balance(ALICE, ETH) == BalanceRecord(50, 0)
    assert ledger.balance(BOB, ETH) == BalanceRecord(7, 52 - 50)
    assert ledger.balance(BOB, USDC) == BalanceRecord(1_000 - 2, 0)
    assert ledger.balance(FEE_ACCOUNT, USDC) == BalanceRecord(5, 0)
    assert ledger.balances(FEE_ACCOUNT) == {USDC: BalanceRecord(5, 0)}
    assert (ledger.total_supply(ETH), ledger.total_supply(USDC)) == supply


def test_base_fee_buyer_receives_less_seller_pays_on_top() -> None:
    ledger = funded()
    supply = (ledger.total_supply(ETH), ledger.total_supply(USDC))
    ledger.settle_fill(
        ETH, USDC, ALICE, BOB, 50, 1_000, buyer_fee=3, seller_fee=2, fee_in_base=True
    )
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(500, 3)
    assert ledger.balance(ALICE, ETH) == BalanceRecord(50 - 3, 0)
    assert ledger.balance(BOB, ETH) == BalanceRecord(7, 0)
    assert ledger.balance(BOB, USDC) == BalanceRecord(1_000, 0)
    assert ledger.balances(FEE_ACCOUNT) == {ETH: BalanceRecord(5, 0)}
    assert (ledger.total_supply(ETH), ledger.total_supply(USDC)) == supply


def test_fees_go_to_the_named_fee_account() -> None:
    ledger = funded()
    ledger.settle_fill(ETH, USDC, ALICE, BOB, 50, 1_000, 1, 4, fee_account=VAULT)
    ledger.check_conservation()
    assert ledger.balance(VAULT, USDC) == BalanceRecord(5, 0)
    assert ledger.balances(FEE_ACCOUNT) == {}
    ledger.settle_fill(ETH, USDC, ALICE, BOB, 2, 2, 0, 2, fee_in_base=False, fee_account=VAULT)
    assert ledger.balance(VAULT, USDC) == BalanceRecord(7, 0)
    assert ledger.balance(BOB, USDC) == BalanceRecord(996, 0)
    ledger.check_conservation()


def test_zero_fees_create_no_fee_record() -> None:
    ledger = funded()
    ledger.settle_fill(ETH, USDC, ALICE, BOB, 52, 1_003)
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(500, 0)
    assert ledger.balance(ALICE, ETH) == BalanceRecord(52, 0)
    assert ledger.balance(BOB, USDC) == BalanceRecord(1_003, 0)
    assert ledger.balance(BOB, ETH) == BalanceRecord(7, 0)
    assert FEE_ACCOUNT not in ledger.accounts(USDC)
    assert FEE_ACCOUNT not in ledger.accounts(ETH)


def test_a_fee_equal_to_the_whole_amount_is_allowed() -> None:
    ledger = funded(buyer_quote_locked=2_000)
    ledger.settle_fill(ETH, USDC, ALICE, BOB, 50, 1_000, buyer_fee=1_000, seller_fee=1_000)
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(500, 0)
    assert ledger.balance(BOB, USDC) == BalanceRecord(0, 0)
    assert ledger.balance(FEE_ACCOUNT, USDC) == BalanceRecord(2_000, 0)


def test_several_fills_accumulate() -> None:
    ledger = funded()
    ledger.settle_fill(ETH, USDC, ALICE, BOB, 20, 400, 1, 1)
    ledger.check_conservation()
    ledger.settle_fill(ETH, USDC, ALICE, BOB, 30, 600, 2, 1)
    ledger.check_conservation()
    assert ledger.balance(ALICE, USDC) == BalanceRecord(500, 0)
    assert ledger.balance(ALICE, ETH) == BalanceRecord(50, 0)
    assert ledger.balance(BOB, USDC) == BalanceRecord(998, 0)
    assert ledger.balance(BOB, ETH) == BalanceRecord(7, 2)
    assert ledger.balance(FEE_ACCOUNT, USDC) == BalanceRecord(5, 0)


@pytest.mark.parametrize("fee_in_base", [False, True])
def test_self_settlement_moves_only_the_fees(fee_in_base: bool) -> None:
    ledger = funded(account_b=ALICE)
    ledger.settle_fill(ETH, USDC, ALICE, ALICE, 50, 1_000, 3, 2, fee_in_base=fee_in_base)
    ledger.check_conservation()
    if fee_in_base:
        # pays 1000 locked quote, gets 1000 available; pays 52 locked base, gets 47 available
        assert ledger.balance(ALICE, USDC) == BalanceRecord(1_500, 3)
        assert ledger.balance(ALICE, ETH) == BalanceRecord(7 + 47, 0)
        assert ledger.balances(FEE_ACCOUNT) == {ETH: BalanceRecord(5, 0)}
    else:
        # pays 1003 locked quote, gets 998 available; pays 50 locked base, gets 50 available
        assert ledger.balance(ALICE, USDC) == BalanceRecord(500 + 998, 0)
        assert ledger.balance(ALICE, ETH) == BalanceRecord(7 + 50, 2)
        assert ledger.balances(FEE_ACCOUNT) == {USDC: BalanceRecord(5, 0)}


def test_settle_bid_fill_and_settle_ask_fill_move_the_same_funds() -> None:
    bid = funded()
    bid.settle_bid_fill(ALICE, BOB, ETH, USDC, 40, 800)
    bid.check_conservation()
    ask = funded()
    ask.settle_ask_fill(BOB, ALICE, ETH, USDC, 40, 800)
    ask.check_conservation()
    direct = funded()
    direct.settle_fill(ETH, USDC, ALICE, BOB, 40, 800)
    assert bid.to_state() == ask.to_state() == direct.to_state()
    assert bid.balance(ALICE, USDC) == BalanceRecord(500, 203)
    assert bid.balance(ALICE, ETH) == BalanceRecord(40, 0)
    assert bid.balance(BOB, ETH) == BalanceRecord(7, 12)
    assert bid.balance(BOB, USDC) == BalanceRecord(800, 0)


# -- refusals --------------------------------------------------------------------------------

BAD_QTYS: list[tuple[object, str]] = [
    (0, "0 must be positive"),
    (-3, "-3 must be positive"),
    (2.0, r"2\.0 is not an integer"),
    (True, "True is not an integer"),
    ("7", "'7' is not an integer"),
    (AMOUNT_MINOR_MAX + 1, f"{AMOUNT_MINOR_MAX + 1} exceeds the maximum {AMOUNT_MINOR_MAX}"),
]


def assert_refused(
    ledger: TokenLedger, error: type[TachyonError], message: str, **kwargs: object
) -> None:
    args: dict[str, object] = {
        "base": ETH,
        "quote": USDC,
        "buyer": ALICE,
        "seller": BOB,
        "base_qty": 50,
        "quote_qty": 1_000,
        "buyer_fee": 3,
        "seller_fee": 2,
        "fee_in_base": False,
    }
    args.update(kwargs)
    before = ledger.to_state()
    with pytest.raises(error, match=message):
        ledger.settle_fill(**args)  # type: ignore[arg-type]
    assert ledger.to_state() == before
    ledger.check_conservation()


@pytest.mark.parametrize("fee_in_base", [False, True])
@pytest.mark.parametrize(("value", "message"), BAD_QTYS)
def test_bad_base_qty_is_refused(value: object, message: str, fee_in_base: bool) -> None:
    assert_refused(
        funded(), InvalidAmount, f"base_qty {message}", base_qty=value, fee_in_base=fee_in_base
    )


@pytest.mark.parametrize("fee_in_base", [False, True])
@pytest.mark.parametrize(("value", "message"), BAD_QTYS)
def test_bad_quote_qty_is_refused(value: object, message: str, fee_in_base: bool) -> None:
    assert_refused(
        funded(), InvalidAmount, f"quote_qty {message}", quote_qty=value, fee_in_base=fee_in_base
    )


@pytest.mark.parametrize("which", ["buyer_fee", "seller_fee"])
@pytest.mark.parametrize("value", [-1, 1.0, True, "1", None, AMOUNT_MINOR_MAX + 1])
def test_bad_fee_is_refused_as_an_invalid_amount(which: str, value: object) -> None:
    # errors.py: InvalidAmount is "not a number, zero, negative, ..., over the maximum";
    # InsufficientFunds is "available (or locked) balance too small".
    assert_refused(
        funded(),
        InvalidAmount,
        rf"{which} {value!r} must be an integer from 0 to {AMOUNT_MINOR_MAX}".replace(".", r"\."),
        **{which: value},
    )


@pytest.mark.parametrize(
    ("fee_in_base", "kwargs", "message"),
    [
        (False, {"buyer_fee": 1_001}, r"a fee \(1001, 2\) exceeds the amount it is taken from"),
        (False, {"seller_fee": 1_001}, r"a fee \(3, 1001\) exceeds the amount it is taken from"),
        (True, {"buyer_fee": 51}, r"a fee \(51, 2\) exceeds the amount it is taken from"),
        (True, {"seller_fee": 51}, r"a fee \(3, 51\) exceeds the amount it is taken from"),
    ],
)
def test_fee_exceeding_the_amount_is_refused(
    fee_in_base: bool, kwargs: dict[str, object], message: str
) -> None:
    ledger = funded(buyer_quote_locked=5_000, seller_base_locked=200)
    assert_refused(ledger, InvalidAmount, message, fee_in_base=fee_in_base, **kwargs)


@pytest.mark.parametrize(
    ("fee_in_base", "buyer_locked", "seller_locked", "message"),
    [
        # quote fee: the buyer needs quote + buyer fee = 1003 locked; the seller 50 base
        (False, 1_002, 50, r"insufficient locked USDC: need 0\.001003, have 0\.001002"),
        (False, 1_003, 49, r"insufficient locked ETH: need 0\.5, have 0\.49"),
        # base fee: the buyer needs 1000 locked quote; the seller base + seller fee = 52
        (True, 999, 52, r"insufficient locked USDC: need 0\.001, have 0\.000999"),
        (True, 1_000, 51, r"insufficient locked ETH: need 0\.52, have 0\.51"),
        # both short: the buyer is named first
        (False, 1, 1, r"insufficient locked USDC: need 0\.001003, have 0\.000001"),
    ],
)
def test_insufficient_locked_on_either_side_is_refused(
    fee_in_base: bool, buyer_locked: int, seller_locked: int, message: str
) -> None:
    ledger = funded(buyer_locked, seller_locked)
    assert_refused(ledger, InsufficientFunds, message, fee_in_base=fee_in_base)


def test_available_funds_do_not_pay_for_a_fill() -> None:
    ledger = funded(
        buyer_quote_locked=1_000
    )  # 500 available would cover the fee, but is not locked
    assert_refused(
        ledger, InsufficientFunds, r"insufficient locked USDC: need 0\.001003, have 0\.001"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"buyer": AccountId("ghost")}, r"insufficient locked USDC: need 0\.001003, have 0$"),
        ({"seller": AccountId("ghost")}, r"insufficient locked ETH: need 0\.5, have 0$"),
    ],
)
def test_unknown_account_has_nothing_locked(kwargs: dict[str, object], message: str) -> None:
    assert_refused(funded(), InsufficientFunds, message, **kwargs)


@pytest.mark.parametrize("which", ["base", "quote"])
def test_unknown_token_is_refused(which: str) -> None:
    assert_refused(
        funded(), TokenNotFound, r"unknown token 'DOGE'; known: ETH, USDC", **{which: "DOGE"}
    )


def test_settling_one_token_against_itself_never_breaks_conservation() -> None:
    # base == quote for one account: the two locked checks look at the same record.
    ledger = TokenLedger()
    ledger.set_meta(TokenMeta(USDC, 6))
    ledger.credit(ALICE, USDC, 10)
    ledger.lock(ALICE, USDC, 10)
    before = ledger.to_state()
    try:
        ledger.settle_fill(USDC, USDC, ALICE, ALICE, 10, 10)
    except TachyonError:
        assert ledger.to_state() == before
    ledger.check_conservation()

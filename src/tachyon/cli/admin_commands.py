"""`tachyon admin ...`: the operator's commands, each signed by the operator wallet's key.

`admin init` makes the wallet the operator of its exchange (once). Every other command is
refused `not_operator` (nothing changed) unless the wallet is the operator. Amounts, sizes and
prices are decimal strings in token units, converted exactly with the tokens' decimals: tick,
min-notional and max-notional in the quote token, lot, min-qty, max-qty and max-position in the
base token; the price band is a percentage with at most two decimals (2.5 = 250 bps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import click

from tachyon.cli import options, ports, render
from tachyon.cli.ports import market_of, token_of
from tachyon.client import shapes
from tachyon.dex.units import to_minor

if TYPE_CHECKING:
    from tachyon.exchange.commands import AccountCommand
    from tachyon.exchange.state_machine import Outcome
    from tachyon.wallet.wallet import Wallet

PERCENT_DECIMALS: Final = 2  # a price band in percent, to basis points


@click.group()
def admin() -> None:
    """The operator's commands: tokens, markets, fees, risk limits, halts, deposits."""


acting = options.acting


def _run(
    ctx: click.Context,
    common: dict[str, str | bool | None],
    build: Callable[[Wallet], AccountCommand],
    show: Callable[[Wallet, Outcome], dict[str, object]],
) -> None:
    """Unlock the wallet, sign and submit what `build` makes, print what `show` makes."""
    from tachyon.errors import TachyonError  # noqa: PLC0415

    try:
        with ports.acting(ctx, common) as wallet:
            outcome = wallet.act(build(wallet))
            result = show(wallet, outcome)
    except TachyonError as exc:
        raise options.fail(exc) from exc
    override = common.get("output_format")
    if options.output_format(ctx, override if isinstance(override, str) else None) == "json":
        render.emit_json(result)
    else:
        from tachyon.cli import tables  # noqa: PLC0415

        tables.console().print(tables.fields_table("admin", result))


@admin.command()
@acting
def init(ctx: click.Context, **common: str | bool | None) -> None:
    """Make this wallet the operator of its exchange (refused if it has one)."""
    from tachyon.exchange.commands import SetOperator  # noqa: PLC0415

    _run(
        ctx,
        common,
        lambda wallet: SetOperator(wallet.address),
        lambda wallet, _: {"operator": wallet.address},
    )


@admin.command()
@click.option("--to", "to", required=True, help="The account (address) to credit.")
@click.option("--token", required=True, help="Token symbol.")
@click.option("--amount", required=True, help="Token units, as a decimal string.")
@acting
def deposit(
    ctx: click.Context, to: str, token: str, amount: str, **common: str | bool | None
) -> None:
    """Credit any account (works in the prod profile; the dev faucet does not)."""
    from tachyon.exchange.commands import AdminDeposit  # noqa: PLC0415

    def build(wallet: Wallet) -> AccountCommand:
        meta = token_of(wallet.exchange, token)
        return AdminDeposit(wallet.address, to, meta.symbol, to_minor(amount, meta.decimals))

    def show(wallet: Wallet, outcome: Outcome) -> dict[str, object]:
        meta = token_of(wallet.exchange, token)
        return {"address": to, "balances": [_balance(meta.symbol, meta.decimals, outcome)]}

    _run(ctx, common, build, show)


@admin.group()
def withdrawal() -> None:
    """Close an account's pending withdrawal: complete it (paid out) or reject it."""


def _close_withdrawal(
    ctx: click.Context,
    withdrawal_id: int,
    reference: str | None,
    completed: bool,
    common: dict[str, str | bool | None],
) -> None:
    from tachyon.exchange.commands import AdminCloseWithdrawal  # noqa: PLC0415
    from tachyon.exchange.withdrawals import Withdrawal  # noqa: PLC0415

    def show(wallet: Wallet, outcome: Outcome) -> dict[str, object]:
        assert isinstance(outcome, Withdrawal), outcome
        meta = token_of(wallet.exchange, outcome.token)
        return {"withdrawal": shapes.withdrawal_json(meta.decimals, outcome)}

    _run(
        ctx,
        common,
        lambda wallet: AdminCloseWithdrawal(wallet.address, withdrawal_id, completed, reference),
        show,
    )


@withdrawal.command(name="complete")
@click.option("--id", "withdrawal_id", type=click.IntRange(1, None), required=True)
@click.option("--reference", default=None, help="Your reference (a payout id).")
@acting
def withdrawal_complete(
    ctx: click.Context, withdrawal_id: int, reference: str | None, **common: str | bool | None
) -> None:
    """The amount has been paid out: it leaves the exchange."""
    _close_withdrawal(ctx, withdrawal_id, reference, True, common)


@withdrawal.command(name="reject")
@click.option("--id", "withdrawal_id", type=click.IntRange(1, None), required=True)
@click.option("--reference", default=None, help="Why (the account sees it).")
@acting
def withdrawal_reject(
    ctx: click.Context, withdrawal_id: int, reference: str | None, **common: str | bool | None
) -> None:
    """Not paid out: the amount is the account's again."""
    _close_withdrawal(ctx, withdrawal_id, reference, False, common)


# -- tokens ------------------------------------------------------------------------------------


@admin.group()
def token() -> None:
    """Register tokens."""


@token.command(name="add")
@click.option("--symbol", required=True, help="Token symbol, e.g. ETH.")
@click.option("--decimals", type=click.IntRange(0, 18), required=True, help="Minor-unit places.")
@acting
def token_add(ctx: click.Context, symbol: str, decimals: int, **common: str | bool | None) -> None:
    """Register a token (amounts are at most 2**64 - 1 minor units: 8 decimals allow 184
    billion whole units; more than 10 decimals is refused)."""
    from tachyon.exchange.commands import AdminAddToken  # noqa: PLC0415

    _run(
        ctx,
        common,
        lambda wallet: AdminAddToken(wallet.address, symbol, decimals),
        lambda _wallet, _: {"token": {"symbol": symbol, "decimals": decimals}},
    )


# -- markets -----------------------------------------------------------------------------------


@admin.group()
def market() -> None:
    """List, halt and resume markets."""


@market.command(name="add")
@click.option("--market", "market_id", required=True, help="BASE/QUOTE, both registered tokens.")
@click.option("--tick", required=True, help="Price step, in quote-token units.")
@click.option("--lot", required=True, help="Quantity step, in base-token units.")
@click.option("--min-qty", required=True, help="Smallest order, in base-token units.")
@click.option("--max-qty", default=None, help="Largest order, in base-token units.")
@click.option("--min-notional", default=None, help="Smallest order value, in quote-token units.")
@click.option("--engine", default=None, help="Matching engine [default: the exchange's].")
@acting
def market_add(
    ctx: click.Context,
    market_id: str,
    tick: str,
    lot: str,
    min_qty: str,
    max_qty: str | None,
    min_notional: str | None,
    engine: str | None,
    **common: str | bool | None,
) -> None:
    """List a market of two registered tokens."""
    from tachyon.exchange.commands import AdminAddMarket  # noqa: PLC0415

    base_symbol, _, quote_symbol = market_id.partition("/")

    def build(wallet: Wallet) -> AccountCommand:
        base, quote = (
            token_of(wallet.exchange, base_symbol),
            token_of(wallet.exchange, quote_symbol),
        )
        return AdminAddMarket(
            wallet.address,
            base.symbol,
            quote.symbol,
            to_minor(tick, quote.decimals, "tick"),
            to_minor(lot, base.decimals, "lot"),
            to_minor(min_qty, base.decimals, "min-qty"),
            None if max_qty is None else to_minor(max_qty, base.decimals, "max-qty"),
            None
            if min_notional is None
            else to_minor(min_notional, quote.decimals, "min-notional"),
            engine,
        )

    def show(wallet: Wallet, _: Outcome) -> dict[str, object]:
        config = market_of(wallet.exchange, market_id)
        rules = wallet.exchange.market_rules()[config.market_id]
        return {"market": shapes.market_json(config, rules)}

    _run(ctx, common, build, show)


def _halt(
    ctx: click.Context, market_id: str, halted: bool, common: dict[str, str | bool | None]
) -> None:
    from tachyon.exchange.commands import AdminHaltMarket  # noqa: PLC0415

    _run(
        ctx,
        common,
        lambda wallet: AdminHaltMarket(
            wallet.address, market_of(wallet.exchange, market_id).market_id, halted
        ),
        lambda _wallet, _: {"market": market_id, "halted": halted},
    )


@market.command()
@click.option("--market", "market_id", required=True, help="BASE/QUOTE.")
@acting
def halt(ctx: click.Context, market_id: str, **common: str | bool | None) -> None:
    """Halt a market: only cancels are accepted until it is resumed."""
    _halt(ctx, market_id, True, common)


@market.command()
@click.option("--market", "market_id", required=True, help="BASE/QUOTE.")
@acting
def resume(ctx: click.Context, market_id: str, **common: str | bool | None) -> None:
    """Resume a halted market."""
    _halt(ctx, market_id, False, common)


# -- fees --------------------------------------------------------------------------------------


@admin.group()
def fees() -> None:
    """Set a market's fees and collect the fee account's balance."""


@fees.command(name="set")
@click.option("--market", "market_id", required=True, help="BASE/QUOTE.")
@click.option(
    "--maker-bps",
    type=click.IntRange(-10_000, 10_000),
    required=True,
    help="Negative: a rebate to the maker, at most the taker fee.",
)
@click.option("--taker-bps", type=click.IntRange(0, 10_000), required=True)
@acting
def fees_set(
    ctx: click.Context, market_id: str, maker_bps: int, taker_bps: int, **common: str | bool | None
) -> None:
    """Set a market's maker and taker fees (basis points, in its quote token); open orders
    re-lock what the new maker fee needs, and one that cannot is cancelled."""
    from tachyon.exchange.commands import AdminSetFees  # noqa: PLC0415

    _run(
        ctx,
        common,
        lambda wallet: AdminSetFees(
            wallet.address, market_of(wallet.exchange, market_id).market_id, maker_bps, taker_bps
        ),
        lambda _wallet, cancelled: {
            "market": market_id,
            "maker_bps": maker_bps,
            "taker_bps": taker_bps,
            "cancelled_orders": cancelled if isinstance(cancelled, list) else [],
        },
    )


@fees.command(name="collect")
@click.option("--token", required=True, help="Token symbol.")
@acting
def fees_collect(ctx: click.Context, token: str, **common: str | bool | None) -> None:
    """Move the fee account's available balance of a token to the operator's account."""
    from tachyon.exchange.commands import AdminCollectFees  # noqa: PLC0415

    def show(wallet: Wallet, outcome: Outcome) -> dict[str, object]:
        meta = token_of(wallet.exchange, token)
        return {
            "address": wallet.address,
            "balances": [_balance(meta.symbol, meta.decimals, outcome)],
        }

    _run(
        ctx,
        common,
        lambda wallet: AdminCollectFees(wallet.address, token_of(wallet.exchange, token).symbol),
        show,
    )


# -- risk --------------------------------------------------------------------------------------


@admin.group()
def risk() -> None:
    """Set a market's risk limits."""


@risk.command(name="set")
@click.option("--market", "market_id", required=True, help="BASE/QUOTE.")
@click.option("--max-notional", default=None, help="Largest order value, in quote-token units.")
@click.option("--price-band-pct", default=None, help="Band around the reference price, in %.")
@click.option("--max-position", default=None, help="Largest holding, in base-token units.")
@click.option("--max-open-orders", type=click.IntRange(1, None), default=None)
@click.option("--clear", is_flag=True, default=False, help="Remove every limit first.")
@acting
def risk_set(
    ctx: click.Context,
    market_id: str,
    max_notional: str | None,
    price_band_pct: str | None,
    max_position: str | None,
    max_open_orders: int | None,
    clear: bool,
    **common: str | bool | None,
) -> None:
    """Set a market's risk limits; limits not given stay as they are (--clear removes all
    first). Tightened limits apply to new orders; open orders stay."""
    from tachyon.exchange.commands import AdminSetRisk  # noqa: PLC0415

    def build(wallet: Wallet) -> AccountCommand:
        config = market_of(wallet.exchange, market_id)
        quote, base = config.quote_decimals, config.base_decimals
        return AdminSetRisk(
            wallet.address,
            config.market_id,
            None if max_notional is None else to_minor(max_notional, quote, "max-notional"),
            None
            if price_band_pct is None
            else to_minor(price_band_pct, PERCENT_DECIMALS, "price-band-pct"),
            None if max_position is None else to_minor(max_position, base, "max-position"),
            max_open_orders,
            clear,
        )

    def show(wallet: Wallet, _: Outcome) -> dict[str, object]:
        return {"market": market_id, "risk": ports.market_rules_json(wallet.exchange, market_id)}

    _run(ctx, common, build, show)


def _balance(token: str, decimals: int, outcome: Outcome) -> dict[str, str]:
    from tachyon.ledger.ledger import BalanceRecord  # noqa: PLC0415

    assert isinstance(outcome, BalanceRecord), outcome
    return shapes.balance_json(token, decimals, outcome.available, outcome.locked, outcome.debt)

"""`tachyon dex ...`: the seed's trading commands for one wallet on its exchange.

Public reads (book, trades, markets) need no password and ignore one; `balance` and `orders`
need none on an embedded exchange but check one that is given (--password or
$TACHYON_PASSWORD), refusing a wrong one. Acting commands unlock the wallet, sign a command
for its account and wait until the exchange has made it durable. With `--node URL` (or
a wallet created with `--node`) every command talks to that node instead of an embedded
exchange and prints the same output; `balance`, `orders` and `history` then sign their read
with the wallet's key, so they ask for its password as acting commands do. Amounts, prices and
quantities are decimal strings in token units, converted exactly with the token's decimals;
times are the journal time of the command (`time_ns` in JSON, ISO 8601 UTC in tables).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Final

import click

from tachyon.cli import options, ports, render
from tachyon.cli.ports import market_of, order_market, token_of
from tachyon.client import shapes
from tachyon.dex.ids import AccountId
from tachyon.dex.units import to_minor

if TYPE_CHECKING:
    from rich.console import Group

    from tachyon.dex.ids import TokenId
    from tachyon.dex.model import MarketConfig
    from tachyon.dex.records import Receipt
    from tachyon.exchange.port import ExchangePort
    from tachyon.exchange.service import Placement, StopOrder
    from tachyon.ledger.ledger import BalanceRecord, TokenMeta

DEFAULT_MARKET: Final = "BASE/USDC"
DEPTH_MAX: Final = 1_000
TRADES_LIMIT_MAX: Final = 1_000
HISTORY_LIMIT_MAX: Final = 1_000
HISTORY_LIMIT_DEFAULT: Final = 50

market_option = click.option(
    "--market", default=DEFAULT_MARKET, show_default=True, help="Market as BASE/QUOTE."
)
optional_db_path = options.wallet_path_options(
    required=False, help_text="Wallet directory: read the exchange it trades on"
)


@click.group()
def dex() -> None:
    """Trade on the exchange with a wallet: deposits, orders, book, trades, balances."""


# -- reading ---------------------------------------------------------------------------------


@dex.command()
@options.db_path_option
@options.password_option
@options.non_interactive_option
@options.node_option
@options.format_override
@click.pass_context
def balance(
    ctx: click.Context,
    db_path: str,
    password: str | None,
    non_interactive: bool,
    node: str | None,
    output_format: str | None,
) -> None:
    """The wallet's balances of every token: available and locked.

    No password needed on an embedded exchange (one given is checked); over a node the read is
    signed with the wallet's key, so the password is asked for (or taken from --password /
    $TACHYON_PASSWORD)."""
    key = ports.key_file(db_path)
    with ports.reading(ctx, key, node, password, non_interactive) as port:
        metas, held = port.tokens(), port.balances(AccountId(key.address))
    _emit_balances(ctx, output_format, key.address, metas, held)


@dex.command()
@options.db_path_option
@options.password_option
@options.non_interactive_option
@options.node_option
@options.format_override
@click.pass_context
def orders(
    ctx: click.Context,
    db_path: str,
    password: str | None,
    non_interactive: bool,
    node: str | None,
    output_format: str | None,
) -> None:
    """The wallet's open orders in every market, oldest first, with when each was placed.

    No password needed on an embedded exchange (one given is checked); over a node the read is
    signed with the wallet's key: the password is asked for."""
    key = ports.key_file(db_path)
    with ports.reading(ctx, key, node, password, non_interactive) as port:
        owned = port.order_records(AccountId(key.address))
        configs = {config.market_id: config for config in port.markets()}  # they only grow
    rows = [
        shapes.order_json(configs[each.order.market], each.order, each.time_ns) for each in owned
    ]
    _emit(ctx, output_format, {"orders": rows}, lambda: _tables().human_table("open orders", rows))


@dex.command()
@options.db_path_option
@click.option("--market", default=None, help="Only this market (BASE/QUOTE); default: every one.")
@click.option(
    "--limit",
    type=click.IntRange(1, HISTORY_LIMIT_MAX),
    default=HISTORY_LIMIT_DEFAULT,
    show_default=True,
    help="The latest this many closed orders, and as many fills.",
)
@options.password_option
@options.non_interactive_option
@options.node_option
@options.format_override
@click.pass_context
def history(
    ctx: click.Context,
    db_path: str,
    market: str | None,
    limit: int,
    password: str | None,
    non_interactive: bool,
    node: str | None,
    output_format: str | None,
) -> None:
    """The wallet's closed orders (filled or cancelled, and why) and its fills (its side,
    maker or taker, and the fee it paid), each newest first.

    As `orders`: no password needed on an embedded exchange (one given is checked); over a
    node the read is signed with the wallet's key."""
    key = ports.key_file(db_path)
    with ports.reading(ctx, key, node, password, non_interactive) as port:
        configs = {config.market_id: config for config in port.markets()}
        market_id = None if market is None else market_of(port, market).market_id
        past = port.history(AccountId(key.address), market_id, limit)
    result = shapes.history_json(configs, past)
    _emit(ctx, output_format, result, lambda: _tables().history_tables(result))


@dex.command()
@optional_db_path
@options.data_dir_option
@market_option
@click.option("--depth", type=click.IntRange(1, DEPTH_MAX), default=10, show_default=True)
@options.password_option
@options.node_option
@options.format_override
@click.pass_context
def orderbook(
    ctx: click.Context,
    db_path: str | None,
    data_dir: str | None,
    market: str,
    depth: int,
    password: str | None,
    node: str | None,
    output_format: str | None,
) -> None:
    """Aggregated price levels of a market, best first."""
    with ports.public(ctx, node, db_path, data_dir).open() as port:
        config = market_of(port, market)
        book = render.book_json(config, port.book(depth, config.market_id))
    _emit(ctx, output_format, book, lambda: _tables().book_table(book, config.base, config.quote))


@dex.command()
@optional_db_path
@options.data_dir_option
@market_option
@click.option("--limit", type=click.IntRange(1, TRADES_LIMIT_MAX), default=20, show_default=True)
@options.password_option
@options.node_option
@options.format_override
@click.pass_context
def trades(
    ctx: click.Context,
    db_path: str | None,
    data_dir: str | None,
    market: str,
    limit: int,
    password: str | None,
    node: str | None,
    output_format: str | None,
) -> None:
    """A market's recent trades, newest first, with the maker's and the taker's fee and when
    each was made."""
    with ports.public(ctx, node, db_path, data_dir).open() as port:
        config = market_of(port, market)
        recent = port.trade_records(limit, config.market_id)
    rows = [shapes.trade_record_json(config, record) for record in recent]
    result: dict[str, object] = {"market": config.market_id, "trades": rows}

    def table() -> object:
        tables = _tables()
        units = tables.trade_units(config.base, config.quote, config.fee_token)
        return tables.human_table(f"trades {market} (newest first)", rows, units)

    _emit(ctx, output_format, result, table)


@dex.command()
@optional_db_path
@options.data_dir_option
@options.password_option
@options.node_option
@options.format_override
@click.pass_context
def markets(
    ctx: click.Context,
    db_path: str | None,
    data_dir: str | None,
    password: str | None,
    node: str | None,
    output_format: str | None,
) -> None:
    """Every market with its tokens, decimals, tick, lot, size limits, fees, risk limits
    (null where unset), whether it is halted, and its engine."""
    with ports.public(ctx, node, db_path, data_dir).open() as port:
        rules = port.market_rules()
        rows = [
            shapes.market_json(config, rules.get(config.market_id)) for config in port.markets()
        ]
    _emit(ctx, output_format, {"markets": rows}, lambda: _tables().records_table(rows, "market"))


@dex.command()
@optional_db_path
@options.data_dir_option
@options.password_option
@options.node_option
@options.format_override
@click.pass_context
def tokens(
    ctx: click.Context,
    db_path: str | None,
    data_dir: str | None,
    password: str | None,
    node: str | None,
    output_format: str | None,
) -> None:
    """Every registered token with its decimals."""
    with ports.public(ctx, node, db_path, data_dir).open() as port:
        rows: list[dict[str, object]] = [
            {"symbol": meta.symbol, "decimals": meta.decimals} for meta in port.tokens()
        ]
    _emit(ctx, output_format, {"tokens": rows}, lambda: _tables().records_table(rows, "symbol"))


@dex.command()
@optional_db_path
@options.data_dir_option
@market_option
@click.option("--depth", type=click.IntRange(1, DEPTH_MAX), default=10, show_default=True)
@click.option("--interval-ms", type=click.IntRange(50, 3_600_000), default=1000, show_default=True)
@click.option(
    "--iterations",
    type=click.IntRange(1, None),
    default=None,
    help="Stop after this many redraws [default: until Ctrl-C].",
)
@options.password_option
@options.node_option
@options.format_override
@click.pass_context
def watch(
    ctx: click.Context,
    db_path: str | None,
    data_dir: str | None,
    market: str,
    depth: int,
    interval_ms: int,
    iterations: int | None,
    password: str | None,
    node: str | None,
    output_format: str | None,
) -> None:
    """Redraw the book and recent trades until Ctrl-C (JSON: one line each).

    On the embedded exchange it reads them again every interval; over a node it follows the
    node's market stream and redraws what it holds every interval, changed or not."""
    from tachyon.cli import watching  # noqa: PLC0415

    source = ports.public(ctx, node, db_path, data_dir)
    as_json = options.output_format(ctx, output_format) == "json"
    with contextlib.suppress(KeyboardInterrupt), source.open() as port:  # Ctrl-C: exit 0
        frames = watching.frames(port, source.url, market, depth, interval_ms / 1000)
        watching.show(frames, iterations, as_json=as_json)


# -- acting ----------------------------------------------------------------------------------


acting = options.acting


@dex.command(name="deposit-usdc")
@click.option("--amount", required=True, help="USDC, as a decimal string.")
@acting
def deposit_usdc(ctx: click.Context, amount: str, **common: str | bool | None) -> None:
    """Credit the wallet with USDC (dev profile faucet)."""
    _deposit(ctx, "USDC", amount, common)


@dex.command(name="deposit-base")
@click.option("--amount", required=True, help="BASE, as a decimal string.")
@acting
def deposit_base(ctx: click.Context, amount: str, **common: str | bool | None) -> None:
    """Credit the wallet with BASE (dev profile faucet)."""
    _deposit(ctx, "BASE", amount, common)


@dex.command()
@click.option("--token", required=True, help="Token symbol.")
@click.option("--amount", required=True, help="Token units, as a decimal string.")
@acting
def deposit(ctx: click.Context, token: str, amount: str, **common: str | bool | None) -> None:
    """Credit the wallet with any registered token (dev profile faucet)."""
    _deposit(ctx, token, amount, common)


@dex.command()
@click.option("--token", required=True, help="Token symbol.")
@click.option("--amount", required=True, help="Token units, as a decimal string.")
@click.option(
    "--to",
    "destination",
    default=None,
    help="Where the money goes (an account, an address): a pending withdrawal the operator"
    " pays out. Without it (dev profile only) the tokens are simply taken out.",
)
@acting
def withdraw(
    ctx: click.Context,
    token: str,
    amount: str,
    destination: str | None,
    **common: str | bool | None,
) -> None:
    """Withdraw from the wallet's available balance: to a destination, locked until the
    operator completes (pays out) or rejects (returns) it; or, dev profile, at once."""
    if destination is None:
        options.refuse_in_prod(
            "withdraw without --to", "money leaves only to a destination (dex withdraw --to)"
        )
    with ports.acting(ctx, common) as wallet:
        meta = token_of(wallet.exchange, token)
        minor = to_minor(amount, meta.decimals, "amount")
        if destination is not None:
            withdrawal = wallet.request_withdrawal(meta.symbol, minor, destination)
        else:
            record = wallet.withdraw(meta.symbol, minor)
    if destination is None:
        _emit_balances(ctx, _override(common), wallet.address, [meta], {meta.symbol: record})
        return
    row = shapes.withdrawal_json(meta.decimals, withdrawal)
    _emit(
        ctx,
        _override(common),
        {"withdrawal": row},
        lambda: _tables().fields_table(f"withdrawal {withdrawal.withdrawal_id}", row),
    )


@dex.command()
@acting
def withdrawals(ctx: click.Context, **common: str | bool | None) -> None:
    """The wallet's withdrawals with a destination, oldest first, with their states."""
    with _account_reading(ctx, common) as (port, account):
        listed = port.withdrawals(account)
        decimals = {meta.symbol: meta.decimals for meta in port.tokens()}
    rows = [shapes.withdrawal_json(decimals[w.token], w) for w in listed]
    _emit(
        ctx,
        _override(common),
        {"withdrawals": rows},
        lambda: _tables().rows_table("withdrawals", rows),
    )


SIDES: Final = click.Choice(["bid", "ask"])
client_order_id_option: Final = click.option(
    "--client-order-id",
    default=None,
    help="Your id for the order (1-36 of A-Z a-z 0-9 ._:/-): a retry under it is not doubled.",
)
STP_MODES: Final = click.Choice(
    [
        "cancel_maker",
        "cancel_taker",
        "cancel_both",
        "decrement_and_cancel",
        "allow",
        # Binance's names for the same modes
        "expire_maker",
        "expire_taker",
        "expire_both",
        "decrement",
    ],
    case_sensitive=False,
)


@dex.command(name="place-limit")
@click.option("--side", type=SIDES, required=True)
@click.option("--price", required=True, help="Quote-token units per base token.")
@click.option("--qty", required=True, help="Base-token units.")
@market_option
@click.option(
    "--tif",
    type=click.Choice(["gtc", "ioc", "fok", "gtd"]),
    default="gtc",
    show_default=True,
    help="gtd: good till --expire-at (a GTC order the exchange cancels at that time).",
)
@click.option(
    "--expire-at",
    default=None,
    help="With --tif gtd: ISO 8601 UTC (2026-12-31T23:59:59Z) or integer nanoseconds.",
)
@click.option("--post-only", is_flag=True, default=False, help="Refuse the order if it would take.")
@click.option(
    "--stp",
    type=STP_MODES,
    default="cancel_maker",
    show_default=True,
    help="Self-trade prevention when it meets the wallet's own resting order.",
)
@click.option(
    "--display-qty", default=None, help="An iceberg: only this much shows in the book (GTC)."
)
@client_order_id_option
@acting
def place_limit(
    ctx: click.Context,
    side: str,
    price: str,
    qty: str,
    market: str,
    tif: str,
    expire_at: str | None,
    post_only: bool,
    stp: str,
    display_qty: str | None,
    client_order_id: str | None,
    **common: str | bool | None,
) -> None:
    """Place a limit order; what it does not fill rests (GTC, GTD) or is cancelled (IOC,
    FOK)."""
    from tachyon.dex.model import SelfTradePrevention, Side, TimeInForce  # noqa: PLC0415
    from tachyon.dex.validation import parse_price, parse_qty  # noqa: PLC0415
    from tachyon.errors import FillOrKillUnfillable, PostOnlyWouldTake  # noqa: PLC0415

    if (tif == "gtd") != (expire_at is not None):
        raise click.UsageError("--tif gtd and --expire-at go together")
    expire_at_ns = None if expire_at is None else parse_time_ns(expire_at)
    with ports.acting(ctx, common) as wallet:
        config = market_of(wallet.exchange, market)
        try:
            if expire_at_ns is None and display_qty is None and client_order_id is None:
                placement = wallet.place_limit(
                    config.market_id,
                    Side(side),
                    parse_price(config, price),
                    parse_qty(config, qty),
                    tif=TimeInForce(tif),
                    post_only=post_only,
                    stp=SelfTradePrevention(stp),
                )
            else:  # an option only `PlaceOrder` carries
                placement = wallet.place_order(
                    config.market_id,
                    Side(side),
                    parse_price(config, price),
                    parse_qty(config, qty),
                    tif=TimeInForce.GTC if tif == "gtd" else TimeInForce(tif),
                    post_only=post_only,
                    stp=SelfTradePrevention(stp),
                    display_qty=None if display_qty is None else parse_qty(config, display_qty),
                    expire_at_ns=expire_at_ns,
                    client_order_id=client_order_id,
                )
        except PostOnlyWouldTake:  # the core's message is in minor units; say it as typed
            raise click.ClickException(
                f"post-only {side} of {qty} at {price} would take liquidity: nothing placed"
            ) from None
        except FillOrKillUnfillable:
            raise click.ClickException(
                f"fill-or-kill {side} of {qty} at {price} cannot fill completely: nothing placed"
            ) from None
    _emit_placement(ctx, _override(common), config, placement, wallet.exchange.last_receipt())


@dex.command(name="place-market")
@click.option("--side", type=SIDES, required=True)
@click.option("--qty", default=None, help="Base-token units to buy or sell.")
@click.option(
    "--max-quote", default=None, help="Bids only: spend at most this much quote token instead."
)
@market_option
@click.option("--stp", type=STP_MODES, default="cancel_maker", show_default=True)
@client_order_id_option
@acting
def place_market(
    ctx: click.Context,
    side: str,
    qty: str | None,
    max_quote: str | None,
    market: str,
    stp: str,
    client_order_id: str | None,
    **common: str | bool | None,
) -> None:
    """Take liquidity now; never rests (the unfilled rest is cancelled)."""
    from tachyon.dex.model import SelfTradePrevention, Side  # noqa: PLC0415
    from tachyon.dex.validation import parse_qty  # noqa: PLC0415

    if (qty is None) == (max_quote is None):
        raise click.UsageError("give exactly one of --qty and --max-quote")
    if max_quote is not None and side != "bid":
        raise click.UsageError("--max-quote is for bids: an ask sells a --qty of base")
    with ports.acting(ctx, common) as wallet:
        config = market_of(wallet.exchange, market)
        quantity = None if qty is None else parse_qty(config, qty)
        budget = (
            None if max_quote is None else to_minor(max_quote, config.quote_decimals, "max-quote")
        )
        if client_order_id is None:
            placement = wallet.place_market(
                config.market_id,
                Side(side),
                quantity,
                max_quote=budget,
                stp=SelfTradePrevention(stp),
            )
        else:
            placement = wallet.place_order(
                config.market_id,
                Side(side),
                None,
                quantity,
                max_quote=budget,
                stp=SelfTradePrevention(stp),
                client_order_id=client_order_id,
            )
    _emit_placement(ctx, _override(common), config, placement, wallet.exchange.last_receipt())


@dex.command()
@click.option("--order-id", type=click.IntRange(1, None), default=None)
@click.option("--client-order-id", default=None, help="The id the order was placed with.")
@acting
def cancel(
    ctx: click.Context,
    order_id: int | None,
    client_order_id: str | None,
    **common: str | bool | None,
) -> None:
    """Cancel one of the wallet's open orders (or pending stops) and release what it holds."""
    from tachyon.dex.ids import OrderId  # noqa: PLC0415

    if (order_id is None) == (client_order_id is None):
        raise click.UsageError("give exactly one of --order-id and --client-order-id")
    with ports.acting(ctx, common) as wallet:
        if order_id is not None:
            outcome = wallet.cancel(OrderId(order_id))
        else:
            assert client_order_id is not None
            outcome = wallet.cancel_client_order(client_order_id)
        receipt = wallet.exchange.last_receipt()
        config = market_of(wallet.exchange, outcome.market)
    _emit_outcome(ctx, _override(common), config, outcome, receipt)


@dex.command()
@click.option("--order-id", type=click.IntRange(1, None), default=None)
@click.option("--client-order-id", default=None, help="The id the order was placed with.")
@click.option("--price", default=None, help="The new price; default: as it is.")
@click.option(
    "--qty",
    default=None,
    help="The new total quantity, filled part included (it must exceed what is filled).",
)
@click.option("--stp", type=STP_MODES, default="cancel_maker", show_default=True)
@click.option(
    "--market",
    default="BASE/USDC",
    show_default=True,
    help="With --client-order-id: the order's market (its units read --price and --qty).",
)
@acting
def amend(
    ctx: click.Context,
    order_id: int | None,
    client_order_id: str | None,
    price: str | None,
    qty: str | None,
    stp: str,
    market: str,
    **common: str | bool | None,
) -> None:
    """Change an open order's price or quantity. A smaller quantity at the same price keeps
    its place in the book; a new price or a larger quantity goes to the back of its level,
    and what crosses trades at once, as a new order would."""
    from tachyon.dex.ids import OrderId  # noqa: PLC0415
    from tachyon.dex.model import SelfTradePrevention  # noqa: PLC0415
    from tachyon.dex.validation import parse_price, parse_qty  # noqa: PLC0415

    if price is None and qty is None:
        raise click.UsageError("give --price, --qty or both: the amend's new values")
    if (order_id is None) == (client_order_id is None):
        raise click.UsageError("give exactly one of --order-id and --client-order-id")
    with ports.acting(ctx, common) as wallet:
        if order_id is not None:
            found = order_market(wallet.exchange, wallet.address, order_id)
            if found is None:
                raise click.ClickException(
                    f"order {order_id} is not an open order of {wallet.address}: nothing amended"
                )
            market = found
        config = market_of(wallet.exchange, market)
        placement = wallet.amend(
            None if order_id is None else OrderId(order_id),
            None if price is None else parse_price(config, price),
            None if qty is None else parse_qty(config, qty),
            stp=SelfTradePrevention(stp),
            client_order_id=client_order_id,
        )
    _emit_placement(ctx, _override(common), config, placement, wallet.exchange.last_receipt())


@dex.command(name="place-stop")
@click.option("--side", type=SIDES, required=True)
@click.option(
    "--trigger-price",
    required=True,
    help="A bid triggers when a trade prints at or above it, an ask at or below.",
)
@click.option("--price", default=None, help="The limit price once triggered; none: a market order.")
@click.option("--qty", default=None, help="Base-token units.")
@click.option(
    "--max-quote",
    default=None,
    help="A stop-market bid: the most it may spend (what it locks while it waits).",
)
@market_option
@click.option("--stp", type=STP_MODES, default="cancel_maker", show_default=True)
@client_order_id_option
@acting
def place_stop(
    ctx: click.Context,
    side: str,
    trigger_price: str,
    price: str | None,
    qty: str | None,
    max_quote: str | None,
    market: str,
    stp: str,
    client_order_id: str | None,
    **common: str | bool | None,
) -> None:
    """Place a stop order: it waits, its funds locked, until the market's last trade reaches
    its trigger, then becomes a limit order (--price) or a market order."""
    from tachyon.dex.model import SelfTradePrevention, Side  # noqa: PLC0415
    from tachyon.dex.validation import parse_price, parse_qty  # noqa: PLC0415

    with ports.acting(ctx, common) as wallet:
        config = market_of(wallet.exchange, market)
        stop = wallet.place_stop(
            config.market_id,
            Side(side),
            parse_price(config, trigger_price),
            None if price is None else parse_price(config, price),
            None if qty is None else parse_qty(config, qty),
            max_quote=None
            if max_quote is None
            else to_minor(max_quote, config.quote_decimals, "max-quote"),
            stp=SelfTradePrevention(stp),
            client_order_id=client_order_id,
        )
    _emit_outcome(ctx, _override(common), config, stop, None)


@dex.command()
@acting
def stops(ctx: click.Context, **common: str | bool | None) -> None:
    """The wallet's pending stop orders, in the order they were accepted."""
    with _account_reading(ctx, common) as (port, account):
        pending = port.stops(account)
        configs = {config.market_id: config for config in port.markets()}
    rows = [shapes.stop_json(configs[stop.market], stop) for stop in pending]
    _emit(
        ctx,
        _override(common),
        {"stops": rows},
        lambda: _tables().human_table("stop orders", rows),
    )


# -- helpers ---------------------------------------------------------------------------------


def parse_time_ns(text: str) -> int:
    """A time given as integer nanoseconds since the epoch, or ISO 8601 with its offset
    (`2026-12-31T23:59:59Z`, to the microsecond), as nanoseconds."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither ISO 8601 (2026-12-31T23:59:59Z) nor integer nanoseconds",
            param_hint="--expire-at",
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            f"{text!r} has no time zone: end it with Z for UTC", param_hint="--expire-at"
        )
    since = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return since // timedelta(microseconds=1) * 1_000


def _emit_outcome(
    ctx: click.Context,
    override: str | None,
    config: MarketConfig,
    outcome: Placement | StopOrder,
    receipt: Receipt | None,
) -> None:
    """An order's placement (with its command's receipt), or a stop order."""
    from tachyon.exchange.service import StopOrder  # noqa: PLC0415

    if not isinstance(outcome, StopOrder):
        _emit_placement(ctx, override, config, outcome, receipt)
        return
    result = shapes.stop_json(config, outcome)
    _emit(
        ctx,
        override,
        result,
        lambda: _tables().human_fields_table(f"stop order {outcome.order_id}", result),
    )


def _tables() -> ModuleType:
    from tachyon.cli import tables  # noqa: PLC0415 (rich only when a table is drawn)

    return tables


@contextmanager
def _account_reading(
    ctx: click.Context, common: dict[str, str | bool | None]
) -> Iterator[tuple[ExchangePort, AccountId]]:
    """A read of the wallet's own account: its exchange (over a node, reads signed with the
    wallet's key, so its password is asked for) and its address."""
    db_path, password, node = common["db_path"], common["password"], common.get("node")
    assert isinstance(db_path, str)
    key = ports.key_file(db_path)
    with ports.reading(
        ctx,
        key,
        node if isinstance(node, str) else None,
        password if isinstance(password, str) else None,
        bool(common["non_interactive"]),
    ) as port:
        yield port, AccountId(key.address)


def _override(common: dict[str, str | bool | None]) -> str | None:
    """The --format given after an acting command, if any."""
    chosen = common["output_format"]
    return chosen if isinstance(chosen, str) else None


def _deposit(
    ctx: click.Context, token: str, amount: str, common: dict[str, str | bool | None]
) -> None:
    options.refuse_in_prod("the deposit command")
    with ports.acting(ctx, common) as wallet:
        meta = token_of(wallet.exchange, token)
        record = wallet.deposit(meta.symbol, to_minor(amount, meta.decimals, "amount"))
    _emit_balances(ctx, _override(common), wallet.address, [meta], {meta.symbol: record})


@dex.command(name="cancel-all")
@click.option("--market", default=None, help="Only this market (BASE/QUOTE); default: every one.")
@click.option("--side", type=SIDES, default=None, help="Only this side; default: both.")
@acting
def cancel_all(
    ctx: click.Context, market: str | None, side: str | None, **common: str | bool | None
) -> None:
    """Cancel every open order of the wallet (on one market, on one side) and release what
    they hold; other accounts' orders are never touched."""
    from tachyon.dex.model import Side  # noqa: PLC0415

    with ports.acting(ctx, common) as wallet:
        market_id = None if market is None else market_of(wallet.exchange, market).market_id
        cancelled = wallet.cancel_all(market_id, None if side is None else Side(side))
        receipt = wallet.exchange.last_receipt()
        rows = [
            shapes.placement_json(market_of(wallet.exchange, placement.market), placement, receipt)
            for placement in cancelled.placements
        ]

    def table() -> object:
        from tachyon.cli import tables  # noqa: PLC0415

        summary = [{k: v for k, v in row.items() if k != "trades"} for row in rows]
        return tables.human_table("cancelled orders", summary)

    _emit(ctx, _override(common), {"cancelled": rows}, table)


def _emit_balances(
    ctx: click.Context,
    override: str | None,
    address: str,
    metas: Sequence[TokenMeta],
    held: Mapping[TokenId, BalanceRecord],
) -> None:
    """`metas`' balances of the account (zero where none is held)."""
    rows = render.balances_json(metas, held)

    def table() -> object:
        owes = any("debt" in row for row in rows)  # then a debt column for every token
        with_decimals = [
            {**row, **({"debt": row.get("debt", "0")} if owes else {}), "decimals": meta.decimals}
            for row, meta in zip(rows, metas, strict=True)
        ]
        return _tables().balances_table(address, with_decimals)

    _emit(ctx, override, {"address": address, "balances": rows}, table)


def _emit_placement(
    ctx: click.Context,
    override: str | None,
    config: MarketConfig,
    placement: Placement,
    receipt: Receipt | None,
) -> None:
    result = shapes.placement_json(config, placement, receipt)

    def table() -> Group:
        from rich.console import Group  # noqa: PLC0415

        from tachyon.cli import tables  # noqa: PLC0415

        summary = {key: value for key, value in result.items() if key != "trades"}
        trades_rows = result["trades"]
        assert isinstance(trades_rows, list)
        units = tables.trade_units(config.base, config.quote, config.fee_token)
        return Group(
            tables.human_fields_table(f"order {placement.order_id}", summary),
            tables.human_table("trades", trades_rows, units),
        )

    _emit(ctx, override, result, table)


def _emit(
    ctx: click.Context,
    override: str | None,
    result: dict[str, object],
    table: Callable[[], object],
) -> None:
    if options.output_format(ctx, override) == "json":
        render.emit_json(result)
    else:
        from tachyon.cli.tables import console  # noqa: PLC0415

        console().print(table())

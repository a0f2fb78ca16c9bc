"""`tachyon dex ...`: the seed's trading commands for one wallet on its exchange.

Public reads (book, trades, markets) need no password and ignore one; `balance` and `orders`
need none on an embedded exchange but check one that is given (--password or
$TACHYON_PASSWORD), refusing a wrong one. Acting commands unlock the wallet, sign a command
for its account and wait until the exchange has made it durable. With `--node URL` (or
a wallet created with `--node`) every command talks to that node instead of an embedded
exchange and prints the same output; `balance` and `orders` then sign their read with the
wallet's key, so they ask for its password as acting commands do. Amounts, prices and
quantities are decimal strings in token units, converted exactly with the token's decimals.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Final, Protocol

import click

from tachyon.cli import options, render
from tachyon.cli.reading import Levels, Reader, market_config, open_reader
from tachyon.client import shapes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from rich.console import Group

    from tachyon.client.http import Client
    from tachyon.dex.model import MarketConfig, Trade
    from tachyon.exchange.service import Placement
    from tachyon.ledger.ledger import TokenMeta
    from tachyon.storage.host import EmbeddedExchange
    from tachyon.wallet.keystore import KeyFile
    from tachyon.wallet.wallet import Wallet

DEFAULT_MARKET: Final = "BASE/USDC"
DEPTH_MAX: Final = 1_000
TRADES_LIMIT_MAX: Final = 1_000

market_option = click.option(
    "--market", default=DEFAULT_MARKET, show_default=True, help="Market as BASE/QUOTE."
)
optional_db_path = click.option(
    "--db-path", default=None, help="Wallet directory: read the exchange it trades on."
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
    key_file = _key_file(db_path)
    with _account_reader(ctx, key_file, node, password, non_interactive) as reader:
        rows = reader.balances(key_file.address)
    result: dict[str, object] = {
        "address": key_file.address,
        "balances": render.balance_rows_json(rows),
    }
    _emit(
        ctx,
        output_format,
        result,
        lambda: _tables().balances_table(
            key_file.address, _with_decimals(result["balances"], rows)
        ),
    )


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
    """The wallet's open orders in every market, oldest first.

    No password needed on an embedded exchange (one given is checked); over a node the read is
    signed with the wallet's key: the password is asked for."""
    key_file = _key_file(db_path)
    with _account_reader(ctx, key_file, node, password, non_interactive) as reader:
        configs: dict[str, MarketConfig] = {config.market_id: config for config in reader.markets()}
        rows = [
            render.order_json(configs[row.market], row)
            for row in reader.open_orders(key_file.address)
        ]
    _emit(ctx, output_format, {"orders": rows}, lambda: _tables().rows_table("open orders", rows))


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
    with _public_reader(ctx, node, db_path, data_dir)() as reader:
        config = market_config(reader, market)
        book = render.book_json(config, reader.book(market, depth))
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
    """A market's recent trades, newest first."""
    with _public_reader(ctx, node, db_path, data_dir)() as reader:
        config = market_config(reader, market)
        rows = [shapes.trade_json(config, trade) for trade in reader.trades(market, limit)]
    result: dict[str, object] = {"market": config.market_id, "trades": rows}
    _emit(ctx, output_format, result, lambda: _tables().rows_table(f"trades {market}", rows))


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
    """Every market with its tokens, decimals, tick, lot, minimum size and fees."""
    with _public_reader(ctx, node, db_path, data_dir)() as reader:
        rows = [shapes.market_json(config) for config in reader.markets()]
    _emit(ctx, output_format, {"markets": rows}, lambda: _tables().records_table(rows, "market"))


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
    node's market stream and redraws when it changes, at most once per interval."""
    reader_of = _public_reader(ctx, node, db_path, data_dir)
    url = _node_of(ctx, node, _key_file(db_path) if db_path is not None else None)
    interval_s = interval_ms / 1000
    frames = (
        _polled_frames(reader_of, market, depth, interval_s)
        if url is None
        else _streamed_frames(reader_of, url, market, depth, interval_s)
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends a watch: exit 0, no traceback
        _show(frames, iterations, as_json=options.output_format(ctx, output_format) == "json")


_Frame = tuple[dict[str, object], "Group"]


def _frame(config: MarketConfig, levels: tuple[Levels, Levels], trades: Sequence[Trade]) -> _Frame:
    """One redraw: its JSON record and its tables."""
    from rich.console import Group  # noqa: PLC0415

    from tachyon.cli import tables  # noqa: PLC0415

    book = render.book_json(config, levels)
    recent = [shapes.trade_json(config, trade) for trade in trades]
    view = Group(
        tables.book_table(book, config.base, config.quote),
        tables.rows_table("recent trades (newest first)", recent),
    )
    return {**book, "trades": recent}, view


def _polled_frames(
    reader_of: Callable[[], contextlib.AbstractContextManager[Reader]],
    market: str,
    depth: int,
    interval_s: float,
) -> Generator[_Frame]:
    """A frame now, then one every interval, each read afresh."""
    while True:
        with reader_of() as reader:
            config = market_config(reader, market)
            yield _frame(config, reader.book(market, depth), reader.trades(market, depth))
        time.sleep(interval_s)


def _streamed_frames(
    reader_of: Callable[[], contextlib.AbstractContextManager[Reader]],
    url: str,
    market: str,
    depth: int,
    interval_s: float,
) -> Generator[_Frame]:
    """A frame once the node's market stream has sent its snapshots, then one whenever it
    changed the book or the trades, at most one per interval."""
    from tachyon.client.stream import MarketStream  # noqa: PLC0415

    with reader_of() as reader:
        config = market_config(reader, market)
    stream = MarketStream(url, config, trades=depth)
    drawn_at: float | None = None
    dirty = False
    for changed in stream.frames(timeout_s=interval_s):
        dirty = dirty or changed
        now = time.monotonic()
        if dirty and (drawn_at is None or now - drawn_at >= interval_s):
            drawn_at, dirty = now, False
            yield _frame(config, stream.follower.levels(depth), stream.trades)


def _show(frames: Generator[_Frame], iterations: int | None, *, as_json: bool) -> None:
    """Print frames as they come (JSON lines, or tables through a pipe), or redraw them in
    place on a terminal; stop after `iterations` (None: never)."""
    from rich.live import Live  # noqa: PLC0415

    from tachyon.cli.tables import console  # noqa: PLC0415

    out = console()
    live: Live | None = None
    try:
        for count, (record, view) in enumerate(frames, start=1):
            if as_json:
                click.echo(render.compact_json(record))
            elif not out.is_terminal:  # a pipe or a file: each frame in turn, as it is drawn
                out.print(view)
                out.file.flush()
            elif live is None:
                live = Live(view, console=out, auto_refresh=False)
                live.start(refresh=True)
            else:
                live.update(view, refresh=True)
            if iterations is not None and count >= iterations:
                return
    finally:
        if live is not None:
            live.stop()
        frames.close()  # the stream's connection, at once


# -- acting ----------------------------------------------------------------------------------


def acting(function: Callable[..., None]) -> Callable[..., None]:
    """The options every signed command takes."""
    for decorator in reversed(
        (
            options.db_path_option,
            options.password_option,
            options.non_interactive_option,
            options.node_option,
            options.format_override,
            click.pass_context,
        )
    ):
        function = decorator(function)
    return function


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
@acting
def withdraw(ctx: click.Context, token: str, amount: str, **common: str | bool | None) -> None:
    """Take tokens out of the wallet's available balance."""
    with _acting(ctx, common) as (wallet, venue):
        minor = _token_amount(venue, token, amount)
        record = wallet.withdraw(token, minor)  # type: ignore[arg-type]
        _emit_balance(ctx, common, wallet, venue, token, record.available, record.locked)


SIDES: Final = click.Choice(["bid", "ask"])
STP_MODES: Final = click.Choice(
    ["cancel_maker", "cancel_taker", "cancel_both", "decrement_and_cancel", "allow"]
)


@dex.command(name="place-limit")
@click.option("--side", type=SIDES, required=True)
@click.option("--price", required=True, help="Quote-token units per base token.")
@click.option("--qty", required=True, help="Base-token units.")
@market_option
@click.option("--tif", type=click.Choice(["gtc", "ioc", "fok"]), default="gtc", show_default=True)
@click.option("--post-only", is_flag=True, default=False, help="Refuse the order if it would take.")
@click.option(
    "--stp",
    type=STP_MODES,
    default="cancel_maker",
    show_default=True,
    help="Self-trade prevention when it meets the wallet's own resting order.",
)
@acting
def place_limit(
    ctx: click.Context,
    side: str,
    price: str,
    qty: str,
    market: str,
    tif: str,
    post_only: bool,
    stp: str,
    **common: str | bool | None,
) -> None:
    """Place a limit order; what it does not fill rests (GTC) or is cancelled (IOC, FOK)."""
    from tachyon.dex.model import SelfTradePrevention, Side, TimeInForce  # noqa: PLC0415
    from tachyon.dex.validation import parse_price, parse_qty  # noqa: PLC0415
    from tachyon.errors import FillOrKillUnfillable, PostOnlyWouldTake  # noqa: PLC0415

    with _acting(ctx, common) as (wallet, venue):
        config = venue.market(market)
        try:
            placement = wallet.place_limit(
                config.market_id,
                Side(side),
                parse_price(config, price),
                parse_qty(config, qty),
                tif=TimeInForce(tif),
                post_only=post_only,
                stp=SelfTradePrevention(stp),
            )
        except PostOnlyWouldTake:  # the core's message is in minor units; say it as typed
            raise click.ClickException(
                f"post-only {side} of {qty} at {price} would take liquidity: nothing placed"
            ) from None
        except FillOrKillUnfillable:
            raise click.ClickException(
                f"fill-or-kill {side} of {qty} at {price} cannot fill completely: nothing placed"
            ) from None
        _emit_placement(ctx, common, config, placement)


@dex.command(name="place-market")
@click.option("--side", type=SIDES, required=True)
@click.option("--qty", default=None, help="Base-token units to buy or sell.")
@click.option(
    "--max-quote", default=None, help="Bids only: spend at most this much quote token instead."
)
@market_option
@click.option("--stp", type=STP_MODES, default="cancel_maker", show_default=True)
@acting
def place_market(
    ctx: click.Context,
    side: str,
    qty: str | None,
    max_quote: str | None,
    market: str,
    stp: str,
    **common: str | bool | None,
) -> None:
    """Take liquidity now; never rests (the unfilled rest is cancelled)."""
    from tachyon.dex.model import SelfTradePrevention, Side  # noqa: PLC0415
    from tachyon.dex.units import to_minor  # noqa: PLC0415
    from tachyon.dex.validation import parse_qty  # noqa: PLC0415

    if (qty is None) == (max_quote is None):
        raise click.UsageError("give exactly one of --qty and --max-quote")
    if max_quote is not None and side != "bid":
        raise click.UsageError("--max-quote is for bids: an ask sells a --qty of base")
    with _acting(ctx, common) as (wallet, venue):
        config = venue.market(market)
        placement = wallet.place_market(
            config.market_id,
            Side(side),
            None if qty is None else parse_qty(config, qty),
            max_quote=None
            if max_quote is None
            else to_minor(max_quote, config.quote_decimals, "max-quote"),
            stp=SelfTradePrevention(stp),
        )
        _emit_placement(ctx, common, config, placement)


@dex.command()
@click.option("--order-id", type=click.IntRange(1, None), required=True)
@acting
def cancel(ctx: click.Context, order_id: int, **common: str | bool | None) -> None:
    """Cancel one of the wallet's open orders and release what it holds."""
    with _acting(ctx, common) as (wallet, venue):
        market = venue.order_market(order_id)
        placement = wallet.cancel(order_id)  # type: ignore[arg-type]
        assert market is not None  # the cancel succeeded, so the order was open
        _emit_placement(ctx, common, venue.market(market), placement)


# -- helpers ---------------------------------------------------------------------------------


def _tables() -> ModuleType:
    from tachyon.cli import tables  # noqa: PLC0415 (rich only when a table is drawn)

    return tables


def _key_file(db_path: str) -> KeyFile:
    from tachyon.wallet.keystore import load  # noqa: PLC0415

    return load(options.user_path(db_path))


def _exchange_dir(key_file: KeyFile) -> Path:
    kind = key_file.exchange.get("kind")
    if kind != "embedded" or "data_dir" not in key_file.exchange:
        raise click.ClickException(
            f"the wallet at {key_file.path.parent} trades on {key_file.exchange}, which this"
            " tachyon cannot reach (it knows the embedded exchange and nodes)"
        )
    return Path(key_file.exchange["data_dir"])


def _node_of(ctx: click.Context, override: str | None, key_file: KeyFile | None) -> str | None:
    """The node to talk to: --node after the command, else before the group, else the one
    the wallet was created on; None for the embedded exchange."""
    chosen = options.node_url(ctx, override)
    if chosen is not None:
        return chosen
    if key_file is not None and key_file.exchange.get("kind") == "node":
        url = key_file.exchange.get("url")
        if not url:
            raise click.ClickException(f"the wallet at {key_file.path.parent} names no node URL")
        return url
    return None


def _client(url: str, key: Ed25519PrivateKey | None = None) -> Client:
    from tachyon.client.http import Client  # noqa: PLC0415 (httpx only over a node)

    return Client(url, key=key)


def _public_reader(
    ctx: click.Context, node: str | None, db_path: str | None, data_dir: str | None
) -> Callable[[], contextlib.AbstractContextManager[Reader]]:
    """How to open a reader of public market data: on the chosen node, or on the embedded
    exchange in the wallet's or the given data directory."""
    key_file = _key_file(db_path) if db_path is not None else None
    url = _node_of(ctx, node, key_file)
    if url is not None:
        if data_dir is not None:
            raise click.UsageError("give --node or --data-dir, not both")
        return lambda: _node_reader(url, None)
    if key_file is not None:
        directory = _exchange_dir(key_file)
    else:
        directory = options.user_path(data_dir) if data_dir else options.default_data_dir()
    return lambda: _reader(directory)


@contextmanager
def _node_reader(url: str, key: Ed25519PrivateKey | None) -> Iterator[Reader]:
    from tachyon.cli.reading import NodeReader  # noqa: PLC0415

    reader = NodeReader(_client(url), key)
    try:
        yield reader
    finally:
        reader.close()


@contextmanager
def _account_reader(
    ctx: click.Context,
    key_file: KeyFile,
    node: str | None,
    password: str | None,
    non_interactive: bool,
) -> Iterator[Reader]:
    """A reader of the wallet's own account: embedded, or over a node with the wallet's key
    unlocked to sign the read. Embedded reads need no password, but one given is checked: a
    wrong one is refused in both modes, before anything is read."""
    url = _node_of(ctx, node, key_file)
    if url is None:
        given = options.given_password(password)
        if given is not None:
            key_file.unlock(given)
        with _reader(_exchange_dir(key_file)) as reader:
            yield reader
        return
    secret = options.password(
        ctx, password, non_interactive, prompt=f"Password for {key_file.path.parent}"
    )
    with _node_reader(url, key_file.unlock(secret)) as reader:
        yield reader


@contextmanager
def _reader(directory: Path) -> Iterator[Reader]:
    if not (directory / "exchange.db").is_file():  # a read never creates an exchange
        raise click.ClickException(
            f"no exchange at {directory} (`tachyon wallet create` makes one; check --data-dir)"
        )
    reader = open_reader(directory)
    try:
        yield reader
    finally:
        reader.close()


class _Venue(Protocol):
    """What an acting command asks of the exchange besides the wallet's commands."""

    def tokens(self) -> list[TokenMeta]: ...
    def market(self, market: str) -> MarketConfig: ...
    def order_market(self, order_id: int) -> str | None: ...


class _EmbeddedVenue:
    def __init__(self, host: EmbeddedExchange) -> None:
        self.host = host

    def tokens(self) -> list[TokenMeta]:
        return self.host.tokens()

    def market(self, market: str) -> MarketConfig:
        return self.host.refresh().service.get_market(market)  # type: ignore[arg-type]

    def order_market(self, order_id: int) -> str | None:
        owned = self.host.refresh().service.get_order(order_id)  # type: ignore[arg-type]
        return None if owned is None else owned.market


class _NodeVenue:
    def __init__(self, client: Client, key: Ed25519PrivateKey) -> None:
        self.client = client
        self.key = key

    def tokens(self) -> list[TokenMeta]:
        return self.client.tokens()

    def market(self, market: str) -> MarketConfig:
        return self.client.market(market)

    def order_market(self, order_id: int) -> str | None:
        """The market of one of the wallet's open orders (another's is refused by the node
        when it is cancelled, as the embedded exchange refuses it)."""
        for owned in self.client.account_orders(self.key):
            if owned.order.order_id == order_id:
                return owned.market
        return None


@contextmanager
def _acting(
    ctx: click.Context, common: dict[str, str | bool | None]
) -> Iterator[tuple[Wallet, _Venue]]:
    """The wallet unlocked, on its exchange opened for writing or on its node."""
    from tachyon.wallet.wallet import Wallet  # noqa: PLC0415

    db_path = common["db_path"]
    assert isinstance(db_path, str)
    key_file = _key_file(db_path)
    password = common["password"]
    secret = options.password(
        ctx,
        password if isinstance(password, str) else None,
        bool(common["non_interactive"]),
        prompt=f"Password for {key_file.path.parent}",
    )
    key = key_file.unlock(secret)  # before anything is opened: a wrong password changes nothing
    node = common.get("node")
    url = _node_of(ctx, node if isinstance(node, str) else None, key_file)
    if url is not None:
        with _client(url, key) as client:
            wallet = Wallet(key_file, client)
            wallet.use_key(key)
            yield wallet, _NodeVenue(client, key)
        return
    from tachyon.storage.host import EmbeddedExchange  # noqa: PLC0415

    with EmbeddedExchange.open(_exchange_dir(key_file)) as host:
        wallet = Wallet(key_file, host)
        wallet.use_key(key)
        yield wallet, _EmbeddedVenue(host)


def _deposit(
    ctx: click.Context, token: str, amount: str, common: dict[str, str | bool | None]
) -> None:
    options.refuse_in_prod("the deposit command")
    with _acting(ctx, common) as (wallet, venue):
        minor = _token_amount(venue, token, amount)
        record = wallet.deposit(token, minor)  # type: ignore[arg-type]
        _emit_balance(ctx, common, wallet, venue, token, record.available, record.locked)


def _token_amount(venue: _Venue, token: str, amount: str) -> int:
    from tachyon.dex.units import to_minor  # noqa: PLC0415
    from tachyon.errors import TokenNotFound  # noqa: PLC0415

    tokens = {meta.symbol: meta for meta in venue.tokens()}
    meta = tokens.get(token)  # type: ignore[call-overload]
    if meta is None:
        known = ", ".join(sorted(tokens)) or "none"
        raise TokenNotFound(f"unknown token {token!r}; tokens: {known}")
    return to_minor(amount, meta.decimals, "amount")


def _emit_balance(
    ctx: click.Context,
    common: dict[str, str | bool | None],
    wallet: Wallet,
    venue: _Venue,
    token: str,
    available: int,
    locked: int,
) -> None:
    from tachyon.cli.reading import TokenBalance  # noqa: PLC0415

    decimals = {meta.symbol: meta.decimals for meta in venue.tokens()}[token]  # type: ignore[index]
    rows = [TokenBalance(token, decimals, available, locked)]
    result: dict[str, object] = {
        "address": wallet.address,
        "balances": render.balance_rows_json(rows),
    }
    override = common["output_format"]
    _emit(
        ctx,
        override if isinstance(override, str) else None,
        result,
        lambda: _tables().balances_table(wallet.address, _with_decimals(result["balances"], rows)),
    )


def _emit_placement(
    ctx: click.Context,
    common: dict[str, str | bool | None],
    config: object,
    placement: Placement,
) -> None:
    from tachyon.dex.model import MarketConfig  # noqa: PLC0415

    assert isinstance(config, MarketConfig)
    result = shapes.placement_json(
        config,
        placement.order_id,
        placement.status,
        placement.filled_qty,
        placement.open_qty,
        placement.trades,
    )
    override = common["output_format"]

    def table() -> Group:
        from rich.console import Group  # noqa: PLC0415

        from tachyon.cli import tables  # noqa: PLC0415

        summary = {key: value for key, value in result.items() if key != "trades"}
        trades_rows = result["trades"]
        assert isinstance(trades_rows, list)
        return Group(
            tables.fields_table(f"order {placement.order_id}", summary),
            tables.rows_table("trades", trades_rows),
        )

    _emit(ctx, override if isinstance(override, str) else None, result, table)


def _with_decimals(rows: object, balances: Sequence[object]) -> list[dict[str, object]]:
    assert isinstance(rows, list)
    return [
        {**row, "decimals": getattr(balance, "decimals", "")}
        for row, balance in zip(rows, balances, strict=True)
    ]


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

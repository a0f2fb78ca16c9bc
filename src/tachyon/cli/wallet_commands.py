"""`tachyon wallet create|show|list`: wallet directories and the exchange each trades on."""

from __future__ import annotations

from pathlib import Path

import click

from tachyon.cli import options, render


@click.group()
def wallet() -> None:
    """Create and inspect wallets (an encrypted key per directory; its address is the account)."""


@wallet.command()
@options.db_path_option
@options.data_dir_option
@options.password_option
@options.non_interactive_option
@options.node_option
@options.format_override
@click.pass_context
def create(
    ctx: click.Context,
    db_path: str,
    data_dir: str | None,
    password: str | None,
    non_interactive: bool,
    node: str | None,
    output_format: str | None,
) -> None:
    """Create a wallet at --db-path trading on the embedded exchange in --data-dir, or on the
    node at --node URL (checked to answer first); its `dex` commands then go there."""
    from tachyon.wallet.keystore import create as create_key_file  # noqa: PLC0415

    directory = options.user_path(db_path)
    url = options.node_url(ctx, node)
    if url is not None:
        if data_dir is not None:
            raise click.UsageError("give --node or --data-dir, not both")
        from tachyon.client.sync import Client  # noqa: PLC0415

        with Client(url) as client:
            client.server_time_ns()  # a node answers there: a typo fails before a key is made
        secret = options.password(
            ctx, password, non_interactive, prompt=f"New password for {directory}", confirm=True
        )
        bound = {"kind": "node", "url": client.url}
        key_file = create_key_file(directory, secret, bound)
        _show(ctx, directory, key_file.address, bound, output_format, "wallet created")
        return
    exchange_dir = options.user_path(data_dir) if data_dir else options.default_data_dir()
    engine = options.engine_name(ctx)  # a bad choice is refused before a key is made
    secret = options.password(
        ctx, password, non_interactive, prompt=f"New password for {directory}", confirm=True
    )
    from tachyon.storage.db import require_writable  # noqa: PLC0415
    from tachyon.storage.host import EmbeddedExchange  # noqa: PLC0415

    if exchange_dir.is_dir():
        require_writable(exchange_dir)  # refused before a key is made: nothing changes
    exchange = {"kind": "embedded", "data_dir": str(exchange_dir.resolve())}
    key_file = create_key_file(directory, secret, exchange)
    # The exchange it trades on exists from now (a new one on the chosen engine).
    EmbeddedExchange.open(exchange_dir, engine=engine).close()
    _show(ctx, directory, key_file.address, exchange, output_format, "wallet created")


@wallet.command()
@options.db_path_option
@options.format_override
@click.pass_context
def show(ctx: click.Context, db_path: str, output_format: str | None) -> None:
    """Show a wallet's address and the exchange it trades on (no password needed)."""
    from tachyon.wallet.keystore import load  # noqa: PLC0415

    directory = options.user_path(db_path)
    key_file = load(directory)
    _show(ctx, directory, key_file.address, key_file.exchange, output_format, "wallet")


@wallet.command(name="list")
@click.option(
    "--dir",
    "wallets_dir",
    default=None,
    help="Directory holding wallets [default: $TACHYON_HOME/wallets or ~/.tachyon/wallets].",
)
@options.format_override
@click.pass_context
def list_wallets(ctx: click.Context, wallets_dir: str | None, output_format: str | None) -> None:
    """List the wallets under <home>/wallets."""
    from tachyon.errors import TachyonError  # noqa: PLC0415
    from tachyon.wallet.keystore import KEY_FILENAME, load  # noqa: PLC0415

    root = options.user_path(wallets_dir) if wallets_dir else options.home() / "wallets"
    rows: list[dict[str, object]] = []
    children = sorted(root.iterdir()) if root.is_dir() else []
    for child in children:
        if not (child / KEY_FILENAME).is_file():
            continue
        try:
            address: str = load(child).address
        except TachyonError as exc:
            address = f"(unreadable: {exc.code})"
        rows.append({"name": child.name, "address": address, "path": str(child)})
    if options.output_format(ctx, output_format) == "json":
        render.emit_json({"wallets": rows})
    else:
        from tachyon.cli import tables  # noqa: PLC0415

        tables.console().print(tables.rows_table(f"wallets in {root}", rows))


def _show(
    ctx: click.Context,
    directory: Path,
    address: str,
    exchange: dict[str, str],
    output_format: str | None,
    title: str,
) -> None:
    record = {"address": address, "path": str(directory), "exchange": exchange}
    if options.output_format(ctx, output_format) == "json":
        render.emit_json(record)
    else:
        from tachyon.cli import tables  # noqa: PLC0415

        flat = {"address": address, "path": str(directory)}
        flat.update({f"exchange {key}": value for key, value in exchange.items()})
        tables.console().print(tables.fields_table(title, dict(flat)))

"""The `tachyon` command group: global options and the commands the library offers so far."""

from __future__ import annotations

import click
from rich.console import Console

from tachyon import __version__
from tachyon.cli.demo import run_demo
from tachyon.errors import TachyonError
from tachyon.exchange.engines import DEFAULT_ENGINE

FORMATS = ("table", "json")


@click.group()
@click.version_option(__version__, prog_name="tachyon")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output as human tables or machine-readable JSON.",
)
@click.option(
    "--engine",
    envvar="TACHYON_ENGINE",
    default=DEFAULT_ENGINE,
    show_default=True,
    help="Matching engine for every market (also TACHYON_ENGINE).",
)
@click.pass_context
def cli(ctx: click.Context, output_format: str, engine: str) -> None:
    """tachyon: a wallet with an embedded order-book exchange."""
    ctx.obj = {"format": output_format, "engine": engine}


@cli.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Overrides the global --format.",
)
@click.pass_context
def demo(ctx: click.Context, output_format: str | None) -> None:
    """Run a scripted trading session on a temporary in-memory exchange."""
    chosen = output_format or ctx.obj["format"]
    try:
        run_demo(Console(), as_json=chosen == "json", engine=ctx.obj["engine"])
    except TachyonError as exc:
        raise click.ClickException(str(exc)) from exc


def main() -> None:
    cli()

"""The `tachyon` command group: global options and the commands the library offers so far."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from tachyon import __version__
from tachyon.cli.demo import run_demo
from tachyon.cli.render import emit_json, fields_table
from tachyon.errors import TachyonError
from tachyon.exchange.engines import DEFAULT_ENGINE
from tachyon.storage import audit as audit_directory, default_data_dir

FORMATS = ("table", "json")

format_override = click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Overrides the global --format.",
)
"""`--format` after a command too (the seed accepts it in both places); one definition."""


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
@format_override
@click.pass_context
def demo(ctx: click.Context, output_format: str | None) -> None:
    """Run a scripted trading session on a temporary in-memory exchange."""
    chosen = output_format or ctx.obj["format"]
    try:
        run_demo(Console(), as_json=chosen == "json", engine=ctx.obj["engine"])
    except TachyonError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Exchange data directory [default: $TACHYON_HOME/exchange or ~/.tachyon/exchange].",
)
@format_override
@click.pass_context
def audit(ctx: click.Context, data_dir: Path | None, output_format: str | None) -> None:
    """Verify the whole journal from its first entry, replay it from zero, compare the replay
    with the newest snapshot; print the head hash and the state hash. Reads only."""
    try:
        report = audit_directory(data_dir or default_data_dir())
    except TachyonError as exc:
        raise click.ClickException(f"audit failed: {exc}") from exc
    console = Console(width=max(Console().width, 100))  # room for a hash on one line
    if (output_format or ctx.obj["format"]) == "json":
        emit_json(report._asdict(), console)
    else:
        console.print(fields_table("audit", report._asdict()))
    if report.snapshot_matches is False:
        raise click.ClickException(
            f"the snapshot at sequence {report.snapshot_seq} differs from the replayed state"
        )


def main() -> None:
    cli()

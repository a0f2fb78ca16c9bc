"""The `tachyon` command group: global options, error translation, and the command groups.

Library refusals (`TachyonError`) become one line on stderr and exit 1, in one place; usage
errors exit 2 (click). Commands import what they need when they run, so a read that needs
little starts fast.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from tachyon import __version__
from tachyon.cli import options
from tachyon.cli.admin_commands import admin
from tachyon.cli.dex_commands import dex
from tachyon.cli.node_commands import node
from tachyon.cli.onramp_commands import onramp
from tachyon.cli.wallet_commands import wallet
from tachyon.errors import TachyonError


class TachyonGroup(click.Group):
    """Turns every library refusal raised under it into a one-line error with exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TachyonError as exc:
            raise options.fail(exc) from exc


@click.group(cls=TachyonGroup)
@click.version_option(__version__, prog_name="tachyon")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(options.FORMATS),
    default="table",
    show_default=True,
    help="Output as human tables or machine-readable JSON.",
)
@click.option(
    "--engine",
    envvar="TACHYON_ENGINE",
    default=None,
    metavar="NAME",
    help="Matching engine of the markets a command creates (a new exchange's), for every"
    " command and `node serve`: in_memory, liquibook (with the liquibook extra) or any"
    " engine a package declares [default: $TACHYON_ENGINE, else engine in"
    " $TACHYON_HOME/config.toml, else in_memory].",
)
@click.option(
    "--non-interactive",
    is_flag=True,
    default=False,
    help="Never prompt for a password (fail instead when none is given).",
)
@click.option(
    "--node",
    default=None,
    metavar="URL",
    help="Talk to the tachyon node at URL (e.g. http://127.0.0.1:8700) instead of an embedded"
    " exchange, for every command that trades or reads one.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    output_format: str,
    engine: str | None,
    non_interactive: bool,
    node: str | None,
) -> None:
    """tachyon: a wallet with an embedded order-book exchange, or a node's over the network."""
    options.config()  # a config.toml that cannot be used is refused before any command runs
    ctx.obj = {
        "format": output_format,
        "engine": engine,
        "non_interactive": non_interactive,
        "node": node,
    }


cli.add_command(admin)
cli.add_command(dex)
cli.add_command(wallet)
cli.add_command(node)
cli.add_command(onramp)


@cli.command()
@options.format_override
@click.pass_context
def demo(ctx: click.Context, output_format: str | None) -> None:
    """Run a scripted trading session on a temporary in-memory exchange."""
    from tachyon.cli.demo import run_demo  # noqa: PLC0415
    from tachyon.cli.tables import console  # noqa: PLC0415

    chosen = options.output_format(ctx, output_format)
    run_demo(console(), as_json=chosen == "json", engine=options.engine_name(ctx))


@cli.command()
@options.data_dir_option
@click.option(
    "--repair",
    is_flag=True,
    help="Rebuild the read model (the view tables) from the replayed state, then audit; refused"
    " if the journal or the snapshot fails the audit.",
)
@click.option(
    "--reset-head",
    is_flag=True,
    help="Accept the journal as it is: set the head record (exchange.head, what was"
    " acknowledged) to the journal's end, then audit; for a directory restored from a backup,"
    " whose journal ends before its head record. Refused if the journal or the snapshot fails"
    " the audit.",
)
@options.format_override
@click.pass_context
def audit(
    ctx: click.Context,
    data_dir: str | None,
    repair: bool,
    reset_head: bool,
    output_format: str | None,
) -> None:
    """Verify the whole journal from its first entry, replay it from zero, compare the replay
    with the newest snapshot and the read model with the replayed state, and check that the
    journal reaches the head record; print the head hash and the state hash. Reads only,
    unless --repair or --reset-head."""
    from tachyon.cli import render, tables  # noqa: PLC0415
    from tachyon.storage.audit import (  # noqa: PLC0415
        audit as audit_directory,
        repair as repair_directory,
        reset_head as reset_head_record,
    )

    directory = options.user_path(data_dir) if data_dir else options.default_data_dir()
    try:
        if reset_head:
            reset_head_record(directory)
        report = repair_directory(directory) if repair else audit_directory(directory)
    except TachyonError as exc:
        raise click.ClickException(f"audit failed: {exc}") from exc
    fields = report._asdict()
    if options.output_format(ctx, output_format) == "json":
        render.emit_json(fields)
    else:
        fields["read_model_differences"] = "\n".join(report.read_model_differences)
        tables.console().print(tables.fields_table("audit", fields))
    if report.snapshot_matches is False:
        raise click.ClickException(
            f"the snapshot at sequence {report.snapshot_seq} differs from the replayed state"
        )
    if report.read_model == "mismatch":
        raise click.ClickException(_read_model_message(report.read_model_differences))


def _read_model_message(differences: tuple[str, ...]) -> str:
    more = len(differences) - 1
    also = f" (and {more} more difference{'s' if more > 1 else ''})" if more else ""
    return f"read model: {differences[0]}{also}; run `tachyon audit --repair` to rebuild it"


def main() -> None:
    """The console script: no traceback ever reaches the user."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:  # one line, with where to look for help
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"Error: {exc.format_message()}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # a bug: say so in one line, never as a traceback
        click.echo(f"Error: internal error ({type(exc).__name__}: {exc})", err=True)
        sys.exit(1)

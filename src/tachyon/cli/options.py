"""Options every command group shares: output format, profile, passwords and paths.

The profile is `dev` unless `TACHYON_PROFILE` or `profile = "..."` in `<home>/config.toml`
says `prod`; prod refuses `--password` on the command line and the demo deposit commands.
"""

from __future__ import annotations

import getpass
import os
import tomllib
import warnings
from pathlib import Path
from typing import Final

import click

from tachyon.errors import TachyonError

FORMATS: Final = ("table", "json")
PROFILES: Final = ("dev", "prod")
CONFIG_FILENAME: Final = "config.toml"
PASSWORD_ENV: Final = "TACHYON_PASSWORD"  # noqa: S105 (the variable's name, not a secret)

format_override = click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Output as tables or JSON (overrides the --format given before the command).",
)
"""`--format` after a command too (the seed accepts it in both places); one definition."""

password_option = click.option(
    "--password",
    default=None,
    help=f"Wallet password; else ${PASSWORD_ENV}; else a prompt. Refused in the prod profile.",
)

non_interactive_option = click.option(
    "--non-interactive",
    is_flag=True,
    default=False,
    help="Never prompt: fail when no password is given by --password or $TACHYON_PASSWORD.",
)

db_path_option = click.option(
    "--db-path",
    required=True,
    help="Wallet directory (a leading ~ is expanded).",
)

data_dir_option = click.option(
    "--data-dir",
    default=None,
    help="Exchange data directory [default: $TACHYON_HOME/exchange or ~/.tachyon/exchange].",
)


node_option = click.option(
    "--node",
    "node",
    default=None,
    metavar="URL",
    help="Talk to the tachyon node at URL (e.g. http://127.0.0.1:8700) instead of an embedded"
    " exchange (overrides the --node given before the command and the wallet's own).",
)
"""`--node` after a command too (later wins, like `--format`); one definition."""


def output_format(ctx: click.Context, override: str | None) -> str:
    return override or str(ctx.obj["format"])


def node_url(ctx: click.Context, override: str | None) -> str | None:
    """The node the user named: after the command, else before the group, else none."""
    chosen = override or ctx.obj.get("node")
    return str(chosen) if chosen else None


def home() -> Path:
    """`TACHYON_HOME`, or `~/.tachyon` (as `tachyon.storage.default_home`, without importing
    the storage package on the read path)."""
    value = os.environ.get("TACHYON_HOME")
    return Path(value).expanduser() if value else Path.home() / ".tachyon"


def default_data_dir() -> Path:
    return home() / "exchange"


def user_path(text: str) -> Path:
    """A path as a user typed it, with `~` expanded here (it may not be by the shell)."""
    return Path(os.path.expanduser(text))


def profile() -> str:
    """`TACHYON_PROFILE`, else `profile` in `<home>/config.toml`, else dev."""
    name = os.environ.get("TACHYON_PROFILE")
    source = "TACHYON_PROFILE"
    if not name:
        config = home() / CONFIG_FILENAME
        try:
            name = str(tomllib.loads(config.read_text()).get("profile", "dev"))
        except FileNotFoundError:
            name = "dev"
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"cannot read {config}: {exc}") from exc
        source = str(config)
    if name not in PROFILES:
        raise click.UsageError(
            f"profile {name!r} (from {source}) is not one of {', '.join(PROFILES)}"
        )
    return name


def password(
    ctx: click.Context,
    given: str | None,
    non_interactive: bool,
    *,
    prompt: str,
    confirm: bool = False,
) -> str:
    """The wallet password: --password, else $TACHYON_PASSWORD, else a prompt (getpass)."""
    chosen = given_password(given)
    if chosen is not None:
        return chosen
    if non_interactive or ctx.obj.get("non_interactive"):
        raise click.UsageError(
            f"no password given: --non-interactive forbids the prompt; pass --password or set"
            f" ${PASSWORD_ENV}"
        )
    try:
        with warnings.catch_warnings():  # no terminal: getpass reads stdin, and says so loudly
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            first = getpass.getpass(f"{prompt}: ")
            if confirm and getpass.getpass("Repeat the password: ") != first:
                raise click.UsageError("the two passwords differ")
    except EOFError:
        click.echo(err=True)  # end the prompt's line: the error gets a line of its own
        raise click.UsageError(
            "no password given and none could be read from the terminal"
        ) from None
    return first


def given_password(given: str | None) -> str | None:
    """The password the user gave without being asked: --password (refused in prod), else
    $TACHYON_PASSWORD; None when neither is set."""
    if given is not None:
        if profile() == "prod":
            raise click.UsageError(
                f"--password is refused in the prod profile (it shows in the process list and"
                f" shell history); use ${PASSWORD_ENV} or the prompt"
            )
        return given
    return os.environ.get(PASSWORD_ENV) or None


def refuse_in_prod(what: str) -> None:
    if profile() == "prod":
        raise click.ClickException(
            f"{what} is disabled in the prod profile: deposits come only from the on-ramp or an"
            " operator key"
        )


def fail(exc: TachyonError) -> click.ClickException:
    """A library refusal as the CLI's one-line error (exit 1)."""
    return click.ClickException(str(exc))

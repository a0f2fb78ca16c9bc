"""Options every command group shares: output format, profile, engine, passwords and paths.

`<home>/config.toml` (home: `$TACHYON_HOME` or `~/.tachyon`) may set `profile` and `engine`
(`CONFIG_KEYS`); any other key is refused, naming it. The profile is `dev` unless
`TACHYON_PROFILE` or `profile = "..."` says `prod`; prod refuses `--password` on the command
line and the demo deposit commands. The engine of the markets a command creates (a new
exchange's) is `--engine`, else `TACHYON_ENGINE`, else `engine = "..."`, else `in_memory`.
A wallet is `--db-path PATH` or `--wallet NAME` (`<home>/wallets/NAME`): `wallet_path_options`.
"""

from __future__ import annotations

import functools
import getpass
import os
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import click

from tachyon.errors import TachyonError

FORMATS: Final = ("table", "json")
PROFILES: Final = ("dev", "prod")
CONFIG_FILENAME: Final = "config.toml"
CONFIG_KEYS: Final = {
    "profile": "dev or prod",
    "engine": "the matching engine of new markets (tachyon.engines entry point name)",
}
"""What `<home>/config.toml` may set; every value is a string."""
ENGINE_DEFAULT: Final = "in_memory"  # tachyon.exchange.DEFAULT_ENGINE, not imported here
WALLETS_DIRNAME: Final = "wallets"
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

F = TypeVar("F", bound=Callable[..., Any])


def wallet_path_options(*, required: bool = True, help_text: str | None = None) -> Callable[[F], F]:
    """`--db-path PATH` and `--wallet NAME` (`<home>/wallets/NAME`), one of them (both, or
    neither where `required`, is a usage error); the command receives the chosen wallet
    directory as its `db_path` argument (None when neither is given and not `required`), so
    a command written for `--db-path` takes `--wallet` unchanged."""
    what = help_text or "Wallet directory (a leading ~ is expanded)"

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def resolved(*args: Any, **kwargs: Any) -> Any:
            kwargs["db_path"] = wallet_dir(kwargs.get("db_path"), kwargs.pop("wallet", None),
                                           required=required)  # fmt: skip
            return function(*args, **kwargs)

        with_wallet = click.option(
            "--wallet",
            "wallet",
            default=None,
            metavar="NAME",
            help=f"The wallet named NAME: $TACHYON_HOME/{WALLETS_DIRNAME}/NAME (or"
            f" ~/.tachyon/{WALLETS_DIRNAME}/NAME); instead of --db-path.",
        )(resolved)
        return click.option(  # type: ignore[return-value]
            "--db-path",
            default=None,
            metavar="PATH",
            help=f"{what}; or --wallet NAME.",
        )(with_wallet)

    return decorate


db_path_option = wallet_path_options()
"""`--db-path PATH` or `--wallet NAME`, one of them required (see `wallet_path_options`)."""


def wallet_dir(db_path: str | None, wallet: str | None, *, required: bool = True) -> str | None:
    """The wallet directory the user named: `db_path` as given, or `<home>/wallets/<wallet>`;
    a usage error if both are given, or neither where one is `required`."""
    if db_path is not None and wallet is not None:
        raise click.UsageError("give --db-path or --wallet, not both")
    if wallet is not None:
        return str(home() / WALLETS_DIRNAME / wallet_name(wallet))
    if db_path is None and required:
        raise click.UsageError("missing option: give --db-path PATH or --wallet NAME")
    return db_path


def wallet_name(name: str) -> str:
    """`name` if it can name a wallet directory under `<home>/wallets`: not empty, no path
    separator, not starting with a dot (so never `.`, `..` or a hidden entry), no NUL."""
    separators = [sep for sep in (os.sep, os.altsep, "/", "\\") if sep]
    if not name or name.startswith(".") or "\0" in name or any(s in name for s in separators):
        raise click.BadParameter(
            f"{name!r} is not a wallet name: it must be non-empty, contain no path separator"
            " and not start with a dot (use --db-path for a path)",
            param_hint="'--wallet'",
        )
    return name


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


def config_path() -> Path:
    return home() / CONFIG_FILENAME


def config() -> dict[str, str]:
    """`<home>/config.toml` ({} if there is none); a usage error if it cannot be read, holds
    a key not in `CONFIG_KEYS` (named, with the known ones) or a value that is not a string."""
    path = config_path()
    try:
        values = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read {path}: {exc}") from exc
    unknown = sorted(set(values) - set(CONFIG_KEYS))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise click.UsageError(
            f"{path}: unknown key{plural} {', '.join(map(repr, unknown))}; the known keys are"
            f" {', '.join(CONFIG_KEYS)}"
        )
    for key, value in values.items():
        if type(value) is not str:
            raise click.UsageError(f"{path}: {key} must be a string, not {value!r}")
    return values


def profile() -> str:
    """`TACHYON_PROFILE`, else `profile` in `<home>/config.toml`, else dev."""
    name = os.environ.get("TACHYON_PROFILE")
    source = "TACHYON_PROFILE"
    if not name:
        name = config().get("profile", "dev")
        source = str(config_path())
    if name not in PROFILES:
        raise click.UsageError(
            f"profile {name!r} (from {source}) is not one of {', '.join(PROFILES)}"
        )
    return name


def configured_engine(ctx: click.Context) -> str | None:
    """The engine the user chose for new markets: `--engine`, else `TACHYON_ENGINE` (both in
    `ctx.obj`), else `engine` in config.toml; None if none was chosen (a caller adding a
    market to an existing exchange then leaves it to the exchange's own engine)."""
    chosen = ctx.obj.get("engine") if ctx.obj else None
    if chosen is not None:
        return str(chosen)
    return config().get("engine")


def engine_name(ctx: click.Context) -> str:
    """The engine of the markets a command creates (a new exchange's): `configured_engine`,
    else in_memory. A chosen name is checked now: an engine this tachyon cannot load, or one
    that cannot be restored from state (and so cannot back a durable exchange), is refused
    with the library's error, which names the available engines."""
    chosen = configured_engine(ctx)
    if chosen is None or chosen == ENGINE_DEFAULT:
        return ENGINE_DEFAULT  # nothing to load: the built-in engine
    from tachyon.errors import InvalidConfig  # noqa: PLC0415
    from tachyon.exchange.engines import engine_loader  # noqa: PLC0415 (only when chosen)

    try:
        engine_loader(chosen)
    except InvalidConfig as exc:
        if ctx.obj and ctx.obj.get("engine") is not None:
            raise
        raise InvalidConfig(f"{exc} (engine = {chosen!r} in {config_path()})") from exc
    return chosen


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


def refuse_in_prod(
    what: str, why: str = "deposits come only from the on-ramp or an operator key"
) -> None:
    if profile() == "prod":
        raise click.ClickException(f"{what} is disabled in the prod profile: {why}")


def fail(exc: TachyonError) -> click.ClickException:
    """A library refusal as the CLI's one-line error (exit 1)."""
    return click.ClickException(str(exc))


def acting(function: Callable[..., None]) -> Callable[..., None]:
    """The options every signed command takes (`tachyon dex` acting commands, `tachyon
    admin`): the wallet, its password, the node and the output format."""
    for decorator in reversed(
        (
            db_path_option,
            password_option,
            non_interactive_option,
            node_option,
            format_override,
            click.pass_context,
        )
    ):
        function = decorator(function)
    return function

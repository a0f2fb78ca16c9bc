"""Which exchange a command talks to, as the one `ExchangePort` every `dex` command uses.

A node (`--node URL` after the command, else before the group, else the one the wallet was
created on) is a `tachyon.client.NodePort` (on `tachyon.client.Client`); otherwise the embedded exchange in the wallet's data
directory (or --data-dir) is a `tachyon.storage.EmbeddedPort`. The password rules live here
too: acting always unlocks the key; an account read needs it only over a node (the read is
signed) but checks one given on the embedded exchange; public reads take none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from tachyon.cli import options
from tachyon.client import shapes
from tachyon.dex.ids import AccountId
from tachyon.errors import MarketNotFound, TachyonError, TokenNotFound

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tachyon.dex.ids import MarketId
    from tachyon.dex.model import MarketConfig
    from tachyon.exchange.port import ExchangePort
    from tachyon.ledger.ledger import TokenMeta
    from tachyon.wallet.keystore import KeyFile
    from tachyon.wallet.wallet import Wallet

T = TypeVar("T")


@dataclass(frozen=True)
class PublicExchange:
    """Where public market data comes from: `open` a port on it; `url` is the node's, if any
    (`dex watch` follows its stream rather than asking again)."""

    open: Callable[[], AbstractContextManager[ExchangePort]]
    url: str | None


def key_file(db_path: str) -> KeyFile:
    from tachyon.wallet.keystore import load  # noqa: PLC0415

    return load(options.user_path(db_path))


def public(
    ctx: click.Context, node: str | None, db_path: str | None, data_dir: str | None
) -> PublicExchange:
    """The exchange public reads go to: the chosen node, or the embedded exchange in the
    wallet's or the given data directory."""
    wallet = key_file(db_path) if db_path is not None else None
    url = _node_of(ctx, node, wallet)
    if url is not None:
        if data_dir is not None:
            raise click.UsageError("give --node or --data-dir, not both")
        return PublicExchange(lambda: _port(url, None), url)
    if wallet is not None:
        directory = _exchange_dir(wallet)
    else:
        directory = options.user_path(data_dir) if data_dir else options.default_data_dir()
    return PublicExchange(lambda: _port(None, _existing(directory), create=False), None)


@contextmanager
def reading(
    ctx: click.Context,
    key: KeyFile,
    node: str | None,
    password: str | None,
    non_interactive: bool,
) -> Iterator[ExchangePort]:
    """The wallet's exchange, to read its own account (the port, not a `Wallet`: reading
    needs no key at all on the embedded exchange, nor the exchange package's import time).
    Over a node the key signs the read, so the password is required (a prompt if need be);
    embedded, none is needed, but one given (--password, $TACHYON_PASSWORD) is checked before
    anything is read."""
    url = _node_of(ctx, node, key)
    if url is None:
        given = options.given_password(password)
        if given is not None:
            key.unlock(given)
        with _port(None, _existing(_exchange_dir(key)), create=False) as port:
            yield port
        return
    private_key = key.unlock(_asked(ctx, key, password, non_interactive))
    with _port(url, None, private_key) as port:
        yield port


@contextmanager
def acting(ctx: click.Context, common: dict[str, str | bool | None]) -> Iterator[Wallet]:
    """The wallet unlocked, on its exchange: embedded (created if it is gone) or its node.
    The key is unlocked before anything is opened: a wrong password changes nothing."""
    db_path, password, node = common["db_path"], common["password"], common.get("node")
    assert isinstance(db_path, str)
    key = key_file(db_path)
    secret = _asked(
        ctx, key, password if isinstance(password, str) else None, bool(common["non_interactive"])
    )
    private_key = key.unlock(secret)
    url = _node_of(ctx, node if isinstance(node, str) else None, key)
    directory = None if url is not None else _exchange_dir(key)
    engine = options.engine_name(ctx) if directory is not None else None
    with _port(url, directory, private_key, engine=engine) as port:
        yield _wallet(key, port, private_key)


# -- what the user named, looked up on the port -----------------------------------------------


def market_of(port: ExchangePort, market: str) -> MarketConfig:
    """`market`'s configuration; MarketNotFound, naming the known markets, if it has none."""
    configs: dict[str, MarketConfig] = {config.market_id: config for config in port.markets()}
    return _named(configs, market, "market", MarketNotFound)


def market_rules_json(port: ExchangePort, market: str) -> object:
    """`market`'s risk limits as `dex markets` shows them."""
    config = market_of(port, market)
    row = shapes.market_json(config, port.market_rules()[config.market_id])
    return row["risk"]


def token_of(port: ExchangePort, token: str) -> TokenMeta:
    """`token`'s symbol and decimals; TokenNotFound, naming the known tokens, if unknown."""
    return _named({meta.symbol: meta for meta in port.tokens()}, token, "token", TokenNotFound)


def _named(found: Mapping[str, T], name: str, kind: str, missing: type[TachyonError]) -> T:
    value = found.get(name)
    if value is None:
        known = ", ".join(sorted(found)) or "none"
        raise missing(f"unknown {kind} {name!r}; {kind}s: {known}")
    return value


def order_market(port: ExchangePort, account: AccountId, order_id: int) -> MarketId | None:
    """The market of one of `account`'s open orders; None if it has no such open order (an
    order of another account included: cancelling it is refused anyway)."""
    for order in port.open_orders(account):
        if order.order_id == order_id:
            return order.market
    return None


# -- internals -------------------------------------------------------------------------------


@contextmanager
def _port(
    url: str | None,
    directory: Path | None,
    key: Ed25519PrivateKey | None = None,
    *,
    create: bool = True,
    engine: str | None = None,
) -> Iterator[ExchangePort]:
    """The port itself: a node's client (`key` signs account reads), or the data directory
    (an exchange created there on first use only if `create`, on `engine`: reads never
    create)."""
    port: ExchangePort
    if url is not None:
        from tachyon.client.node_port import NodePort  # noqa: PLC0415 (httpx only over a node)

        port = NodePort(url, key=key)
    else:
        from tachyon.storage.port import EmbeddedPort  # noqa: PLC0415

        assert directory is not None
        port = EmbeddedPort(directory, create=create, engine=engine)
    try:
        yield port
    finally:
        port.close()


def _wallet(key: KeyFile, port: ExchangePort, private_key: Ed25519PrivateKey) -> Wallet:
    from tachyon.wallet.wallet import Wallet  # noqa: PLC0415

    wallet = Wallet(key, port)
    wallet.use_key(private_key)
    return wallet


def _asked(ctx: click.Context, key: KeyFile, given: str | None, non_interactive: bool) -> str:
    return options.password(ctx, given, non_interactive, prompt=f"Password for {key.path.parent}")


def _exchange_dir(key: KeyFile) -> Path:
    kind = key.exchange.get("kind")
    if kind != "embedded" or "data_dir" not in key.exchange:
        raise click.ClickException(
            f"the wallet at {key.path.parent} trades on {key.exchange}, which this"
            " tachyon cannot reach (it knows the embedded exchange and nodes)"
        )
    return Path(key.exchange["data_dir"])


def _existing(directory: Path) -> Path:
    """`directory`, if it holds an exchange: a read never creates one."""
    if not (directory / "exchange.db").is_file():
        raise click.ClickException(
            f"no exchange at {directory} (`tachyon wallet create` makes one; check --data-dir)"
        )
    return directory


def _node_of(ctx: click.Context, override: str | None, key: KeyFile | None) -> str | None:
    """The node to talk to: --node after the command, else before the group, else the one
    the wallet was created on; None for the embedded exchange."""
    chosen = options.node_url(ctx, override)
    if chosen is not None:
        return chosen
    if key is not None and key.exchange.get("kind") == "node":
        url = key.exchange.get("url")
        if not url:
            raise click.ClickException(f"the wallet at {key.path.parent} names no node URL")
        return url
    return None

"""`tachyon demo`: a scripted trading session on a temporary embedded exchange.

Two wallets (alice and bob, each an encrypted key in a temporary directory) deposit, rest
orders and trade with limit and market orders, every command signed by its wallet and
journaled before it is answered. The demo prints the book, the trades and the balances after
each step, then audits the journal and checks every invariant. Nothing outlives the run.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from rich.console import Console

from tachyon.cli import render, tables
from tachyon.client import shapes
from tachyon.dex.ids import MarketId, TokenId
from tachyon.dex.model import MarketConfig, Side
from tachyon.dex.units import to_minor
from tachyon.dex.validation import parse_price, parse_qty
from tachyon.exchange.engines import DEFAULT_ENGINE
from tachyon.exchange.service import DEFAULT_MARKET_ID, Placement
from tachyon.ledger.ledger import TokenMeta
from tachyon.storage.audit import AuditReport, audit
from tachyon.storage.host import EmbeddedExchange
from tachyon.storage.port import EmbeddedPort
from tachyon.wallet.keystore import KDF_MIN, create
from tachyon.wallet.wallet import Wallet

NAMES = ("alice", "bob")


def run_demo(console: Console, as_json: bool, engine: str = DEFAULT_ENGINE) -> None:
    with tempfile.TemporaryDirectory(prefix="tachyon-demo-") as tmp:
        _session(Path(tmp), console, as_json, engine)


def _session(root: Path, console: Console, as_json: bool, engine: str) -> None:
    data_dir = root / "exchange"
    password = secrets.token_urlsafe(16)  # throwaway wallets: the minimum KDF cost will do
    with EmbeddedExchange.open(data_dir, engine=engine) as host:
        port = EmbeddedPort.over(host)
        wallets = {name: _wallet(root, name, password, port) for name in NAMES}
        alice, bob = wallets["alice"], wallets["bob"]
        market = port.markets()[0]
        assert market.market_id == DEFAULT_MARKET_ID
        tokens = {meta.symbol: meta for meta in port.tokens()}
        steps: list[dict[str, object]] = []

        def price(text: str) -> int:
            return parse_price(market, text)

        def qty(text: str) -> int:
            return parse_qty(market, text)

        def record(title: str, placement: Placement | None = None) -> None:
            host.refresh().check_invariants()
            step: dict[str, object] = {"step": title}
            if placement is not None:
                step["order"] = shapes.placement_json(market, placement, port.last_receipt())
            step["orderbook"] = render.book_json(market, port.book(10, market.market_id))
            step["balances"] = {name: _balances(wallet, tokens) for name, wallet in wallets.items()}
            steps.append(step)
            if not as_json:
                _print_step(console, step)

        market_id = MarketId(market.market_id)
        alice.deposit(TokenId(market.quote), to_minor("1000000", market.quote_decimals))
        bob.deposit(TokenId(market.base), to_minor("25", market.base_decimals))
        record("alice deposits 1000000 USDC, bob deposits 25 BASE")
        record(
            "alice bids 10 BASE at 100",
            alice.place_limit(market_id, Side.BID, price("100"), qty("10")),
        )
        record(
            "alice bids 5 BASE at 99", alice.place_limit(market_id, Side.BID, price("99"), qty("5"))
        )
        record(
            "bob asks 8 BASE at 101", bob.place_limit(market_id, Side.ASK, price("101"), qty("8"))
        )
        record("bob sells 12 BASE at market", bob.place_market(market_id, Side.ASK, qty("12")))
        record("alice buys 3 BASE at market", alice.place_market(market_id, Side.BID, qty("3")))
        cancelled = alice.cancel(alice.open_orders()[0].order_id)
        assert isinstance(cancelled, Placement)  # an order, not a stop
        record("alice cancels her rest at 99", cancelled)
        trades = [
            shapes.trade_record_json(market, record) for record in port.trade_records(20, market_id)
        ]
    _report(console, as_json, market, wallets, steps, trades, audit(data_dir))


def _report(
    console: Console,
    as_json: bool,
    market: MarketConfig,
    wallets: dict[str, Wallet],
    steps: list[dict[str, object]],
    trades: list[dict[str, object]],
    report: AuditReport,
) -> None:
    """The session's end: the trades, and the audit of the whole journal (run after close)."""
    addresses = {name: wallet.address for name, wallet in wallets.items()}
    if as_json:
        render.emit_json(
            {
                "market": market.market_id,
                "addresses": addresses,
                "steps": steps,
                "trades": trades,
                "audit": {"entries": report.entries, "state_hash": report.state_hash},
            }
        )
    else:
        units = tables.trade_units(market.base, market.quote, market.fee_token)
        console.print(tables.human_table("recent trades (newest first)", trades, units))
        console.print(
            f"[bold green]invariants hold[/]: funds conserved, locks match open orders;"
            f" audit replayed {report.entries} signed, journaled commands to state"
            f" {report.state_hash[:16]}…"
        )


def _wallet(root: Path, name: str, password: str, port: EmbeddedPort) -> Wallet:
    data_dir = str(port.data_dir)
    key_file = create(
        root / "wallets" / name, password, {"kind": "embedded", "data_dir": data_dir}, KDF_MIN
    )
    wallet = Wallet(key_file, port)
    wallet.unlock(password)
    return wallet


def _balances(wallet: Wallet, tokens: dict[TokenId, TokenMeta]) -> list[dict[str, str]]:
    """The tokens the wallet holds, as the exchange lists them."""
    held = wallet.balances()
    return render.balances_json([tokens[token] for token in held], held)


def _print_step(console: Console, step: dict[str, object]) -> None:
    console.rule(str(step["step"]))
    order = step.get("order")
    if isinstance(order, dict):
        console.print(
            f"order {order['order_id']}: {order['status']}, filled {order['filled_qty']},"
            f" {len(order['trades'])} trade(s)"
        )
    book = step["orderbook"]
    assert isinstance(book, dict)
    console.print(tables.book_table(book))
    balances = step["balances"]
    assert isinstance(balances, dict)
    rows = [
        {"account": owner, **row} for owner, owner_rows in balances.items() for row in owner_rows
    ]
    console.print(tables.rows_table("balances", rows))

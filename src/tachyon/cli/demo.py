"""`tachyon demo`: a scripted trading session on an embedded in-memory exchange.

Two accounts deposit, rest orders, trade with limit and market orders; the demo prints the
book, the trades and the balances after each step, and checks the exchange's invariants.
"""

from __future__ import annotations

from rich.console import Console

from tachyon.cli import render, tables
from tachyon.dex.ids import AccountId, TokenId
from tachyon.dex.model import Side
from tachyon.dex.units import to_minor
from tachyon.exchange.engines import DEFAULT_ENGINE
from tachyon.exchange.service import DEFAULT_MARKET_ID, DexService, Placement

ALICE = AccountId("alice")
BOB = AccountId("bob")


def run_demo(console: Console, as_json: bool, engine: str = DEFAULT_ENGINE) -> None:
    service = DexService(engine=engine)
    market = service.get_market(DEFAULT_MARKET_ID)
    tokens = {meta.symbol: meta for meta in service.tokens()}
    usdc, base = market.quote, market.base
    steps: list[dict[str, object]] = []

    def price(text: str) -> int:
        return to_minor(text, market.quote_decimals, "price")

    def qty(text: str) -> int:
        return to_minor(text, market.base_decimals, "qty")

    def record(title: str, placement: Placement | None = None) -> None:
        service.check_invariants()
        step: dict[str, object] = {"step": title}
        if placement is not None:
            step["order"] = {
                "order_id": placement.order_id,
                "status": str(placement.status),
                "filled_qty": str(placement.filled_qty),
                "trades": [render.trade_json(market, trade) for trade in placement.trades],
            }
        step["orderbook"] = render.book_json(market, service.snapshot(10))
        step["balances"] = {
            owner: render.balances_json(service.balances(owner), tokens) for owner in (ALICE, BOB)
        }
        steps.append(step)
        if not as_json:
            _print_step(console, step)

    service.deposit(ALICE, TokenId(usdc), to_minor("1000000", market.quote_decimals))
    service.deposit(BOB, TokenId(base), to_minor("25", market.base_decimals))
    record("alice deposits 1000000 USDC, bob deposits 25 BASE")
    record(
        "alice bids 10 BASE at 100", service.place_limit(ALICE, Side.BID, price("100"), qty("10"))
    )
    record("alice bids 5 BASE at 99", service.place_limit(ALICE, Side.BID, price("99"), qty("5")))
    record("bob asks 8 BASE at 101", service.place_limit(BOB, Side.ASK, price("101"), qty("8")))
    record("bob sells 12 BASE at market", service.place_market(BOB, Side.ASK, qty("12")))
    record("alice buys 3 BASE at market", service.place_market(ALICE, Side.BID, qty("3")))
    record(
        "alice cancels her rest at 99",
        service.cancel(ALICE, service.open_orders(ALICE)[0].order.order_id),
    )
    trades = [render.trade_json(market, trade) for trade in service.recent_trades(20)]
    if as_json:
        render.emit_json({"market": market.market_id, "steps": steps, "trades": trades})
    else:
        console.print(tables.rows_table("recent trades (newest first)", trades))
        console.print("[bold green]invariants hold[/]: funds conserved, locks match open orders")


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

"""The operator's commands over the node: their answers (the JSON `tachyon admin` prints) and
the venue's reads (`/v1/markets` with each market's rules, `/v1/tokens`).

They arrive as any signed command does (`POST /v1/commands`, the order-entry WebSocket),
through the same admission, rate limits and sequencer; the exchange refuses them
(`not_operator`) unless the operator's key signed them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tachyon.client import shapes
from tachyon.dex.ids import MarketId, TokenId
from tachyon.exchange.commands import (
    AdminAddMarket,
    AdminAddToken,
    AdminCloseWithdrawal,
    AdminCollectFees,
    AdminDeposit,
    AdminHaltMarket,
    AdminSetFees,
    AdminSetRisk,
    SetOperator,
)
from tachyon.exchange.withdrawals import Withdrawal
from tachyon.ledger.ledger import BalanceRecord

if TYPE_CHECKING:
    from tachyon.exchange.commands import AdminCommand
    from tachyon.exchange.state_machine import Exchange, Outcome


def admin_answer(state: Exchange, command: AdminCommand, outcome: Outcome) -> dict[str, object]:
    """What an applied admin command answers, from the state right after it."""
    match command:
        case SetOperator():
            return {"operator": command.account}
        case AdminAddToken():
            return {"token": {"symbol": command.symbol, "decimals": command.decimals}}
        case AdminAddMarket():
            market = MarketId(f"{command.base}/{command.quote}")
            return {"market": markets_json(state, [market])[0]}
        case AdminSetFees():
            return {
                "market": command.market,
                "maker_bps": command.maker_bps,
                "taker_bps": command.taker_bps,
                "cancelled_orders": outcome if isinstance(outcome, list) else [],
            }
        case AdminSetRisk():
            return {
                "market": command.market,
                "risk": markets_json(state, [MarketId(command.market)])[0]["risk"],
            }
        case AdminHaltMarket():
            return {"market": command.market, "halted": command.halted}
        case AdminCollectFees():
            return _balance_answer(state, command.account, command.token, outcome)
        case AdminDeposit():
            return _balance_answer(state, command.to, command.token, outcome)
        case AdminCloseWithdrawal():
            assert isinstance(outcome, Withdrawal), outcome
            meta = state.service.ledger.get_meta(outcome.token)
            return {"withdrawal": shapes.withdrawal_json(meta.decimals, outcome)}
    raise AssertionError(f"unhandled admin command {type(command).__name__}")


def _balance_answer(
    state: Exchange, account: str, token: str, outcome: Outcome
) -> dict[str, object]:
    assert isinstance(outcome, BalanceRecord), outcome
    meta = state.service.ledger.get_meta(TokenId(token))
    row = shapes.balance_json(
        meta.symbol, meta.decimals, outcome.available, outcome.locked, outcome.debt
    )
    return {"address": account, "balances": [row]}


def markets_json(state: Exchange, markets: list[MarketId] | None = None) -> list[dict[str, object]]:
    """Markets (every one, or those named) with their rules and engine, as `dex markets`."""
    service, rules = state.service, state.market_rules()
    configs = service.markets() if markets is None else [service.get_market(m) for m in markets]
    return [shapes.market_json(config, rules[config.market_id]) for config in configs]


def tokens_json(state: Exchange) -> dict[str, object]:
    return {
        "tokens": [
            {"symbol": meta.symbol, "decimals": meta.decimals} for meta in state.service.tokens()
        ]
    }

"""The venue: the exchange's operator and what the operator decides (tokens, markets, fees,
risk limits, halts, deposits), applied as journaled commands.

Pure. An exchange has at most one operator, an address set once by `SetOperator`. Every admin
command names the operator as its `account` and is signed by its key (admission checks the
signature; `apply_admin` checks it is the operator's): anyone else is refused `not_operator`,
its nonce used. Before an operator is set, the library's unsigned `RegisterToken`, `AddMarket`,
`SetFees` and `SetReceiveWindow` apply as they always did (journals written before replay);
once one is set, they are refused `not_operator` too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import FeeSchedule, MarketConfig
from tachyon.dex.units import AMOUNT_MINOR_MAX, DECIMALS_MAX
from tachyon.errors import AlreadyExists, InvalidConfig, NotOperator
from tachyon.exchange.commands import (
    AdminAddMarket,
    AdminAddToken,
    AdminCloseWithdrawal,
    AdminCollectFees,
    AdminCommand,
    AdminDeposit,
    AdminHaltMarket,
    AdminSetFees,
    AdminSetRisk,
    SetOperator,
)
from tachyon.exchange.events import (
    Event,
    MarketHalted as MarketHaltedEvent,
    OperatorSet,
    OrderCancelled,
    RiskLimitsSet,
)
from tachyon.exchange.risk import NO_RULES, MarketRules, RiskLimits
from tachyon.exchange.service import DexService
from tachyon.exchange.withdrawals import Withdrawal
from tachyon.ledger.ledger import BalanceRecord, TokenMeta

WHOLE_UNITS_MIN: Final = 10**9
"""A token's decimals must leave room for at least this many whole units below the 2**64 - 1
minor-unit bound on amounts (8 decimals: 184 billion; 10 at most)."""

AdminOutcome = BalanceRecord | Withdrawal | list[OrderId] | None


class Venue:
    """The operator and each market's rules (halt, size limits, risk limits, engine)."""

    __slots__ = ("operator", "rules")

    def __init__(self) -> None:
        self.operator: str | None = None
        self.rules: dict[MarketId, MarketRules] = {}

    def rules_of(self, market: MarketId) -> MarketRules:
        return self.rules.get(market, NO_RULES)

    def check_unsigned_admin(self, what: str) -> None:
        """Refuse a library's unsigned admin command once the exchange has an operator."""
        if self.operator is not None:
            raise NotOperator(
                f"{what} needs the operator's signature: this exchange's operator is"
                f" {self.operator}; nothing was changed"
            )

    def apply_admin(
        self, service: DexService, command: AdminCommand
    ) -> tuple[AdminOutcome, list[Event]]:
        """Apply one admin command (refused `not_operator` unless its account is the
        operator, or for `SetOperator`, unless none is set)."""
        if type(command) is SetOperator:
            return self._set_operator(command)
        if command.account != self.operator:
            who = "no operator is set" if self.operator is None else f"it is {self.operator}"
            raise NotOperator(
                f"{command.account} is not this exchange's operator ({who}); nothing was changed"
            )
        match command:
            case AdminAddToken():
                return _add_token(service, command)
            case AdminAddMarket():
                return _add_market(self, service, command)
            case AdminSetFees():
                return _set_fees(service, command)
            case AdminCollectFees():
                return _collect_fees(service, command)
            case AdminSetRisk():
                return _set_risk(self, service, command)
            case AdminHaltMarket():
                return _halt(self, service, command)
            case AdminDeposit():
                return _deposit(service, command)
            case AdminCloseWithdrawal():
                return service.close_withdrawal(
                    command.withdrawal_id, command.completed, command.reference
                )
        raise AssertionError(f"unhandled admin command {type(command).__name__}")

    def _set_operator(self, command: SetOperator) -> tuple[AdminOutcome, list[Event]]:
        if self.operator is not None:
            raise AlreadyExists(
                f"this exchange's operator is {self.operator} already (set once); nothing was"
                " changed"
            )
        self.operator = command.account
        return None, [OperatorSet(AccountId(command.account))]

    # -- state -----------------------------------------------------------------------------

    def to_state(self) -> dict[str, object]:
        """The venue as plain values (empty for a venue nobody configured, so that an
        exchange without an operator keeps the state bytes it had before there was one)."""
        if self.operator is None and not self.rules:
            return {}
        return {
            "operator": self.operator,
            "rules": [
                [market, *_rules_to_state(rules)] for market, rules in sorted(self.rules.items())
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, object]) -> Venue:
        venue = cls()
        if state:
            operator = state["operator"]
            venue.operator = None if operator is None else str(operator)
            rows = state["rules"]
            assert isinstance(rows, list)
            for market, *row in rows:
                venue.rules[MarketId(str(market))] = _rules_from_state(row)
        return venue


def _add_token(service: DexService, command: AdminAddToken) -> tuple[AdminOutcome, list[Event]]:
    decimals = command.decimals
    room = AMOUNT_MINOR_MAX // 10**decimals if 0 <= decimals <= DECIMALS_MAX else 0
    if room < WHOLE_UNITS_MIN:
        raise InvalidConfig(
            f"token {command.symbol} with {command.decimals} decimals could hold at most"
            f" {room:,} whole units (amounts are at most 2**64 - 1 minor units); use at most 10"
            " decimals (8, as most venues keep ETH, allow 184,467,440,737)"
        )
    return None, service.register_token(TokenMeta(TokenId(command.symbol), command.decimals))


def _add_market(
    venue: Venue, service: DexService, command: AdminAddMarket
) -> tuple[AdminOutcome, list[Event]]:
    base, quote = TokenId(command.base), TokenId(command.quote)
    decimals = {meta.symbol: meta.decimals for meta in service.tokens()}
    for token in (base, quote):
        if token not in decimals:
            known = ", ".join(sorted(decimals)) or "none"
            raise InvalidConfig(f"token {token} is not registered (tokens: {known})")
    config = MarketConfig(
        base,
        quote,
        command.tick_size,
        command.lot_size,
        command.min_qty,
        decimals[base],
        decimals[quote],
    )
    for name, value in (("max_qty", command.max_qty), ("min_notional", command.min_notional)):
        if value is not None and (type(value) is not int or value <= 0):
            raise InvalidConfig(f"{name} {value!r} must be a positive integer")
    if command.max_qty is not None and command.max_qty < command.min_qty:
        raise InvalidConfig(f"max_qty {command.max_qty} is below min_qty {command.min_qty}")
    events = service.add_market(config, engine_name=command.engine)
    venue.rules[config.market_id] = MarketRules(
        max_qty=command.max_qty, min_notional=command.min_notional, engine=command.engine
    )
    return None, events


def _set_fees(service: DexService, command: AdminSetFees) -> tuple[AdminOutcome, list[Event]]:
    events = service.set_fees(
        MarketId(command.market), FeeSchedule(command.maker_bps, command.taker_bps)
    )
    cancelled: list[OrderId] = [event.order_id for event in events if type(event) is OrderCancelled]
    return cancelled, events


def _collect_fees(
    service: DexService, command: AdminCollectFees
) -> tuple[AdminOutcome, list[Event]]:
    token = TokenId(command.token)
    operator = AccountId(command.account)
    events: list[Event] = []
    for fee_account in service.fee_accounts():
        amount = service.balance(fee_account, token).available
        if amount:
            events += service.withdraw(fee_account, token, amount)
            events += service.deposit(operator, token, amount)
    return service.balance(operator, token), events


def _set_risk(
    venue: Venue, service: DexService, command: AdminSetRisk
) -> tuple[AdminOutcome, list[Event]]:
    market = MarketId(command.market)
    service.get_market(market)  # an unknown market is refused
    update = RiskLimits(
        command.max_notional, command.price_band_bps, command.max_position, command.max_open_orders
    )
    for name in RiskLimits.__slots__:
        value = getattr(update, name)
        if value is not None and (type(value) is not int or value <= 0):
            raise InvalidConfig(f"{name} {value!r} must be a positive integer")
    rules = venue.rules_of(market)
    base = RiskLimits() if command.clear else rules.limits
    limits = base.changed(update)
    venue.rules[market] = replace(rules, limits=limits)
    return None, [RiskLimitsSet(market, limits)]


def _halt(
    venue: Venue, service: DexService, command: AdminHaltMarket
) -> tuple[AdminOutcome, list[Event]]:
    market = MarketId(command.market)
    service.get_market(market)
    venue.rules[market] = replace(venue.rules_of(market), halted=command.halted)
    return None, [MarketHaltedEvent(market, command.halted)]


def _deposit(service: DexService, command: AdminDeposit) -> tuple[AdminOutcome, list[Event]]:
    to, token = AccountId(command.to), TokenId(command.token)
    events = service.deposit(to, token, command.amount)
    return service.balance(to, token), events


def _rules_to_state(rules: MarketRules) -> list[object]:
    limits = rules.limits
    return [
        rules.halted,
        rules.max_qty,
        rules.min_notional,
        rules.engine,
        limits.max_notional,
        limits.price_band_bps,
        limits.max_position,
        limits.max_open_orders,
    ]


def _rules_from_state(row: list[object]) -> MarketRules:
    halted, max_qty, min_notional, engine, *limits = row
    return MarketRules(
        bool(halted),
        _optional_int(max_qty),
        _optional_int(min_notional),
        RiskLimits(*(_optional_int(limit) for limit in limits)),
        None if engine is None else str(engine),
    )


def _optional_int(value: object) -> int | None:
    if value is not None and type(value) is not int:
        raise ValueError(f"{value!r} is not an integer")
    return value

"""Shared fixtures-by-function for the DexService tests: accounts, tokens, markets, snapshots.
Plain helpers (not tests): each test builds its own service so nothing leaks between tests."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import FEE_ACCOUNT, FeeSchedule, MarketConfig, OrderStatus, Side, Trade
from tachyon.exchange.admission import admit
from tachyon.exchange.auth import address_of, sign
from tachyon.exchange.commands import AnyCommand, SignedCommand, encode_command
from tachyon.exchange.events import Event, OrderCancelled
from tachyon.exchange.service import DEFAULT_MARKET_ID, DexService, Placement
from tachyon.exchange.state_machine import Exchange, Outcome, Refusal

ALICE = AccountId("alice")
BOB = AccountId("bob")
CAROL = AccountId("carol")
DAVE = AccountId("dave")
OWNERS = (ALICE, BOB, CAROL, DAVE, FEE_ACCOUNT)

KEY_A = Ed25519PrivateKey.from_private_bytes(bytes([1]) * 32)  # fixed keys: fixed addresses
KEY_B = Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32)
A = AccountId(address_of(KEY_A))  # accounts only these keys act for
B = AccountId(address_of(KEY_B))

BASE = TokenId("BASE")  # 0 decimals (the default market's base)
USDC = TokenId("USDC")  # 6 decimals
ETH = TokenId("ETH")  # 2 decimals
SOL = TokenId("SOL")  # 2 decimals

DEFAULT = DEFAULT_MARKET_ID  # BASE/USDC: tick 1, lot 1, min 1, no fees
ETH_USDC = MarketId("ETH/USDC")
SOL_USDC = MarketId("SOL/USDC")

# Fees charged in quote: a bid that rests holds cost + cost * 10 // 10_000.
ETH_CONFIG = MarketConfig(
    base=ETH,
    quote=USDC,
    tick_size=20,
    lot_size=5,
    min_qty=10,
    base_decimals=2,
    quote_decimals=6,
    fees=FeeSchedule(maker_bps=10, taker_bps=20),
)
# Fees charged in base: an ask that rests holds qty + qty * 10 // 10_000.
SOL_CONFIG = MarketConfig(
    base=SOL,
    quote=USDC,
    tick_size=20,
    lot_size=5,
    min_qty=10,
    base_decimals=2,
    quote_decimals=6,
    fees=FeeSchedule(maker_bps=10, taker_bps=20, fee_token=SOL),
)
MARKETS = (DEFAULT, ETH_USDC, SOL_USDC)


def make_service() -> DexService:
    """The default market plus ETH/USDC (fees in quote) and SOL/USDC (fees in base)."""
    service = DexService()
    service.add_market(ETH_CONFIG)
    service.add_market(SOL_CONFIG)
    service.check_invariants()
    return service


def fund(service: DexService, owner: AccountId, **amounts: int) -> None:
    for token, amount in amounts.items():
        service.deposit(owner, TokenId(token), amount)
        service.check_invariants()


def capture(service: DexService) -> dict[str, object]:
    """Everything a refused call must leave as it was."""
    markets = [config.market_id for config in service.markets()]
    return {
        "ledger": service.ledger.to_state(),
        "orders": {owner: service.open_orders(owner) for owner in OWNERS},
        "books": {market: service.snapshot(100, market) for market in markets},
        "trades": {market: service.recent_trades(1_000, market) for market in markets},
        "markets": service.markets(),
        "tokens": service.tokens(),
    }


def next_order_id(service: DexService) -> OrderId:
    """Place a far-away resting bid for dave (funded here) and return its id; then cancel it."""
    if service.balance(DAVE, USDC).available < 1:
        service.deposit(DAVE, USDC, 1)
    placement = service.place_limit(DAVE, Side.BID, 1, 1, market=DEFAULT)
    service.check_invariants()
    service.cancel(DAVE, placement.order_id)
    service.check_invariants()
    return placement.order_id


def summary(placement: Placement) -> tuple[int, list[Trade], OrderStatus, int, int]:
    """A placement without its market and events: what most tests compare."""
    return (
        placement.order_id,
        placement.trades,
        placement.status,
        placement.filled_qty,
        placement.open_qty,
    )


def fee_cancelled(events: list[Event]) -> list[OrderId]:
    """The orders a fee change cancelled, from its events."""
    return [event.order_id for event in events if isinstance(event, OrderCancelled)]


def apply_command(
    exchange: Exchange, command: AnyCommand, seq: int, ts_ns: int
) -> Outcome | Refusal:
    """Admit `command` as the host does (its signature checked) and apply it."""
    return exchange.apply(admit(command), seq, ts_ns)


def signed(key: Ed25519PrivateKey, command: AnyCommand) -> SignedCommand:
    """`command` as a wallet with `key` sends it."""
    body = encode_command(command)
    return SignedCommand(body, sign(key, body))

"""Domain types, units and the matching engine (the seed's `wallet::dex`). Pure: no I/O on the
matching path, no clock, no randomness, no floats."""

from tachyon.dex.engine import OrderBookEngine as OrderBookEngine
from tachyon.dex.engine_spec import (
    ALL_OPTIONS as ALL_OPTIONS,
    EngineCapabilities as EngineCapabilities,
    EngineSpec as EngineSpec,
)
from tachyon.dex.ids import (
    AccountId as AccountId,
    MarketId as MarketId,
    OrderId as OrderId,
    Seq as Seq,
    TokenId as TokenId,
    TradeId as TradeId,
)
from tachyon.dex.in_memory import (
    TRADES_RECENT_MAX as TRADES_RECENT_MAX,
    InMemoryEngine as InMemoryEngine,
)
from tachyon.dex.model import (
    DEFAULT_MARKET as DEFAULT_MARKET,
    FEE_ACCOUNT as FEE_ACCOUNT,
    STP_DEFAULT as STP_DEFAULT,
    BookDepth as BookDepth,
    BookLevel as BookLevel,
    FeeSchedule as FeeSchedule,
    MarketConfig as MarketConfig,
    Order as Order,
    OrderStatus as OrderStatus,
    OrderType as OrderType,
    SelfTradePrevention as SelfTradePrevention,
    Side as Side,
    TimeInForce as TimeInForce,
    Trade as Trade,
)
from tachyon.dex.units import (
    AMOUNT_MINOR_MAX as AMOUNT_MINOR_MAX,
    PRICE_MAX as PRICE_MAX,
    QTY_MAX as QTY_MAX,
    to_decimal as to_decimal,
    to_minor as to_minor,
)

__all__ = [
    "ALL_OPTIONS",
    "AMOUNT_MINOR_MAX",
    "DEFAULT_MARKET",
    "FEE_ACCOUNT",
    "PRICE_MAX",
    "QTY_MAX",
    "STP_DEFAULT",
    "TRADES_RECENT_MAX",
    "AccountId",
    "BookDepth",
    "BookLevel",
    "EngineCapabilities",
    "EngineSpec",
    "FeeSchedule",
    "InMemoryEngine",
    "MarketConfig",
    "MarketId",
    "Order",
    "OrderBookEngine",
    "OrderId",
    "OrderStatus",
    "OrderType",
    "SelfTradePrevention",
    "Seq",
    "Side",
    "TimeInForce",
    "TokenId",
    "Trade",
    "TradeId",
    "to_decimal",
    "to_minor",
]

"""The token ledger (the seed's `storage::TokenLedger`). Pure: no I/O, no clock, no floats."""

from tachyon.ledger.ledger import (
    BalanceRecord as BalanceRecord,
    TokenLedger as TokenLedger,
    TokenMeta as TokenMeta,
)

__all__ = ["BalanceRecord", "TokenLedger", "TokenMeta"]

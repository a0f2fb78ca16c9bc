"""Identifier types: one NewType per kind of id, free at run time and told apart by mypy."""

from __future__ import annotations

from typing import NewType

AccountId = NewType("AccountId", str)
"""An account (an owner of balances and orders); later the wallet's public-key address."""

OrderId = NewType("OrderId", int)
"""Order ids are positive integers assigned in sequence."""

TradeId = NewType("TradeId", int)
"""Trade ids are positive integers assigned in sequence, per market."""

MarketId = NewType("MarketId", str)
"""A market is named by its pair, e.g. ``BASE/USDC``."""

TokenId = NewType("TokenId", str)
"""A token is named by its symbol, e.g. ``USDC``."""

Seq = NewType("Seq", int)
"""A journal sequence number."""

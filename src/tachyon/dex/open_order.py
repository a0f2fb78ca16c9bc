"""OpenOrder: an account's open order as an exchange shows it to its owner, embedded or over
the network (`tachyon.exchange.port`): no more than both can tell, so no owner (the reader is
the owner) and no funds held (a node does not say). Pure."""

from __future__ import annotations

from typing import NamedTuple

from tachyon.dex.ids import MarketId, OrderId
from tachyon.dex.model import Side


class OpenOrder(NamedTuple):
    """`qty` as placed, `remaining_qty` still resting, `filled_qty` traded so far."""

    order_id: OrderId
    market: MarketId
    side: Side
    price: int
    qty: int
    remaining_qty: int
    filled_qty: int

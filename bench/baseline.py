"""The minimal pure-Python price-time engine the issue measures against.

A dict of price -> deque per side, a heap for the best price, lazy cancels, trades as tuples.
No validation, no owners, no time in force: the floor of what matching in Python costs.
"""

from __future__ import annotations

import heapq
from collections import deque


class MinimalEngine:
    def __init__(self) -> None:
        self.bids: dict[int, deque[list[int]]] = {}
        self.asks: dict[int, deque[list[int]]] = {}
        self.bid_heap: list[int] = []  # negated prices
        self.ask_heap: list[int] = []
        self.orders: dict[int, list[int]] = {}
        self.next_id = 1

    def place_limit(
        self, is_bid: bool, price: int, qty: int
    ) -> tuple[int, list[tuple[int, int, int, int]]]:
        oid = self.next_id
        self.next_id += 1
        trades: list[tuple[int, int, int, int]] = []
        if is_bid:
            qty = self._take(oid, qty, price, self.asks, self.ask_heap, 1, trades)
            if qty:
                self._rest(oid, price, qty, self.bids, self.bid_heap, -price)
        else:
            qty = self._take(oid, qty, price, self.bids, self.bid_heap, -1, trades)
            if qty:
                self._rest(oid, price, qty, self.asks, self.ask_heap, price)
        return oid, trades

    def place_market(self, is_bid: bool, qty: int) -> tuple[int, list[tuple[int, int, int, int]]]:
        oid = self.next_id
        self.next_id += 1
        trades: list[tuple[int, int, int, int]] = []
        if is_bid:
            self._take(oid, qty, 1 << 62, self.asks, self.ask_heap, 1, trades)
        else:
            self._take(oid, qty, 0, self.bids, self.bid_heap, -1, trades)
        return oid, trades

    def cancel(self, oid: int) -> bool:
        order = self.orders.pop(oid, None)
        if order is None:
            return False
        order[1] = 0  # lazily skipped when matched
        return True

    def _rest(
        self,
        oid: int,
        price: int,
        qty: int,
        book: dict[int, deque[list[int]]],
        heap: list[int],
        key: int,
    ) -> None:
        order = [oid, qty]
        level = book.get(price)
        if level is None:
            level = book[price] = deque()
            heapq.heappush(heap, key)
        level.append(order)
        self.orders[oid] = order

    def _take(
        self,
        oid: int,
        qty: int,
        limit: int,
        book: dict[int, deque[list[int]]],
        heap: list[int],
        sign: int,
        trades: list[tuple[int, int, int, int]],
    ) -> int:
        while qty and heap:
            price = heap[0] * sign
            if (price > limit) if sign == 1 else (price < limit):
                break
            level = book[price]
            while level and qty:
                maker = level[0]
                if not maker[1]:
                    level.popleft()
                    continue
                fill = min(qty, maker[1])
                trades.append((maker[0], oid, price, fill))
                maker[1] -= fill
                qty -= fill
                if not maker[1]:
                    level.popleft()
                    del self.orders[maker[0]]
            if not level:
                del book[price]
                heapq.heappop(heap)
        return qty

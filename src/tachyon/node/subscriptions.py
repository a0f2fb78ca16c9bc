"""A stream client's subscription to the hub, for every protocol that streams (the WebSocket
routes and the gRPC service): subscribed and greeted in one step, counted while it lasts.

The greeting (the welcome: snapshots built from the hub's books at the last batch the hub
received) is queued in the same step as the subscription, so no batch falls between the two
and none is told twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tachyon.node.execution import Node
from tachyon.node.stream_events import ACCOUNT, DEPTH, TRADES, WHOLE_BOOK, Channel, encode
from tachyon.node.streams import Subscriber

Welcome = Callable[[int], list[str]]
"""The first messages of a subscription, at the hub's update id."""


@contextmanager
def subscription(
    node: Node, endpoint: str, channels: list[Channel], welcome: Welcome, depth: int = WHOLE_BOOK
) -> Iterator[Subscriber]:
    """A subscriber of `channels`, its welcome queued, counted as a client of `endpoint`;
    removed on the way out."""
    subscriber = Subscriber(node.stream_queue_max, node.stream_queue_bytes_max, depth)
    node.hub.add(channels, subscriber)
    node.metrics.stream_clients.labels(endpoint).inc()
    try:
        subscriber.greet(welcome(node.hub.seq))
        yield subscriber
    finally:
        node.hub.remove(channels, subscriber)
        node.metrics.stream_clients.labels(endpoint).dec()


def market_welcome(
    node: Node, market: str, kinds: tuple[str, ...], depth: int, limit: int
) -> Welcome:
    """A market stream's snapshots: the best `depth` levels a side, the `limit` latest
    trades, as its `kinds` ask."""

    def welcome(seq: int) -> list[str]:
        book = node.hub.book(market)
        texts: list[str] = []
        if DEPTH in kinds:
            texts.append(book.depth_snapshot(seq, depth))
        if TRADES in kinds:
            texts.append(book.trades_snapshot(seq, limit))
        return texts

    return welcome


def account_welcome(account: str) -> Welcome:
    """An account stream's `subscribed` message."""

    def welcome(seq: int) -> list[str]:
        message = {
            "stream": ACCOUNT,
            "type": "subscribed",
            "address": account,
            "last_update_id": seq,
        }
        return [encode(message)]

    return welcome

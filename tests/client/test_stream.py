"""Goal: the CLI's stream client starts over when the book cannot be followed (a lost diff, or
the node cutting it off for falling behind) and raises a refusal the node closed with as its
error. Method: the websockets client's `connect` replaced by scripted connections that play
the node's messages and close frames (the node's side is tested in test_streams and
test_node_e2e)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets.sync.client
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from tachyon.client.stream import MarketStream, StreamGap
from tachyon.dex.model import DEFAULT_MARKET
from tachyon.errors import MarketNotFound

USDC = 1_000_000


def _book(last: int, price: str) -> str:
    return json.dumps(
        {
            "stream": "depth",
            "type": "snapshot",
            "market": "BASE/USDC",
            "last_update_id": last,
            "bids": [{"price": price, "qty": "1"}],
            "asks": [],
        }
    )


def _diff(prev: int, last: int, price: str) -> str:
    body = {"stream": "depth", "type": "diff", "market": "BASE/USDC", "asks": []}
    bids = [{"price": price, "qty": "2"}]
    return json.dumps(
        {
            **body,
            "first_update_id": last,
            "last_update_id": last,
            "prev_update_id": prev,
            "bids": bids,
        }
    )


TRADES = json.dumps(
    {
        "stream": "trades",
        "type": "snapshot",
        "market": "BASE/USDC",
        "last_update_id": 1,
        "trades": [],
    }
)


class _Connection:
    """Plays messages, then closes with `close` (code, reason)."""

    def __init__(self, messages: list[str], close: tuple[int, str]) -> None:
        self.messages = messages
        self.close = close

    def __enter__(self) -> _Connection:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def recv(self, timeout: float | None = None) -> str:
        if self.messages:
            return self.messages.pop(0)
        raise ConnectionClosed(Close(*self.close), None)


def _scripted(monkeypatch: pytest.MonkeyPatch, connections: list[_Connection]) -> list[str]:
    opened: list[str] = []

    def connect(url: str, **_options: Any) -> _Connection:
        opened.append(url)
        return connections.pop(0)

    monkeypatch.setattr(websockets.sync.client, "connect", connect)
    return opened


def _frames(stream: MarketStream, count: int) -> Iterator[bool]:
    frames = stream.frames(timeout_s=1.0)
    for _ in range(count):
        yield next(frames)


@pytest.mark.parametrize(
    "first_end",
    [
        pytest.param([_diff(prev=7, last=8, price="101")], id="a lost diff"),
        pytest.param([], id="cut off as a slow consumer"),
    ],
)
def test_the_stream_starts_over_after_a_gap_or_a_cut_off(
    monkeypatch: pytest.MonkeyPatch, first_end: list[str]
) -> None:
    first = _Connection([_book(5, "100"), TRADES, *first_end], (4008, "slow consumer: ..."))
    second = _Connection([_book(9, "99"), TRADES, _diff(prev=9, last=10, price="99")], (1001, ""))
    opened = _scripted(monkeypatch, [first, second])
    stream = MarketStream("http://127.0.0.1:8700", DEFAULT_MARKET)
    changed = list(_frames(stream, 4))
    assert changed == [True, True, True, True]  # both snapshots in, second book, trades, diff
    assert stream.resubscribes == 1
    assert stream.follower.bids == {99 * USDC: 2}
    url = "ws://127.0.0.1:8700/v1/ws/market?market=BASE%2FUSDC&depth=all&trades=20"
    assert opened == [url] * 2


def test_a_refusal_close_is_raised_as_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted(monkeypatch, [_Connection([], (4404, "market_not_found: unknown market 'X'"))])
    stream = MarketStream("https://node.example", DEFAULT_MARKET)
    with pytest.raises(MarketNotFound, match="unknown market 'X'"):
        next(stream.frames())


def test_endless_gaps_end_in_the_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    gap = [_book(5, "100"), TRADES, _diff(prev=7, last=8, price="101")]
    _scripted(monkeypatch, [_Connection(list(gap), (1000, "")) for _ in range(20)])
    stream = MarketStream("http://127.0.0.1:8700", DEFAULT_MARKET)
    with pytest.raises(StreamGap, match="does not follow"):
        list(stream.frames(timeout_s=1.0))
    assert stream.resubscribes == 11

"""ReadView: answers reads (markets, tokens, balances, books, trades, open orders, an account's
history) from the read model that the host writes in the same transaction as the journal,
without recovering the exchange.

Light on purpose: imports only the standard library and `tachyon.storage.db`, `.head` and
`.journal`, so a new process (the CLI) answers in milliseconds. Reads only, through a read-only connection, all in one read
transaction, so every answer is of the same journal sequence number. Values are plain ints and
strs, in minor units and ticks as in the core.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

from tachyon.errors import InvalidOrder, MarketNotFound
from tachyon.storage import db, head, journal

Level = tuple[int, int]
"""An aggregated book level: (price, quantity)."""


class MarketRow(NamedTuple):
    """A market's configuration (see `MarketConfig`); `fee_token` is the token fees are paid in."""

    market: str
    base: str
    quote: str
    tick_size: int
    lot_size: int
    min_qty: int
    base_decimals: int
    quote_decimals: int
    maker_bps: int
    taker_bps: int
    fee_token: str
    fee_account: str


class TokenRow(NamedTuple):
    symbol: str
    decimals: int


class BalanceRow(NamedTuple):
    token: str
    decimals: int
    available: int
    locked: int
    debt: int = 0


class OrderRow(NamedTuple):
    """An open order; `qty` is what was placed, `remaining` what still rests; `ts_ns` is the
    time of the command that placed it (None: placed before the view recorded times)."""

    order_id: int
    market: str
    side: str  # "bid" or "ask"
    price: int
    qty: int
    remaining: int
    filled: int
    ts_ns: int | None


class TradeRow(NamedTuple):
    """A fill at the maker's price; `seq` and `ts_ns` are those of the command that made it
    (None for a trade older than the view, copied from the engine when the view was built),
    the fees each side paid in the market's fee token (None: not recorded)."""

    trade_id: int
    price: int
    qty: int
    maker_order_id: int
    taker_order_id: int
    maker: str
    taker: str
    taker_side: str
    seq: int | None
    ts_ns: int | None
    maker_fee: int | None
    taker_fee: int | None


class ClosedOrderRow(NamedTuple):
    """An order that closed: `status` "filled" or "cancelled" (for `reason`); `price` None for
    a market order, `qty` None for a market bid by budget; `ts_ns` when it was placed (None:
    not known), `closed_ts_ns` the time of the command that closed it."""

    order_id: int
    market: str
    side: str
    price: int | None
    qty: int | None
    filled: int
    status: str
    reason: str | None
    ts_ns: int | None
    closed_ts_ns: int


class FillRow(NamedTuple):
    """One side of a trade: the account's order, its side and `role` ("maker" or "taker"),
    and the fee that side paid (None: not recorded)."""

    trade_id: int
    market: str
    order_id: int
    side: str
    role: str
    price: int
    qty: int
    fee: int | None
    seq: int | None
    ts_ns: int | None


_OPPOSITE: dict[str, str] = {"bid": "ask", "ask": "bid"}
_BOOK = {
    "bid": "SELECT price, qty FROM view_levels WHERE market = ? AND side = 'bid'"
    " ORDER BY price DESC LIMIT ?",
    "ask": "SELECT price, qty FROM view_levels WHERE market = ? AND side = 'ask'"
    " ORDER BY price LIMIT ?",
}

_CLOSED_ORDERS = (
    "SELECT order_id, market, side, price, qty, filled, status, reason, ts_ns, closed_ts_ns"
    " FROM view_closed_orders WHERE account = :account"
    " AND (:market IS NULL OR market = :market)"
    " ORDER BY closed_seq DESC, order_id DESC LIMIT :limit"
)
"""An account's closed orders (in a market, unless it is NULL), newest first: one range of the
table's key, read backwards."""
_FILLS = (
    "SELECT trade_id, market, maker_order_id, taker_side, 'maker', price, qty, maker_fee, seq,"
    " ts_ns FROM view_trades WHERE maker = :account AND (:market IS NULL OR market = :market)"
    " UNION ALL"
    " SELECT trade_id, market, taker_order_id, taker_side, 'taker', price, qty, taker_fee, seq,"
    " ts_ns FROM view_trades WHERE taker = :account AND (:market IS NULL OR market = :market)"
    " ORDER BY 9 DESC, 1 DESC, 5 DESC LIMIT :limit"
)
"""An account's fills, newest first (by the command that made them, then trade id; a trade
with itself gives a taker and a maker row): its trades on either side, by the indexes on
`maker` and `taker`. Trades a rebuild copied in without a sequence number come last."""

_int = db.int_from_sql


class ReadView:
    """The read model of one data directory at one journal sequence number. Not thread-safe."""

    def __init__(self, conn: sqlite3.Connection, db_path: Path, seq: int) -> None:
        """Use `open`."""
        self._conn = conn
        self.db_path = db_path
        self._seq = seq

    @classmethod
    def open(cls, data_dir: Path | str) -> ReadView | None:
        """The view of `data_dir`'s database, or None if there is no database, it has another
        schema version, or its view does not reflect the journal's head (stale: the next write
        brings it up to date) or the journal ends before the head record (lost entries); then
        the caller recovers the exchange instead, which refuses the last."""
        db_path = Path(data_dir).expanduser() / db.DB_FILENAME
        if not db_path.is_file():
            return None
        acknowledged = head.read(db_path)  # before the read transaction: never ahead of it
        conn = db.connect(db_path, read_only=True)
        try:
            with db.sqlite_errors(db_path):
                conn.execute("BEGIN")  # one read transaction: every answer of one state
                if db.schema_version(conn) != db.SCHEMA_VERSION:
                    conn.close()
                    return None
                (journal_end,) = conn.execute(
                    "SELECT coalesce(max(seq), 0) FROM journal"
                ).fetchone()
                meta = conn.execute("SELECT seq FROM view_meta").fetchone()
                reaches_head = acknowledged is not None and (  # the record's entry is there
                    acknowledged.seq == 0
                    or journal.checksum_at(conn, acknowledged.seq) == acknowledged.checksum
                )
        except BaseException:
            conn.close()
            raise
        seq = None if meta is None else meta[0]
        if seq is None or seq != journal_end or not reaches_head:
            conn.close()
            return None
        return cls(conn, db_path, int(seq))

    def head_seq(self) -> int:
        """The journal sequence number every answer reflects."""
        return self._seq

    def markets(self) -> list[MarketRow]:
        rows = self._rows("SELECT * FROM view_markets ORDER BY market")
        return [
            MarketRow(
                market,
                base,
                quote,
                _int(tick),
                _int(lot),
                _int(min_qty),
                base_decimals,
                quote_decimals,
                maker_bps,
                taker_bps,
                fee_token,
                fee_account,
            )
            for (
                market,
                base,
                quote,
                tick,
                lot,
                min_qty,
                base_decimals,
                quote_decimals,
                maker_bps,
                taker_bps,
                fee_token,
                fee_account,
            ) in rows
        ]

    def tokens(self) -> list[TokenRow]:
        return [TokenRow(*row) for row in self._rows("SELECT * FROM view_tokens ORDER BY symbol")]

    def balances(self, account: str) -> list[BalanceRow]:
        """The account's balances, by token; a token it holds none of and owes none of
        (available, locked and debt all 0) is left out."""
        rows = self._rows(
            "SELECT b.token, t.decimals, b.available, b.locked, b.debt FROM view_balances b"
            " JOIN view_tokens t ON t.symbol = b.token WHERE b.account = ? ORDER BY b.token",
            (account,),
        )
        return [
            BalanceRow(token, decimals, _int(available), _int(locked), _int(debt))
            for token, decimals, available, locked, debt in rows
        ]

    def book(self, market: str, depth: int) -> tuple[list[Level], list[Level]]:
        """The top `depth` levels of each side, best first: bids highest, asks lowest."""
        if type(depth) is not int or depth < 0:
            raise InvalidOrder(f"depth {depth!r} must be a non-negative integer")
        bids, asks = self._side(market, "bid", depth), self._side(market, "ask", depth)
        if not (bids or asks):
            self._check_market(market)
        return bids, asks

    def trades(self, market: str, limit: int) -> list[TradeRow]:
        """The market's latest `limit` trades, newest first."""
        if type(limit) is not int or limit < 0:
            raise InvalidOrder(f"limit {limit!r} must be a non-negative integer")
        rows = self._rows(
            "SELECT trade_id, price, qty, maker_order_id, taker_order_id, maker, taker,"
            " taker_side, seq, ts_ns, maker_fee, taker_fee FROM view_trades WHERE market = ?"
            " ORDER BY trade_id DESC LIMIT ?",
            (market, limit),
        )
        if not rows:
            self._check_market(market)
        return [
            TradeRow(
                trade_id,
                _int(price),
                _int(qty),
                maker_order_id,
                taker_order_id,
                maker,
                taker,
                taker_side,
                seq,
                ts_ns,
                _optional(maker_fee),
                _optional(taker_fee),
            )
            for (
                trade_id,
                price,
                qty,
                maker_order_id,
                taker_order_id,
                maker,
                taker,
                taker_side,
                seq,
                ts_ns,
                maker_fee,
                taker_fee,
            ) in rows
        ]

    def open_orders(self, account: str) -> list[OrderRow]:
        """The account's open orders in every market, oldest first."""
        rows = self._rows(
            "SELECT order_id, market, side, price, qty, remaining, filled, ts_ns FROM view_orders"
            " WHERE account = ? ORDER BY order_id",
            (account,),
        )
        return [
            OrderRow(order_id, market, side, _int(price), _int(qty), _int(rem), _int(filled), ts)
            for order_id, market, side, price, qty, rem, filled, ts in rows
        ]

    def closed_orders(self, account: str, market: str | None, limit: int) -> list[ClosedOrderRow]:
        """The account's latest `limit` closed orders (in `market`, if given), newest first:
        by the command that closed them, then by id."""
        self._check_limit(limit)
        if market is not None:
            self._check_market(market)
        rows = self._rows(_CLOSED_ORDERS, {"account": account, "market": market, "limit": limit})
        return [
            ClosedOrderRow(
                order_id, mkt, side, _optional(price), _optional(qty), _int(filled), *rest
            )
            for order_id, mkt, side, price, qty, filled, *rest in rows
        ]

    def fills(self, account: str, market: str | None, limit: int) -> list[FillRow]:
        """The account's latest `limit` fills (in `market`, if given), newest first: its side
        of each trade it made as maker or taker (both, for a trade with itself)."""
        self._check_limit(limit)
        if market is not None:
            self._check_market(market)
        rows = self._rows(_FILLS, {"account": account, "market": market, "limit": limit})
        return [
            FillRow(
                trade_id,
                mkt,
                order_id,
                taker_side if role == "taker" else _OPPOSITE[taker_side],
                role,
                _int(price),
                _int(qty),
                _optional(fee),
                seq,
                ts_ns,
            )
            for trade_id, mkt, order_id, taker_side, role, price, qty, fee, seq, ts_ns in rows
        ]

    def close(self) -> None:
        self._conn.close()  # ends the read transaction

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _rows(self, sql: str, params: tuple[object, ...] | dict[str, object] = ()) -> list[Any]:
        with db.sqlite_errors(self.db_path):
            return self._conn.execute(sql, params).fetchall()

    @staticmethod
    def _check_limit(limit: int) -> None:
        if type(limit) is not int or limit < 0:
            raise InvalidOrder(f"limit {limit!r} must be a non-negative integer")

    def _check_market(self, market: str) -> None:
        markets = [row[0] for row in self._rows("SELECT market FROM view_markets ORDER BY 1")]
        if market not in markets:
            known = ", ".join(str(name) for name in markets) or "none"
            raise MarketNotFound(f"unknown market {market!r}; markets: {known}")

    def _side(self, market: str, side: str, depth: int) -> list[Level]:
        """The side's best levels, as aggregated in `view_levels` (see db.VIEW_SCHEMA): an
        ordered range of its primary key; amounts above 2**63 - 1 are TEXT, read exactly."""
        return [(_int(price), _int(qty)) for price, qty in self._rows(_BOOK[side], (market, depth))]


def _optional(value: int | str | None) -> int | None:
    """An optional amount (a fee, a price or quantity that may be absent) as stored."""
    return None if value is None else _int(value)

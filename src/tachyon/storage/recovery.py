"""Recovery: newest snapshot -> replay the journal after it -> check every invariant.

Reads only; never writes. Every refusal is a CorruptData naming the file and the sequence
number, so nothing on disk changes when the state cannot be trusted. Every entry applies as it
did when journaled: accepted, or (a `Refused` entry) refused with the same code. Verified:

| source                      | on open                          | by `audit`                  |
| --------------------------- | -------------------------------- | --------------------------- |
| snapshot bytes              | hash, format, re-encoded hash    | the same                    |
| snapshot <-> journal        | checksum at the snapshot's seq   | the same                    |
| journal after the snapshot  | sequence, chain, checksum, apply | and form, signatures        |
| journal before the snapshot | not read (cost grows forever)    | all of the above, from 1    |
| resulting state             | all invariants                   | all invariants, hash equal  |
| read model (view tables)    | not read (derived data)          | equal to the replayed state |
| head record (exchange.head) | journal reaches it, same entry   | the same                    |
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final, NamedTuple, NoReturn

from tachyon.errors import (
    CorruptData,
    InsufficientFunds,
    InvalidConfig,
    SupplyExceeded,
    TachyonError,
    UnknownEngine,
)
from tachyon.exchange.admission import admit_entry
from tachyon.exchange.events import Event
from tachyon.exchange.service import DexService
from tachyon.exchange.state_machine import Exchange, Refusal
from tachyon.storage import db, head, journal, snapshot


class Recovered(NamedTuple):
    exchange: Exchange
    head_hash: bytes  # the checksum of the last entry applied
    snapshot_seq: int  # 0 if there was no snapshot
    replayed: int


def recover(conn: sqlite3.Connection, db_path: Path, acknowledged: head.Head | None) -> Recovered:
    """The state after every journaled command, from the newest snapshot on (without one, from
    a new exchange whose markets use the engine it was created with, see `new_exchange`).
    `acknowledged` is the head record, read before `conn`'s read transaction began (so never
    ahead of what it sees): a journal that ends before it is refused (see
    `tachyon.storage.head.check`)."""
    fresh = new_exchange(conn, db_path)  # its engine is checked even when a snapshot follows
    row = snapshot.newest(conn)
    if row is None:
        exchange = fresh
        head_hash, snapshot_seq = journal.GENESIS_HASH, 0
    else:
        exchange = snapshot.load(row, db_path)
        if journal.checksum_at(conn, row.seq) != row.head_hash:
            raise CorruptData(
                f"{db_path}: snapshot at sequence {row.seq} does not match journal entry {row.seq}"
            )
        head_hash, snapshot_seq = row.head_hash, row.seq
    head_hash, replayed = replay(conn, db_path, exchange, head_hash)
    check_head(conn, db_path, acknowledged, exchange.seq)
    if replayed or row is None:  # a loaded snapshot has been checked already
        check(exchange, db_path)
    return Recovered(exchange, head_hash, snapshot_seq, replayed)


def new_exchange(conn: sqlite3.Connection, db_path: Path) -> Exchange:
    """The exchange as it was created in this database: empty, its markets on the engine it
    recorded (`db.recorded_engine`), whatever engine this process was started with; an
    InvalidConfig naming the engine if this tachyon cannot load it."""
    engine = db.recorded_engine(conn)
    try:
        return Exchange(DexService(engine=engine))
    except InvalidConfig as exc:
        raise InvalidConfig(
            f"{db_path}: the exchange was created with the {engine!r} engine, which cannot be"
            f" used here ({exc})"
        ) from exc


def replay(
    conn: sqlite3.Connection, db_path: Path, exchange: Exchange, head_hash: bytes
) -> tuple[bytes, int]:
    """Apply every verified entry after `exchange.seq`; return the new head and the count.
    Signatures are not checked again: each was checked before its entry was journaled, and
    the chain of checksums protects the entry since (`audit` checks them all again)."""
    count = 0
    for entry in journal.read_after(conn, db_path, exchange.seq, head_hash):
        apply_entry(exchange, entry, db_path)
        head_hash = entry.checksum
        count += 1
    return head_hash, count


def apply_entry(
    exchange: Exchange, entry: journal.JournalEntry, db_path: Path, *, audit: bool = False
) -> list[Event]:
    """Apply one verified entry as it was applied when journaled: accepted, or (a `Refused`
    entry) refused with the same code; return its events. `audit` checks its form and
    signature again."""
    where = f"{db_path}: journal entry {entry.seq}"
    try:
        admitted, refused_code = admit_entry(entry.command, audit=audit)
    except TachyonError as exc:
        raise CorruptData(
            f"{where} is not a command the exchange admits ({exc.code}: {exc})"
        ) from exc
    if entry.ts_ns < exchange.ts_ns:
        raise CorruptData(f"{where} is older than the one before it")
    try:
        result, events = exchange.execute(admitted, entry.seq, entry.ts_ns)
    except UnknownEngine as exc:
        _refuse_missing_engine(where, exc)
    except TachyonError as exc:
        # Only applied commands are journaled: one that is refused now was not written by us.
        raise CorruptData(f"{where} does not apply ({exc.code}: {exc})") from exc
    if type(result) is Refusal:
        if refused_code is None and isinstance(result.error, UnknownEngine):
            _refuse_missing_engine(where, result.error)
        if refused_code is None:
            raise CorruptData(f"{where} does not apply ({result.error.code}: {result.error})")
        if not _same_refusal(refused_code, result.error.code):
            raise CorruptData(
                f"{where} was refused with {refused_code} but is refused with"
                f" {result.error.code} on replay ({result.error})"
            )
    elif refused_code is not None:
        raise CorruptData(f"{where} was refused with {refused_code} but applies on replay")
    return events


def _refuse_missing_engine(where: str, exc: UnknownEngine) -> NoReturn:
    """The entry is sound: this installation lacks the engine one of its markets is on."""
    raise UnknownEngine(
        f"{where} lists a market on an engine this tachyon cannot load ({exc}); install the"
        " package that provides it; nothing was changed"
    ) from exc


def check_head(
    conn: sqlite3.Connection, db_path: Path, acknowledged: head.Head | None, journal_seq: int
) -> None:
    """Refuse a journal that ends (at `journal_seq`) before the head record, or that holds
    another entry at its sequence number."""
    at_head = None if acknowledged is None else journal.checksum_at(conn, acknowledged.seq)
    head.check(db_path, acknowledged, journal_seq, at_head)


def check(exchange: Exchange, db_path: Path) -> None:
    try:
        exchange.check_invariants()
    except AssertionError as exc:
        raise CorruptData(
            f"{db_path}: state at sequence {exchange.seq} breaks an invariant: {exc}"
        ) from exc


# Codes a refusal had before it got its own: a journal written then still replays.
_RENAMED_CODES: Final[dict[str, str]] = {SupplyExceeded.code: InsufficientFunds.code}


def _same_refusal(journaled: str, replayed: str) -> bool:
    return journaled in (replayed, _RENAMED_CODES.get(replayed))

"""Recovery: newest snapshot -> replay the journal after it -> check every invariant.

Reads only; never writes. Every refusal is a CorruptData naming the file and the sequence
number, so nothing on disk changes when the state cannot be trusted. What is verified:

| source                      | on open                          | by `audit`                  |
| --------------------------- | -------------------------------- | --------------------------- |
| snapshot bytes              | hash, format, re-encoded hash    | the same                    |
| snapshot <-> journal        | checksum at the snapshot's seq   | the same                    |
| journal after the snapshot  | sequence, chain, checksum, apply | the same                    |
| journal before the snapshot | not read (cost grows forever)    | chain, checksum, full replay|
| resulting state             | all invariants                   | all invariants, hash equal  |
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from tachyon.errors import CorruptData, InvalidInput, TachyonError
from tachyon.exchange.commands import AnyCommand, decode_command, decode_journaled
from tachyon.exchange.engines import DEFAULT_ENGINE
from tachyon.exchange.service import DexService
from tachyon.exchange.state_machine import Exchange
from tachyon.storage import journal, snapshot


class Recovered(NamedTuple):
    exchange: Exchange
    head_hash: bytes  # the checksum of the last entry applied
    snapshot_seq: int  # 0 if there was no snapshot
    replayed: int


def recover(conn: sqlite3.Connection, db_path: Path, engine: str = DEFAULT_ENGINE) -> Recovered:
    """The state after every journaled command, from the newest snapshot on (without one, from
    a new exchange whose markets use `engine`)."""
    row = snapshot.newest(conn)
    if row is None:
        exchange = Exchange(DexService(engine=engine))
        head_hash, snapshot_seq = journal.GENESIS_HASH, 0
    else:
        exchange = snapshot.load(row, db_path)
        if journal.checksum_at(conn, row.seq) != row.head_hash:
            raise CorruptData(
                f"{db_path}: snapshot at sequence {row.seq} does not match journal entry {row.seq}"
            )
        head_hash, snapshot_seq = row.head_hash, row.seq
    head_hash, replayed = replay(conn, db_path, exchange, head_hash)
    if replayed or row is None:  # a loaded snapshot has been checked already
        check(exchange, db_path)
    return Recovered(exchange, head_hash, snapshot_seq, replayed)


def replay(
    conn: sqlite3.Connection, db_path: Path, exchange: Exchange, head_hash: bytes
) -> tuple[bytes, int]:
    """Apply every verified entry after `exchange.seq`; return the new head and the count.
    Signatures are not checked again: each was checked before its entry was journaled, and
    the chain of checksums protects the entry since (`audit` checks them all again)."""
    count = 0
    exchange.verify_signatures = False
    try:
        for entry in journal.read_after(conn, db_path, exchange.seq, head_hash):
            apply_entry(exchange, entry, db_path, decode_journaled)
            head_hash = entry.checksum
            count += 1
    finally:
        exchange.verify_signatures = True
    return head_hash, count


def apply_entry(
    exchange: Exchange,
    entry: journal.JournalEntry,
    db_path: Path,
    decode: Callable[[bytes], AnyCommand] = decode_command,
) -> None:
    """Apply one verified entry; `decode` may skip the canonical-form check (`audit` does not)."""
    try:
        command = decode(entry.command)
    except InvalidInput as exc:
        raise CorruptData(f"{db_path}: journal entry {entry.seq} is not a command ({exc})") from exc
    if entry.ts_ns < exchange.ts_ns:
        raise CorruptData(f"{db_path}: journal entry {entry.seq} is older than the one before it")
    try:
        exchange.apply(command, entry.seq, entry.ts_ns)
    except TachyonError as exc:
        # Only accepted commands are journaled: one that is refused now was not written by us.
        raise CorruptData(
            f"{db_path}: journal entry {entry.seq} does not apply ({exc.code}: {exc})"
        ) from exc


def check(exchange: Exchange, db_path: Path) -> None:
    try:
        exchange.check_invariants()
    except AssertionError as exc:
        raise CorruptData(
            f"{db_path}: state at sequence {exchange.seq} breaks an invariant: {exc}"
        ) from exc

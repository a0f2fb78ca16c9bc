"""The journal: append-only, checksummed, hash-chained command entries in the database.

Each entry holds its sequence number, timestamp, command bytes, the previous entry's checksum
and its own checksum: SHA-256 over (previous checksum, sequence, timestamp, command). So each
checksum is also the chain's head at that entry, and changing any byte of any entry, dropping
one or reordering them breaks every checksum after it. Checks are paired: `append` computes
links from the head it verified, `read_after` verifies every link it hands out.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, NamedTuple, NoReturn

from tachyon.errors import CorruptData

GENESIS_HASH: Final = bytes(32)
"""The `prev_hash` of entry 1."""

JOURNAL_BATCH_MAX: Final = 1000
"""Most commands one group commit holds."""

_READ_CHUNK: Final = 4096
_sha256: Final = hashlib.sha256
_pack_link: Final = struct.Struct(">QQ").pack  # sequence and timestamp, 8 bytes each
_new_tuple: Final = tuple.__new__  # builds an entry without its Python-level constructor


class JournalEntry(NamedTuple):
    seq: int
    ts_ns: int
    command: bytes
    prev_hash: bytes
    checksum: bytes


def entry_checksum(prev_hash: bytes, seq: int, ts_ns: int, command: bytes) -> bytes:
    return _sha256(prev_hash + _pack_link(seq, ts_ns) + command).digest()


def make_entry(prev_hash: bytes, seq: int, ts_ns: int, command: bytes) -> JournalEntry:
    checksum = entry_checksum(prev_hash, seq, ts_ns, command)
    return _new_tuple(JournalEntry, (seq, ts_ns, command, prev_hash, checksum))


def append(conn: sqlite3.Connection, entries: Sequence[JournalEntry]) -> None:
    """Insert entries inside the caller's write transaction (the caller commits)."""
    conn.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?)", entries)


def head(conn: sqlite3.Connection) -> tuple[int, bytes]:
    """(last sequence number, its checksum), or (0, GENESIS_HASH) for an empty journal."""
    row = conn.execute("SELECT seq, checksum FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), bytes(row[1]))


def checksum_at(conn: sqlite3.Connection, seq: int) -> bytes | None:
    row = conn.execute("SELECT checksum FROM journal WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else bytes(row[0])


def read_after(
    conn: sqlite3.Connection, db_path: Path, seq: int, prev_hash: bytes
) -> Iterator[JournalEntry]:
    """Entries after `seq`, in order, each verified against the chain that ends in `prev_hash`;
    raises CorruptData naming the file and the first entry that does not verify."""
    cursor = conn.execute(
        "SELECT seq, ts_ns, command, prev_hash, checksum FROM journal WHERE seq > ? ORDER BY seq",
        (seq,),
    )
    expected_seq = seq + 1
    new_entry = _new_tuple  # a row is shaped like an entry
    while rows := cursor.fetchmany(_READ_CHUNK):
        for row in rows:
            entry_seq, ts_ns, command, entry_prev, checksum = row
            if not (  # one expression: this loop runs once per entry on recovery
                type(entry_seq) is int
                and type(ts_ns) is int
                and type(command) is bytes
                and type(entry_prev) is bytes
                and type(checksum) is bytes
                and ts_ns >= 0
                and entry_seq == expected_seq
                and entry_prev == prev_hash
                and entry_checksum(prev_hash, entry_seq, ts_ns, command) == checksum
            ):
                _refuse(db_path, row, expected_seq, prev_hash)
            prev_hash = checksum
            expected_seq += 1
            yield new_entry(JournalEntry, row)


def _refuse(
    db_path: Path, row: tuple[object, ...], expected_seq: int, prev_hash: bytes
) -> NoReturn:
    """Raise CorruptData naming the first check that `row` fails."""
    entry_seq, ts_ns, command, entry_prev, checksum = row
    if (
        type(entry_seq) is not int
        or type(ts_ns) is not int
        or type(command) is not bytes
        or type(entry_prev) is not bytes
        or type(checksum) is not bytes
        or ts_ns < 0
    ):
        raise CorruptData(f"{db_path}: journal entry {entry_seq!r} has fields of the wrong type")
    if entry_seq != expected_seq:
        raise CorruptData(f"{db_path}: journal entry {expected_seq} is missing (found {entry_seq})")
    if entry_prev != prev_hash:
        raise CorruptData(f"{db_path}: journal entry {entry_seq} breaks the hash chain")
    raise CorruptData(f"{db_path}: journal entry {entry_seq} fails its checksum")

"""Audit: verify the whole journal from its first entry, replay it from zero, compare the
replay with the newest snapshot and the read model (the view tables) with the replayed state,
check that the journal reaches the head record (what was acknowledged), and report the head
hash and the state hash.

`audit` reads only, through a read-only connection; the report depends only on the
directory's contents, so the same directory always gives the same report. `repair` rebuilds
the read model from the replayed state, in one write transaction, and writes nothing else.
`reset_head` sets the head record to the journal's end once everything else passes: the
operator's way to accept a journal shorter than what was acknowledged (a restored backup).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tachyon.errors import CorruptData, StorageError, UnsupportedVersion
from tachyon.storage import db, head, journal

if TYPE_CHECKING:
    from tachyon.exchange.state_machine import Exchange
    from tachyon.storage.view_audit import ReadModelAudit


class AuditReport(NamedTuple):
    db_path: str
    entries: int  # journal entries verified and replayed
    head_hash: str  # hex checksum of the last entry (zeros for an empty journal)
    state_hash: str  # of the state after replaying every entry
    snapshot_seq: int  # of the newest snapshot, 0 if none
    snapshot_matches: bool | None  # replay at that sequence equals the snapshot; None if none
    read_model: str  # the view tables: "ok", "stale" (behind the journal) or "mismatch"
    read_model_seq: int | None  # the sequence number the view tables say they reflect
    read_model_differences: tuple[str, ...]  # the first rows that differ, on a mismatch
    acknowledged_seq: int  # the head record's sequence number (the journal reaches it)


class _Replayed(NamedTuple):
    exchange: Exchange
    head_hash: bytes
    snapshot_seq: int
    snapshot_matches: bool | None


def audit(data_dir: Path | str) -> AuditReport:
    """Raise CorruptData (naming the file and the sequence number) at the first problem in
    the journal or the snapshots; report a read model that differs from the replayed state."""
    db_path = _db_path(data_dir)
    acknowledged = head.read(db_path)  # before the read transaction: never ahead of it
    conn = db.connect(db_path, read_only=True)
    try:
        with db.sqlite_errors(db_path):
            conn.execute("BEGIN")
            _check_version(conn, db_path, acknowledged)
            return _audit(conn, db_path, acknowledged)
    finally:
        conn.close()


def repair(data_dir: Path | str) -> AuditReport:
    """Rebuild the read model from the replayed state in one write transaction, then audit.
    Refuses (CorruptData, nothing written) when the journal or the snapshot fails the audit."""
    db_path = _db_path(data_dir)
    db.require_writable(db_path.parent)
    conn = db.connect(db_path)
    try:
        with db.sqlite_errors(db_path):
            _check_version(conn, db_path)
            db.begin_immediate(conn)  # no writer appends while the replay runs
            try:
                _repair(conn, db_path)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    finally:
        db.close_writer(conn)
    return audit(data_dir)


def reset_head(data_dir: Path | str) -> AuditReport:
    """Set the head record to the journal's end after the journal and the snapshot pass the
    audit (under the write lock, so no commit moves the end meanwhile), then audit. Refuses
    (CorruptData, nothing written) when they do not."""
    db_path = _db_path(data_dir)
    conn = db.connect(db_path)
    writer = head.HeadWriter(db_path)
    try:
        with db.sqlite_errors(db_path):
            if db.schema_version(conn) == 0 and db.is_empty(conn):
                # Not even the schema was kept (the log that held it was lost): accept an
                # empty exchange, created as a new one would be.
                writer.reset(head.Head(0, journal.GENESIS_HASH))
                db.create_schema(conn)
            else:
                _check_version(conn, db_path)
                db.begin_immediate(conn)
                try:
                    _reset_head(conn, db_path, writer)
                finally:
                    conn.execute("ROLLBACK")
    finally:
        writer.close()
        conn.close()
    return audit(data_dir)


def _reset_head(conn: sqlite3.Connection, db_path: Path, writer: head.HeadWriter) -> None:
    from tachyon.storage.view_audit import ReadModelAudit  # noqa: PLC0415

    replayed = _replay(conn, db_path, ReadModelAudit(conn))
    if replayed.snapshot_matches is False:
        raise CorruptData(
            f"{db_path}: the snapshot at sequence {replayed.snapshot_seq} differs from the"
            " replayed state; the head record was left as it is"
        )
    writer.reset(head.Head(replayed.exchange.seq, replayed.head_hash))


def _db_path(data_dir: Path | str) -> Path:
    db_path = Path(data_dir).expanduser() / db.DB_FILENAME
    if not db_path.is_file():
        raise StorageError(f"no exchange database at {db_path}")
    return db_path


def _check_version(
    conn: sqlite3.Connection, db_path: Path, acknowledged: head.Head | None = None
) -> None:
    version = db.schema_version(conn)
    if version == 0:  # no schema at all: lost, if the head record says entries were not
        head.check(db_path, acknowledged, 0, None)
    if version != db.SCHEMA_VERSION:
        raise UnsupportedVersion(
            f"{db_path} has schema version {version}; this tachyon audits version"
            f" {db.SCHEMA_VERSION} (open it once with this tachyon to upgrade it)"
        )


def _audit(conn: sqlite3.Connection, db_path: Path, acknowledged: head.Head | None) -> AuditReport:
    # Imported here, not at the top: `tachyon.storage` binds `audit` eagerly, and the
    # package must stay light to import for the read model (`tachyon.storage.view`).
    from tachyon.storage import recovery  # noqa: PLC0415
    from tachyon.storage.view_audit import ReadModelAudit  # noqa: PLC0415

    view = ReadModelAudit(conn)
    replayed = _replay(conn, db_path, view)
    exchange = replayed.exchange
    recovery.check_head(conn, db_path, acknowledged, exchange.seq)
    read_model = view.result(exchange.service)
    return AuditReport(
        str(db_path),
        exchange.seq,
        replayed.head_hash.hex(),
        exchange.state_hash(),
        replayed.snapshot_seq,
        replayed.snapshot_matches,
        read_model.status,
        read_model.seq,
        read_model.differences,
        0 if acknowledged is None else acknowledged.seq,
    )


def _repair(conn: sqlite3.Connection, db_path: Path) -> None:
    from tachyon.storage.view_audit import ReadModelAudit  # noqa: PLC0415

    view = ReadModelAudit(conn, repairing=True)
    replayed = _replay(conn, db_path, view)
    if replayed.snapshot_matches is False:
        raise CorruptData(
            f"{db_path}: the snapshot at sequence {replayed.snapshot_seq} differs from the"
            " replayed state; the read model was not rebuilt"
        )
    view.repair(replayed.exchange.service, replayed.exchange.seq)


def _replay(conn: sqlite3.Connection, db_path: Path, view: ReadModelAudit) -> _Replayed:
    """Every entry from the first, verified and applied to a new exchange; its events to
    `view`; the newest snapshot compared with the state at its sequence number."""
    from tachyon.storage import recovery, snapshot  # noqa: PLC0415

    newest = snapshot.newest(conn)
    exchange = recovery.new_exchange(conn, db_path)  # on the engine it was created with
    head_hash = journal.GENESIS_HASH
    matches: bool | None = None
    if newest is not None:
        expected = snapshot.load(newest, db_path).state_hash()
        if expected != newest.state_hash and newest.format == snapshot.SNAPSHOT_FORMAT:
            raise CorruptData(
                f"{db_path}: snapshot at sequence {newest.seq} does not encode back to its hash"
            )
    for entry in journal.read_after(conn, db_path, 0, head_hash):
        events = recovery.apply_entry(exchange, entry, db_path, audit=True)
        view.observe(entry.seq, entry.ts_ns, events)
        head_hash = entry.checksum
        if newest is not None and entry.seq == newest.seq:
            matches = exchange.state_hash() == expected and head_hash == newest.head_hash
    if newest is not None and matches is None:
        raise CorruptData(f"{db_path}: snapshot at sequence {newest.seq} is past the journal")
    recovery.check(exchange, db_path)
    return _Replayed(exchange, head_hash, 0 if newest is None else newest.seq, matches)

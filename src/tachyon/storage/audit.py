"""Audit: verify the whole journal from its first entry, replay it from zero, compare the
replay with the newest snapshot, and report the head hash and the state hash.

Reads only, through a read-only connection. The report depends only on the directory's
contents, so the same journal always gives the same report.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import NamedTuple

from tachyon.errors import CorruptData, StorageError, UnsupportedVersion
from tachyon.storage import db, journal


class AuditReport(NamedTuple):
    db_path: str
    entries: int  # journal entries verified and replayed
    head_hash: str  # hex checksum of the last entry (zeros for an empty journal)
    state_hash: str  # of the state after replaying every entry
    snapshot_seq: int  # of the newest snapshot, 0 if none
    snapshot_matches: bool | None  # replay at that sequence equals the snapshot; None if none


def audit(data_dir: Path | str) -> AuditReport:
    """Raise CorruptData (naming the file and the sequence number) at the first problem."""
    db_path = Path(data_dir).expanduser() / db.DB_FILENAME
    if not db_path.is_file():
        raise StorageError(f"no exchange database at {db_path}")
    conn = db.connect(db_path, read_only=True)
    try:
        with db.sqlite_errors(db_path):
            return _audit(conn, db_path)
    finally:
        conn.close()


def _audit(conn: sqlite3.Connection, db_path: Path) -> AuditReport:
    # Imported here, not at the top: `tachyon.storage` binds `audit` eagerly, and the
    # package must stay light to import for the read model (`tachyon.storage.view`).
    from tachyon.exchange.state_machine import Exchange  # noqa: PLC0415
    from tachyon.storage import recovery, snapshot  # noqa: PLC0415

    version = db.schema_version(conn)
    if version != db.SCHEMA_VERSION:
        raise UnsupportedVersion(
            f"{db_path} has schema version {version}; this tachyon audits version"
            f" {db.SCHEMA_VERSION} (open it once with this tachyon to upgrade it)"
        )
    conn.execute("BEGIN")
    newest = snapshot.newest(conn)
    exchange = Exchange()
    head_hash = journal.GENESIS_HASH
    matches: bool | None = None
    if newest is not None:
        expected = snapshot.load(newest, db_path).state_hash()
        if expected != newest.state_hash and newest.format == snapshot.SNAPSHOT_FORMAT:
            raise CorruptData(
                f"{db_path}: snapshot at sequence {newest.seq} does not encode back to its hash"
            )
    for entry in journal.read_after(conn, db_path, 0, head_hash):
        recovery.apply_entry(exchange, entry, db_path, audit=True)
        head_hash = entry.checksum
        if newest is not None and entry.seq == newest.seq:
            matches = exchange.state_hash() == expected and head_hash == newest.head_hash
    if newest is not None and matches is None:
        raise CorruptData(f"{db_path}: snapshot at sequence {newest.seq} is past the journal")
    recovery.check(exchange, db_path)
    return AuditReport(
        str(db_path),
        exchange.seq,
        head_hash.hex(),
        exchange.state_hash(),
        0 if newest is None else newest.seq,
        matches,
    )

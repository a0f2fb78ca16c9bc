"""Durable storage: the exchange database (SQLite, WAL), its hash-chained journal, snapshots,
recovery, migrations and the `EmbeddedExchange` host. All file and SQL I/O lives here."""

from tachyon.storage.audit import AuditReport as AuditReport, audit as audit
from tachyon.storage.db import (
    SCHEMA_VERSION as SCHEMA_VERSION,
    default_data_dir as default_data_dir,
    default_home as default_home,
)
from tachyon.storage.host import EmbeddedExchange as EmbeddedExchange
from tachyon.storage.journal import JOURNAL_BATCH_MAX as JOURNAL_BATCH_MAX
from tachyon.storage.snapshot import SNAPSHOT_FORMAT as SNAPSHOT_FORMAT

__all__ = [
    "JOURNAL_BATCH_MAX",
    "SCHEMA_VERSION",
    "SNAPSHOT_FORMAT",
    "AuditReport",
    "EmbeddedExchange",
    "audit",
    "default_data_dir",
    "default_home",
]

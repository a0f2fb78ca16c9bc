"""Durable storage: the exchange database (SQLite, WAL), its hash-chained journal, snapshots,
recovery, migrations, the `EmbeddedExchange` host, the read model (`ReadView`) and both as one
`ExchangePort` (`EmbeddedPort`). All file and SQL I/O lives here.

Importing the package is light, so that a new process reading the view starts fast: the names
that need the whole exchange (`EmbeddedExchange`, `EmbeddedPort`, `SNAPSHOT_FORMAT`) are imported
on first use, and so is `__all__`, which `from tachyon.storage import *` reads (PEP 562).
"""

import typing

from tachyon import _lazy
from tachyon.storage.audit import AuditReport as AuditReport, audit as audit
from tachyon.storage.db import (
    SCHEMA_VERSION as SCHEMA_VERSION,
    default_data_dir as default_data_dir,
    default_home as default_home,
)
from tachyon.storage.journal import JOURNAL_BATCH_MAX as JOURNAL_BATCH_MAX
from tachyon.storage.view import ReadView as ReadView

if typing.TYPE_CHECKING:
    from tachyon.storage.host import EmbeddedExchange as EmbeddedExchange
    from tachyon.storage.port import EmbeddedPort as EmbeddedPort
    from tachyon.storage.snapshot import SNAPSHOT_FORMAT as SNAPSHOT_FORMAT

_LAZY: typing.Final = {
    "EmbeddedExchange": "tachyon.storage.host",
    "EmbeddedPort": "tachyon.storage.port",
    "SNAPSHOT_FORMAT": "tachyon.storage.snapshot",
}
_PUBLIC: typing.Final = [
    "JOURNAL_BATCH_MAX",
    "SCHEMA_VERSION",
    "SNAPSHOT_FORMAT",
    "AuditReport",
    "EmbeddedExchange",
    "EmbeddedPort",
    "ReadView",
    "audit",
    "default_data_dir",
    "default_home",
]

__getattr__, __dir__ = _lazy.exports(globals(), _LAZY, _PUBLIC)

"""The exchange database: where it lives, how it is opened, its schema and its migrations.

All SQL connection handling lives here. One SQLite file in WAL mode with `synchronous=FULL`,
so a committed transaction survives a power cut; `BEGIN IMMEDIATE` is the mutex that
serializes writers across processes. The last writer to close it leaves it in rollback-journal
mode (`close_writer`), which SQLite can read in a read-only directory. The schema carries
`PRAGMA user_version`; an older file is upgraded in place in one transaction after a backup
copy is made; a newer one is refused.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from tachyon.errors import CorruptData, StorageError, UnsupportedVersion

SCHEMA_VERSION: Final = 6
"""Version 1 stored snapshots as JSON (format 1) without the journal hash they follow;
version 2 stores msgpack snapshots (format 2) bound to the journal by `head_hash`; version 3
adds the read model (the `view_*` tables, see `VIEW_SCHEMA`); version 4 has the same tables
and a head record beside the database (`tachyon.storage.head`), which it requires. A version 4
database created since engines are chosen at runtime also has `exchange_meta`, whose `engine`
row names the engine its exchange was created with (one without it was made with
`ENGINE_BEFORE_META`, the only engine there was). Version 5 adds history to the read model:
each open order's placement time, each trade's fees, and the closed orders. Version 6 adds
each balance's debt (a reversed card payment) to the read model."""

ENGINE_BEFORE_META: Final = "in_memory"
"""The engine of an exchange created before `exchange_meta` recorded it."""

DB_FILENAME: Final = "exchange.db"
WAL_SWITCH_ATTEMPTS: Final = 100
BUSY_TIMEOUT_MS: Final = 60_000
"""How long a writer waits for another process's transaction before giving up."""

_SCHEMA_CORE: Final = """
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    command BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    checksum BLOB NOT NULL
);
CREATE TABLE snapshots (
    seq INTEGER PRIMARY KEY,
    format INTEGER NOT NULL,
    state BLOB NOT NULL,
    state_hash TEXT NOT NULL,
    head_hash BLOB NOT NULL,
    written_ts_ns INTEGER NOT NULL
);
CREATE TABLE exchange_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""

VIEW_SCHEMA: Final = """
CREATE TABLE view_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER
);
INSERT INTO view_meta VALUES (1, NULL);
CREATE TABLE view_tokens (
    symbol TEXT PRIMARY KEY,
    decimals INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE view_markets (
    market TEXT PRIMARY KEY,
    base TEXT NOT NULL,
    quote TEXT NOT NULL,
    tick_size NOT NULL,
    lot_size NOT NULL,
    min_qty NOT NULL,
    base_decimals INTEGER NOT NULL,
    quote_decimals INTEGER NOT NULL,
    maker_bps INTEGER NOT NULL,
    taker_bps INTEGER NOT NULL,
    fee_token TEXT NOT NULL,
    fee_account TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE view_balances (
    account TEXT NOT NULL,
    token TEXT NOT NULL,
    available NOT NULL,
    locked NOT NULL,
    debt NOT NULL DEFAULT 0,
    PRIMARY KEY (account, token)
) WITHOUT ROWID;
CREATE TABLE view_orders (
    account TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    market TEXT NOT NULL,
    side TEXT NOT NULL,
    price NOT NULL,
    qty NOT NULL,
    remaining NOT NULL,
    filled NOT NULL,
    ts_ns INTEGER,
    PRIMARY KEY (account, order_id)
) WITHOUT ROWID;
CREATE TABLE view_levels (
    market TEXT NOT NULL,
    side TEXT NOT NULL,
    price NOT NULL,
    qty NOT NULL,
    PRIMARY KEY (market, side, price)
) WITHOUT ROWID;
CREATE TABLE view_trades (
    market TEXT NOT NULL,
    trade_id INTEGER NOT NULL,
    price NOT NULL,
    qty NOT NULL,
    maker_order_id INTEGER NOT NULL,
    taker_order_id INTEGER NOT NULL,
    maker TEXT NOT NULL,
    taker TEXT NOT NULL,
    taker_side TEXT NOT NULL,
    seq INTEGER,
    ts_ns INTEGER,
    maker_fee,
    taker_fee,
    PRIMARY KEY (market, trade_id)
) WITHOUT ROWID;
CREATE INDEX view_trades_by_maker ON view_trades (maker, seq);
CREATE INDEX view_trades_by_taker ON view_trades (taker, seq);
CREATE TABLE view_closed_orders (
    account TEXT NOT NULL,
    closed_seq INTEGER NOT NULL,
    order_id INTEGER NOT NULL,
    market TEXT NOT NULL,
    side TEXT NOT NULL,
    price,
    qty,
    filled NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    ts_ns INTEGER,
    closed_ts_ns INTEGER NOT NULL,
    PRIMARY KEY (account, closed_seq, order_id)
) WITHOUT ROWID;
"""
"""The read model: query tables that the host writes in the same transaction as the journal
entries they reflect, so a reader (`tachyon.storage.view`) needs no recovery.

- `view_meta.seq`: the journal sequence number the tables reflect; NULL means stale (a fresh
  or just upgraded database): the next write rebuilds them from the recovered state.
- `view_balances`: every (account, token) whose available, locked or debt is not 0.
- `view_orders`: open orders only, keyed by owner then id (an account's orders, oldest first,
  are one range of the table); `side` is 'bid' or 'ask'; `qty` is the original quantity;
  `ts_ns` the journal time of the command that placed it (NULL: placed before the view
  recorded times, see `tachyon.storage.view_history`).
- `view_levels`: the books, aggregated: one row per (market, side, price) whose live quantity
  (the sum of its open orders' remaining quantities) is not 0; a book's best levels are the
  first (asks) or last (bids) rows of its (market, side) range.
- `view_trades`: every trade since the view was built, with the sequence number and time of
  the command that made it and the maker's and the taker's fee in the market's fee token
  (a negative maker fee is a rebate); all four NULL for the engines' recent trades copied in
  by a rebuild, the fees NULL for trades recorded before version 5. Indexed by maker and by
  taker: an account's fills are its rows on either side.
- `view_closed_orders`: every order that closed (filled, or cancelled: `reason` is the
  `CancelReason`) while the view recorded, keyed by owner then the sequence number of the
  command that closed it: an account's history, newest last, is one range. `price` is NULL for
  a market order, `qty` for a market bid by budget; `ts_ns` is when it was placed (NULL: not
  known), `closed_ts_ns` when it closed. Kept for ever, like `view_trades`.
- `view_markets` (fee_token resolved: the quote token when the schedule names none) and
  `view_tokens`.

Amounts, prices and quantities (up to 2**64 - 1) go through `int_to_sql` / `int_from_sql`:
an INTEGER up to 2**63 - 1, above it the decimal digits as TEXT zero-padded to 20 characters.
Those columns have no declared type (no affinity), so SQLite keeps each value as it is given;
SQLite orders every INTEGER before every TEXT, and padded digits sort as their numbers do,
so ORDER BY price is numeric order over the whole range. A level's quantity is a sum of
remaining quantities and may exceed 2**64 - 1: then its TEXT has more than 20 digits (it is
never compared or ordered in SQL, only read back)."""

INT_SQL_MAX: Final = 2**63 - 1
"""The largest integer SQLite stores as an INTEGER; larger amounts are stored as TEXT."""
_INT_TEXT_DIGITS: Final = 20  # 2**64 - 1 has 20 digits


def default_home() -> Path:
    """`TACHYON_HOME`, or `~/.tachyon`."""
    home = os.environ.get("TACHYON_HOME")
    return Path(home).expanduser() if home else Path.home() / ".tachyon"


def default_data_dir() -> Path:
    return default_home() / "exchange"


def ensure_dir(path: Path, what: str = "data directory") -> None:
    """Create the directory (and parents) with mode 0700 if it does not exist; `what` names
    it in errors (a data directory, a wallet directory)."""
    missing = [parent for parent in (path, *path.parents) if not parent.exists()]
    try:
        for directory in reversed(missing):  # each created 0700, not just the last one
            directory.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {what} {path}: {exc.strerror}") from exc
    if not path.is_dir():
        raise StorageError(f"{what} {path} is not a directory")


def writable(path: Path) -> bool:
    """Whether this process may create files in the directory `path` (a read-only mount
    refuses even root, whom permission bits do not stop). Opens nothing."""
    effective = os.access in os.supports_effective_ids
    return os.access(path, os.W_OK, effective_ids=effective)


def require_writable(path: Path) -> None:
    """StorageError unless this process may write in the data directory `path`: a writer
    checks before it opens anything, so a refusal changes nothing."""
    if not writable(path):
        raise StorageError(
            f"the data directory {path} must be writable (it is read-only, or this user may"
            " not write there); nothing was changed"
        )


def connect(db_path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), synchronous=FULL; a
    writer's in WAL mode. A reader's (`mode=ro`) reads the database in whatever mode its
    last writer left it: in rollback-journal mode (a clean close, see `close_writer`) SQLite
    reads it in a read-only directory too; in WAL mode only where it may create the WAL's
    index beside it, or where a crash left that index (then it reads the WAL as well)."""
    uri = f"file:{db_path}?mode={'ro' if read_only else 'rwc'}"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {db_path}: {exc}") from exc
    with sqlite_errors(db_path, conn):
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not read_only:
            _private(db_path)  # before the WAL exists: SQLite gives it the file's mode
            _enter_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def close_writer(conn: sqlite3.Connection) -> None:
    """Close a writer's connection, first leaving the database in rollback-journal mode if
    no other connection (of any process) has it open: `PRAGMA journal_mode = DELETE`
    checkpoints the WAL into the database file, removes the WAL and records the mode in the
    file's header. That header is the record of a clean close, kept by SQLite itself: no
    WAL can then hold a commit, and a read-only directory can be read (`connect`). The
    switch needs SQLite's exclusive lock, which every other open connection's shared lock
    denies at once (busy timeout 0): the database then stays in WAL mode, as sound, and the
    last writer to close switches it. The next writer switches it back to WAL (`connect`).
    A switch refused for any reason (another connection, a full disk) changes nothing."""
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error:
        pass  # not the last connection, or the disk refused: closed as it is, in WAL mode
    finally:
        conn.close()


def _private(db_path: Path) -> None:
    """Mode 0600, as the wallet's files: the journal holds every account's commands."""
    try:
        if db_path.stat().st_mode & 0o077:
            db_path.chmod(0o600)  # a path operation: no descriptor of the file is opened
    except OSError as exc:
        raise StorageError(f"cannot make {db_path} private (mode 0600): {exc.strerror}") from exc


def begin_immediate(conn: sqlite3.Connection) -> None:
    """`BEGIN IMMEDIATE` (see `retry_protocol`)."""
    retry_protocol(conn, "BEGIN IMMEDIATE")


def retry_protocol(conn: sqlite3.Connection, statement: str) -> None:
    """Run `statement`, retried when SQLite reports a transient "locking protocol" error (it
    does while another process initialises the WAL of a database it has just created), for at
    most about 5 seconds; other errors, and waiting for the lock, are SQLite's."""
    for _ in range(WAL_SWITCH_ATTEMPTS - 1):
        try:
            conn.execute(statement)
        except sqlite3.OperationalError as exc:
            if "locking protocol" not in str(exc):
                raise
            time.sleep(0.05)
        else:
            return
    conn.execute(statement)


def _enter_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL (nothing to do if it is in WAL mode already). Leaving rollback-journal
    mode (a new database, or one its last writer closed cleanly: see `close_writer`) takes
    SQLite's exclusive lock: its busy handler waits for readers' transactions to end, but
    several processes creating one new database at once also see transient lock errors that
    it does not wait on; both are tried again until BUSY_TIMEOUT_MS has passed."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            transient = any(word in str(exc) for word in ("locked", "busy", "locking protocol"))
            if not transient or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
        else:
            return


@contextmanager
def sqlite_errors(db_path: Path, conn: sqlite3.Connection | None = None) -> Iterator[None]:
    """Turn SQLite's errors into tachyon's, naming the file (and close `conn`, so a refused
    open leaves no connection behind): a full disk, a file or directory it may not write, an
    I/O error or another process's lock are a StorageError (the storage failed, the data may
    be sound); anything else (a damaged file, not a database) is CorruptData. SQLite reports a
    damaged schema in an error message that may itself be invalid UTF-8."""
    try:
        yield
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        if conn is not None:
            conn.close()
        code = getattr(exc, "sqlite_errorcode", None)
        problem = None if code is None else _STORAGE_PROBLEMS.get(code & 0xFF)
        if problem is None and isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            problem = "another process holds the database"
        if problem == _WRITABLE:
            raise StorageError(_unwritable(db_path, exc)) from exc
        if problem is not None:
            raise StorageError(f"{db_path}: {problem} ({exc})") from exc
        raise CorruptData(f"{db_path}: not a usable SQLite database ({exc})") from exc


def _unwritable(db_path: Path, exc: BaseException) -> str:
    directory = db_path.parent
    if writable(directory):  # the directory is, so a file in it is not
        return f"{db_path}: the data directory {directory} and its files must be writable ({exc})"
    return (
        f"the data directory {directory} must be writable: it is read-only, and {db_path}"
        " was not closed cleanly (its last writer crashed, is still running, or closed while"
        f" another connection had it open), which SQLite reads only where it may write ({exc})"
    )


_WRITABLE: Final = "the data directory must be writable"

_STORAGE_PROBLEMS: Final = {
    5: "another process holds the database (busy)",  # SQLITE_BUSY
    6: "another process holds the database (locked)",  # SQLITE_LOCKED
    7: "out of memory",  # SQLITE_NOMEM
    3: _WRITABLE,  # SQLITE_PERM
    8: _WRITABLE,  # SQLITE_READONLY
    14: _WRITABLE,  # SQLITE_CANTOPEN
    10: "an I/O error reading or writing the disk",  # SQLITE_IOERR
    13: "the disk is full",  # SQLITE_FULL
    15: "another process holds the database (locking protocol)",  # SQLITE_PROTOCOL
}
"""SQLite's primary result codes that say the storage failed, not that the data is damaged."""


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def recorded_engine(conn: sqlite3.Connection) -> str:
    """The engine the exchange was created with (its markets' unless one names its own):
    `exchange_meta`'s, or `ENGINE_BEFORE_META` for a database made before it existed."""
    try:
        row = conn.execute("SELECT value FROM exchange_meta WHERE key = 'engine'").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return ENGINE_BEFORE_META
    if row is None or type(row[0]) is not str or not row[0]:
        raise CorruptData(f"exchange_meta records no engine (row {row!r})")
    engine: str = row[0]
    return engine


def is_empty(conn: sqlite3.Connection) -> bool:
    tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return int(tables[0]) == 0


def int_to_sql(value: int) -> int | str:
    """An amount (0 to 2**64 - 1) as stored in a view table (see VIEW_SCHEMA)."""
    return value if value <= INT_SQL_MAX else f"{value:0{_INT_TEXT_DIGITS}d}"


def int_from_sql(value: int | str) -> int:
    """The amount `int_to_sql` stored."""
    return value if type(value) is int else int(value)


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated statements one by one, inside the caller's transaction (unlike
    `executescript`, which commits first)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def create_view_tables(conn: sqlite3.Connection) -> None:
    """Create the view tables, stale (inside the caller's transaction)."""
    execute_script(conn, VIEW_SCHEMA)


def create_schema(conn: sqlite3.Connection, engine: str = ENGINE_BEFORE_META) -> None:
    """Create the current schema in an empty database, atomically, recording `engine` as the
    engine of the exchange's markets (unless another process created it first, with its own)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if is_empty(conn):  # another process may have created it while we waited
            execute_script(conn, _SCHEMA_CORE)
            create_view_tables(conn)
            conn.execute("INSERT INTO exchange_meta VALUES ('engine', ?)", (engine,))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def refuse_newer(version: int, db_path: Path) -> None:
    """UnsupportedVersion if `version` is newer than this tachyon's schema."""
    if version > SCHEMA_VERSION:
        raise UnsupportedVersion(
            f"{db_path} has schema version {version}; this tachyon knows up to {SCHEMA_VERSION}."
            " Upgrade tachyon to open it."
        )


Migration = Callable[[sqlite3.Connection], None]


def upgrade(conn: sqlite3.Connection, db_path: Path, migrations: dict[int, Migration]) -> None:
    """Bring the database to SCHEMA_VERSION: refuse a newer one; back up an older one to
    `<db>.v<N>.bak`, then run each step `N -> N+1` in one transaction with the version bump."""
    version = schema_version(conn)
    refuse_newer(version, db_path)
    if version == SCHEMA_VERSION:
        return
    if version < 1:
        raise CorruptData(f"{db_path}: tables without a tachyon schema version")
    backup_path = db_path.with_name(f"{db_path.name}.v{version}.bak")
    backup = sqlite3.connect(backup_path)
    try:
        conn.backup(backup)
    finally:
        backup.close()
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)  # another process may have upgraded it meanwhile
        while version < SCHEMA_VERSION:
            try:
                migrations[version](conn)
            except (AssertionError, KeyError, TypeError, ValueError) as exc:
                raise CorruptData(
                    f"{db_path}: cannot upgrade from schema version {version} ({exc!r})"
                ) from exc
            version += 1
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except CorruptData as exc:
        conn.execute("ROLLBACK")
        if str(db_path) in str(exc):
            raise
        raise CorruptData(f"{db_path}: {exc}") from exc
    except BaseException:
        conn.execute("ROLLBACK")
        raise

"""EmbeddedExchange: the host that runs sequencer -> journal -> apply -> answer on one
data directory, for the wallet, the CLI and the node.

A command is admitted (`tachyon.exchange.admission`), applied to the in-memory state (a refused
command changes nothing and is not journaled, except a signed one whose body the state machine
refused: its nonce is used, so it is journaled as `Refused`), then journaled with its sequence
number and time, and its caller is answered only after the commit is durable. The read model
(the `view_*` tables that `tachyon.storage.view` reads) is written in the same transaction as
the entries it reflects.
Writers in several processes serialize on the database's write lock and catch up on each
other's entries before applying their own.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from tachyon.dex.ids import AccountId, MarketId, TokenId
from tachyon.dex.model import BookDepth, MarketConfig, Trade
from tachyon.errors import InvalidInput, StorageError, TachyonError
from tachyon.exchange.admission import Admitted, admit
from tachyon.exchange.commands import AnyCommand, Tick, encode_refused
from tachyon.exchange.engines import DEFAULT_ENGINE, engine_loader
from tachyon.exchange.events import Event
from tachyon.exchange.service import OwnedOrder
from tachyon.exchange.state_machine import Exchange, Outcome, Refusal
from tachyon.ledger.ledger import BalanceRecord, TokenMeta
from tachyon.storage import db, head, journal, recovery, snapshot
from tachyon.storage.changes import BatchChanges, Entry
from tachyon.storage.migrations import MIGRATIONS
from tachyon.storage.view_writer import ViewBatch

SNAPSHOT_EVERY: Final = 10_000
"""Commands between snapshots (at most; see SNAPSHOT_INTERVAL_S)."""
SNAPSHOT_INTERVAL_S: Final = 60.0
"""Seconds after which a submit also writes a snapshot if anything is new (the debounce)."""

_log: Final = logging.getLogger("tachyon.storage")

_NO_EVENTS: Final[list[Event]] = []  # a refused command's (never appended to)

PROTOCOL_RETRIES: Final = 20
"""Times a batch is run again after SQLite's transient "locking protocol" error."""

Clock = Callable[[], int]
"""Nanoseconds since the epoch; injected so tests can fix time."""


class EmbeddedExchange:
    """One open data directory. Not thread-safe: one thread (or one sequencer) per object."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        db_path: Path,
        recovered: recovery.Recovered,
        clock: Clock,
        snapshot_every: int,
        snapshot_interval_s: float,
    ) -> None:
        """Use `open`."""
        self._conn = conn
        self.db_path = db_path
        self._exchange = recovered.exchange
        self._head_hash = recovered.head_hash
        self.recovered = recovered
        self.read_model = True  # see `open`
        self.read_only = False  # see `open_read_only`
        # The last committed batch's events (None if it journaled nothing), and when it
        # started, was applied and was durable (ns since the epoch, for tracing).
        self.last_changes: BatchChanges | None = None
        self.last_timing: tuple[int, int, int] = (0, 0, 0)
        self._clock = clock
        self._snapshot_every = snapshot_every
        self._snapshot_interval_ns = int(snapshot_interval_s * 1e9)
        self._snapshot_seq = recovered.snapshot_seq
        self._snapshot_ts_ns = clock()
        self._snapshot_due = snapshot_every  # new commands after which a snapshot is due
        self.snapshot_failures = 0  # snapshots that could not be written (see _maybe_snapshot)
        self._head_record = head.HeadWriter(db_path)
        self.head_failures = 0  # head records that could not be written (see _advance_head)

    @classmethod
    def open(
        cls,
        data_dir: Path | str | None = None,
        *,
        clock: Clock = time.time_ns,
        snapshot_every: int = SNAPSHOT_EVERY,
        snapshot_interval_s: float = SNAPSHOT_INTERVAL_S,
        engine: str = DEFAULT_ENGINE,
        read_model: bool = True,
    ) -> EmbeddedExchange:
        """Open (creating, or upgrading, if need be) and recover the exchange in `data_dir`
        (default: `$TACHYON_HOME/exchange` or `~/.tachyon/exchange`). `engine` names the
        matching engine of a new exchange's markets, recorded with it (`exchange_meta`): an
        existing exchange keeps its own, whatever `engine` says. An unknown engine, or one
        that cannot be restored from state (no loader), is refused before anything is made.
        `read_model=False` skips the query tables (about a third of group-commit throughput)
        for a writer that serves reads from memory, such as the node: the view then falls
        behind the journal, readers see it as stale and recover instead, and the next writer
        with the read model on rebuilds it."""
        engine_loader(engine)  # unknown, or not restorable: refused before anything is made
        path = db.default_data_dir() if data_dir is None else Path(data_dir).expanduser()
        db.ensure_dir(path)
        db.require_writable(path)  # before anything is opened: a refusal changes nothing
        db_path = path / db.DB_FILENAME
        # Recovered (and checked against the head record) before the first read-write
        # connection, whose close would checkpoint a damaged log into the database: a refused
        # open changes nothing.
        recovered = _recover_current(db_path)
        conn = db.connect(db_path)
        try:
            with db.sqlite_errors(db_path):
                if db.is_empty(conn):
                    head.create(db_path, head.Head(0, journal.GENESIS_HASH))
                    db.create_schema(conn, engine)
                else:
                    db.upgrade(conn, db_path, MIGRATIONS)
            if recovered is None:  # a new or just upgraded database
                recovered = _recover_read_only(db_path)
        except BaseException:
            conn.close()
            raise
        host = cls(conn, db_path, recovered, clock, snapshot_every, snapshot_interval_s)
        host.read_model = read_model
        return host

    @classmethod
    def open_read_only(cls, data_dir: Path | str) -> EmbeddedExchange:
        """The exchange in `data_dir` recovered through read-only connections, for reading a
        directory this process may not write (`db.connect` says when SQLite can): nothing is
        created, upgraded or written; `submit` refuses and `close` writes no snapshot."""
        db_path = Path(data_dir).expanduser() / db.DB_FILENAME
        version = _schema_version(db_path)
        if version < db.SCHEMA_VERSION:
            raise StorageError(
                f"the data directory {db_path.parent} must be writable to upgrade {db_path}"
                f" from schema version {version} to version {db.SCHEMA_VERSION}"
            )
        recovered = _recover_read_only(db_path)  # on the engine the exchange recorded
        conn = db.connect(db_path, read_only=True)
        host = cls(conn, db_path, recovered, time.time_ns, SNAPSHOT_EVERY, SNAPSHOT_INTERVAL_S)
        host.read_only = True
        return host

    # -- commands --------------------------------------------------------------------------

    def submit(self, command: AnyCommand | Admitted) -> Outcome:
        """Apply one command and make it durable; raise what refused it (nothing changed but,
        for a signed command the state machine refused, its nonce: see `submit_batch`)."""
        (outcome,) = self.submit_batch((command,))
        if isinstance(outcome, TachyonError):
            raise outcome
        return outcome

    def submit_batch(
        self, commands: Sequence[AnyCommand | Admitted]
    ) -> list[Outcome | TachyonError]:
        """Apply commands in order and make them durable in one commit (group commit); each
        result is the command's outcome or the error that refused it. A command not admitted
        yet is admitted here (its signature checked); an `Admitted` one (the node's gateway
        admits off this thread) is applied as it is. A signed command whose body the state
        machine refused is journaled as `Refused` (its nonce used) and answered with the error."""
        if len(commands) > journal.JOURNAL_BATCH_MAX:
            raise InvalidInput(
                f"a batch holds at most {journal.JOURNAL_BATCH_MAX} commands, not {len(commands)}"
            )
        if self.read_only:
            raise StorageError(
                f"the data directory {self.db_path.parent} must be writable to change the"
                " exchange (it was opened for reading only); nothing was changed"
            )
        admitted = [_admitted(command) for command in commands]
        with db.sqlite_errors(self.db_path):
            for _ in range(PROTOCOL_RETRIES):
                try:
                    return self._submit_batch(admitted)
                except sqlite3.OperationalError as exc:
                    # SQLite's transient "locking protocol" error (a new database's WAL being
                    # set up by another process) rolled the transaction back: nothing of the
                    # batch is on disk (`_submit_batch` has reloaded), so it is run again.
                    if "locking protocol" not in str(exc):
                        raise
                    time.sleep(0.05)
            return self._submit_batch(admitted)

    def _submit_batch(
        self, commands: Sequence[Admitted | TachyonError]
    ) -> list[Outcome | TachyonError]:
        conn = self._conn
        entries: list[journal.JournalEntry] = []
        results: list[Outcome | TachyonError] = []
        changed: list[Entry] = []
        self.last_changes = None
        started_ns = time.time_ns()
        db.begin_immediate(conn)  # the write mutex across processes
        try:
            self._catch_up()
            first_seq = self._exchange.seq + 1
            view = ViewBatch(conn, first_seq - 1) if self.read_model else None
            head_hash = self._head_hash
            for command in commands:
                if isinstance(command, TachyonError):  # refused by admission
                    results.append(command)
                    continue
                ts_ns = max(self._clock(), self._exchange.ts_ns)
                if type(command.command) is not Tick and self._exchange.tick_due(ts_ns):
                    # An order expires first: the Tick that does it is journaled before this.
                    tick, _, tick_events = self._apply(_TICK, head_hash, ts_ns)
                    assert tick is not None, "a clock tick is never refused"
                    entries.append(tick)
                    changed.append((tick.seq, tick.ts_ns, tick_events))
                    head_hash = tick.checksum
                entry, outcome, events = self._apply(command, head_hash, ts_ns)
                if entry is not None:
                    entries.append(entry)
                    changed.append((entry.seq, entry.ts_ns, events))
                    head_hash = entry.checksum
                results.append(outcome)
            applied_ns = time.time_ns()
            changes = BatchChanges(first_seq, self._exchange.seq, changed)
            if entries:
                journal.append(conn, entries)
                if view is not None:  # the read model, in the same transaction as the entries
                    view.write(conn, self._exchange.service, changes)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if entries and isinstance(exc, sqlite3.OperationalError) and self._on_disk(entries):
                pass  # the commit happened although SQLite reported an error: memory is right
            else:
                if entries:  # memory is ahead of the disk: go back to what the disk holds
                    self._reload()
                raise
        self._head_hash = head_hash
        if entries:
            self._advance_head(entries[-1])
            self.last_changes = changes
        self.last_timing = (started_ns, applied_ns, time.time_ns())
        self._maybe_snapshot()
        return results

    def tick_if_due(self) -> bool:
        """Journal a clock `Tick` if a good-till-date order is due by now, so that it does not
        outlive its time on a quiet market; whether one was journaled."""
        if self._exchange.tick_due(max(self._clock(), self._exchange.ts_ns)):
            self.submit(_TICK)
            return True
        return False

    def _advance_head(self, last: journal.JournalEntry) -> None:
        """Record the commit as acknowledged before answering it. The commit is durable
        already, so a failure here is no failure of its commands: logged and counted
        (`head_failures`); the record catches up at the next commit."""
        try:
            self._head_record.advance(head.Head(last.seq, last.checksum))
        except (TachyonError, OSError) as exc:
            self.head_failures += 1
            _log.warning(
                "%s: could not record sequence %d as acknowledged (%s)",
                self._head_record.path,
                last.seq,
                exc,
            )

    def _on_disk(self, entries: list[journal.JournalEntry]) -> bool:
        last = entries[-1]
        try:
            return journal.checksum_at(self._conn, last.seq) == last.checksum
        except sqlite3.Error:
            return False

    def _apply(
        self, admitted: Admitted, head_hash: bytes, ts_ns: int
    ) -> tuple[journal.JournalEntry | None, Outcome | TachyonError, list[Event]]:
        """Sequence and apply one command at `ts_ns`: its journal entry (None if refused and
        nothing was used), its outcome or the error that refused it, and its events."""
        exchange = self._exchange
        seq = exchange.seq + 1
        try:
            outcome, events = exchange.execute(admitted, seq, ts_ns)
        except TachyonError as exc:
            return None, exc, _NO_EVENTS
        if type(outcome) is Refusal:
            assert admitted.signed is not None, "an unsigned command's refusal is raised"
            data = encode_refused(admitted.signed, outcome.error.code)
            return journal.make_entry(head_hash, seq, ts_ns, data), outcome.error, events
        return journal.make_entry(head_hash, seq, ts_ns, admitted.data), outcome, events

    # -- reading ---------------------------------------------------------------------------

    def refresh(self) -> Exchange:
        """Catch up with entries other processes journaled; the state, for reading only."""
        conn = self._conn
        with db.sqlite_errors(self.db_path):
            conn.execute("BEGIN")
            try:
                self._catch_up()
            finally:
                conn.execute("COMMIT")
        return self._exchange

    @property
    def state(self) -> Exchange:
        """The state as of this object's last catch-up or commit, without reading the disk
        (what a batch's observer sees right after the commit: current, unless another
        process writes to the directory too)."""
        return self._exchange

    @property
    def seq(self) -> int:
        return self._exchange.seq

    @property
    def head_hash(self) -> bytes:
        return self._head_hash

    def last_nonce(self, account: AccountId) -> int:
        return self.refresh().last_nonce(account)

    def balances(self, account: AccountId) -> dict[TokenId, BalanceRecord]:
        return self.refresh().service.balances(account)

    def open_orders(self, account: AccountId) -> list[OwnedOrder]:
        return self.refresh().service.open_orders(account)

    def book(self, depth: int, market: MarketId) -> BookDepth:
        return self.refresh().service.snapshot(depth, market)

    def recent_trades(self, limit: int, market: MarketId) -> list[Trade]:
        return self.refresh().service.recent_trades(limit, market)

    def markets(self) -> list[MarketConfig]:
        return self.refresh().service.markets()

    def tokens(self) -> list[TokenMeta]:
        return self.refresh().service.tokens()

    # -- snapshots and shutdown ------------------------------------------------------------

    def write_snapshot(self) -> int:
        """Snapshot this object's state (as of its last catch-up or commit: a state at any
        sequence number is a valid snapshot, so no catch-up is needed); returns its sequence."""
        with db.sqlite_errors(self.db_path):
            snapshot.write(self._conn, self._exchange, self._head_hash, self._clock())
        self._snapshot_seq = self._exchange.seq
        self._snapshot_ts_ns = self._clock()
        self._snapshot_due = self._snapshot_every
        return self._snapshot_seq

    def _maybe_snapshot(self) -> None:
        """Snapshot if one is due. Runs after a batch's commit, so a failure here (a full
        disk, say) is no failure of the batch's commands, which are durable already: it is
        logged, counted (`snapshot_failures`) and tried again after another interval or
        another `snapshot_every` commands; the journal still holds everything."""
        new = self._exchange.seq - self._snapshot_seq
        if new >= self._snapshot_due or (
            new and self._clock() - self._snapshot_ts_ns >= self._snapshot_interval_ns
        ):
            try:
                self.write_snapshot()
            except (TachyonError, sqlite3.Error, OSError) as exc:
                self.snapshot_failures += 1
                self._snapshot_ts_ns = self._clock()
                self._snapshot_due = new + self._snapshot_every
                _log.warning(
                    "%s: could not write a snapshot at sequence %d (%s); the journal holds"
                    " every command, and the snapshot will be tried again",
                    self.db_path,
                    self._exchange.seq,
                    exc,
                )

    def close(self, *, snapshot: bool = True) -> None:
        """Snapshot if anything is new since the last one (clean shutdown), then close: the
        database's last connection leaves it in rollback-journal mode, readable in a
        read-only directory (`db.close_writer`). `snapshot=False` leaves the directory as
        the journal has it (for tests, benchmarks)."""
        try:
            if snapshot and not self.read_only and self._exchange.seq > self._snapshot_seq:
                self.write_snapshot()
        finally:
            self._head_record.close()
            if self.read_only:
                self._conn.close()
            else:
                db.close_writer(self._conn)  # the last one leaves it readable read-only

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

    def _catch_up(self) -> None:
        self._head_hash, _ = recovery.replay(
            self._conn, self.db_path, self._exchange, self._head_hash
        )

    def _reload(self) -> None:
        recovered = _recover_read_only(self.db_path)
        self._exchange = recovered.exchange
        self._head_hash = recovered.head_hash


_TICK: Final = admit(Tick())


def _admitted(command: AnyCommand | Admitted) -> Admitted | TachyonError:
    if isinstance(command, Admitted):
        return command
    try:
        return admit(command)
    except TachyonError as exc:
        return exc


def _recover_current(db_path: Path) -> recovery.Recovered | None:
    """The recovered exchange if `db_path` has the current schema; None for a database to
    create or upgrade, unless the head record says it had acknowledged entries (then the
    database was lost: refused)."""
    if not db_path.is_file() or db_path.stat().st_size == 0:
        head.check(db_path, head.read(db_path), 0, None)
        return None
    return _recover(db_path, current_only=True)


def _recover_read_only(db_path: Path) -> recovery.Recovered:
    recovered = _recover(db_path, current_only=False)
    assert recovered is not None
    return recovered


def _recover(db_path: Path, *, current_only: bool) -> recovery.Recovered | None:
    """Recover through a read-only connection: a refusal must leave the files as they are
    (a read-write connection would checkpoint the WAL into the database when it closes).
    `current_only`: None for a database of another schema version (left to `open`)."""
    acknowledged = head.read(db_path)  # before the read transaction: never ahead of it
    conn = db.connect(db_path, read_only=True)
    # Rebuilding a big state allocates millions of containers and no garbage: pausing the
    # cyclic collector halves the time (measured on 100,000 resting orders).
    collecting = gc.isenabled()
    gc.disable()
    try:
        with db.sqlite_errors(db_path):
            conn.execute("BEGIN")  # one consistent view of snapshot and journal
            version = db.schema_version(conn)
            if current_only and version != db.SCHEMA_VERSION:
                db.refuse_newer(version, db_path)  # before a writer touches it
                if version == 0:  # no schema: refused if entries were acknowledged
                    head.check(db_path, acknowledged, 0, None)
                return None
            if acknowledged is None and journal.head(conn)[0]:
                # Created since it was read (another process making this directory), or lost:
                # read it again, then look again, so the record is still read first.
                conn.execute("COMMIT")
                acknowledged = head.read(db_path)
                conn.execute("BEGIN")
            return recovery.recover(conn, db_path, acknowledged)
    finally:
        if collecting:
            gc.enable()
        conn.close()


def _schema_version(db_path: Path) -> int:
    """The database's schema version, read through a read-only connection; UnsupportedVersion
    if it is newer than this tachyon's."""
    conn = db.connect(db_path, read_only=True)
    try:
        with db.sqlite_errors(db_path):
            version = db.schema_version(conn)
    finally:
        conn.close()
    db.refuse_newer(version, db_path)
    return version

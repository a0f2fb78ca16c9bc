"""The head record: how far a data directory's journal was acknowledged, kept outside SQLite's
files, so that a damaged or deleted write-ahead log that silently shortens the journal is found.

`exchange.head`, beside the database, holds two 64-byte slots. Each is a magic, the sequence
number and checksum of a journal entry, and a digest of the three. After each commit, before
answering, a writer moves the record forward: under `flock` on the file (several processes
commit in turn, and one may answer after another that committed later), it writes only a
sequence number greater than the file's newest, into the slot that does not hold the newest,
then syncs. A reader takes the valid slot with the greater sequence number, so a write torn by
a crash spoils one slot and leaves the one before. The record never runs ahead of the journal
(it is written after the commit is durable); a journal that ends before it, or whose entry at
its sequence number has another checksum, lost acknowledged commands (`check`).

Reading takes no lock: a slot being written fails its digest and the other slot, older but
never ahead of the journal, is read instead. Standard library only (the read model uses it).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Final, NamedTuple

from tachyon.errors import CorruptData, StorageError

HEAD_FILENAME: Final = "exchange.head"

_MAGIC: Final = b"TCHYHEAD"
_SLOT: Final = 64
_BODY: Final = 48  # magic, sequence number (8 bytes, big-endian), checksum (32 bytes)
_DIGEST: Final = _SLOT - _BODY


class Head(NamedTuple):
    """A journal entry's sequence number and checksum (0 and zeros: the empty journal)."""

    seq: int
    checksum: bytes


def path_of(db_path: Path) -> Path:
    return db_path.with_name(HEAD_FILENAME)


def read(db_path: Path) -> Head | None:
    """The record beside `db_path`, or None if there is none; CorruptData if it is damaged
    (no slot valid, or not the record's size)."""
    path = path_of(db_path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
    return _newest(path, data)


def create(db_path: Path, head: Head) -> None:
    """Write a new record at `head` unless one exists: whole (a temporary file, synced, then
    linked into place, which never replaces another's) and durable (the directory synced)."""
    path = path_of(db_path)
    if path.exists():
        return
    temporary = path.with_name(f"{HEAD_FILENAME}.{os.getpid()}.new")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, _slot(head) + bytes(_SLOT))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: theirs stands
        finally:
            temporary.unlink()
        _sync_directory(path.parent)
    except OSError as exc:
        raise StorageError(f"cannot create {path}: {exc.strerror}") from exc


class HeadWriter:
    """Moves one directory's record forward; holds a descriptor of the file between calls."""

    def __init__(self, db_path: Path) -> None:
        self.path = path_of(db_path)
        self._db_path = db_path
        self._fd: int | None = None

    def advance(self, head: Head) -> None:
        """Record `head` as acknowledged unless the file holds a later one already (synced
        before returning); creates the record if there is none."""
        fd = self._descriptor(head)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            newest, slot = _newest_slot(self.path, os.pread(fd, 2 * _SLOT, 0))
            if head.seq > newest.seq:
                os.pwrite(fd, _slot(head), (1 - slot) * _SLOT)
                os.fdatasync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def reset(self, head: Head) -> None:
        """Set the record to `head` even if it is behind it (accepting a shorter journal)."""
        fd = self._descriptor(head)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.pwrite(fd, _slot(head) * 2, 0)
            os.fdatasync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _descriptor(self, head: Head) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR)
            except FileNotFoundError:
                create(self._db_path, head)
                self._fd = os.open(self.path, os.O_RDWR)
        return self._fd


def check(
    db_path: Path, head: Head | None, journal_seq: int, checksum_at_head: bytes | None
) -> None:
    """Refuse (CorruptData, naming the files and the sequence numbers) a recovered journal that
    ends at `journal_seq` before the acknowledged `head`, or whose entry at the head's sequence
    number (`checksum_at_head`) is another; and a journal with entries but no record at all
    (the record was deleted, so the journal's end cannot be trusted)."""
    path = path_of(db_path)
    way_out = (
        "; nothing was changed. Restore the directory from a backup, or accept the journal as"
        " it is with `tachyon audit --reset-head`"
    )
    if head is None:
        if journal_seq:
            raise CorruptData(
                f"{db_path}: {path} is missing, so whether the journal (which ends at sequence"
                f" {journal_seq}) lost acknowledged entries cannot be known{way_out}"
            )
        return
    if journal_seq < head.seq:
        raise CorruptData(
            f"{db_path}: the journal ends at sequence {journal_seq} but {path} records"
            f" {head.seq} as acknowledged: entries {journal_seq + 1} to {head.seq} are lost"
            f" (the database or its write-ahead log was damaged or deleted){way_out}"
        )
    if head.seq and checksum_at_head != head.checksum:
        raise CorruptData(
            f"{db_path}: journal entry {head.seq} is not the entry {path} records as"
            f" acknowledged (the journal was replaced){way_out}"
        )


def _slot(head: Head) -> bytes:
    body = _MAGIC + head.seq.to_bytes(8, "big") + head.checksum
    return body + hashlib.sha256(body).digest()[:_DIGEST]


def _newest(path: Path, data: bytes) -> Head:
    return _newest_slot(path, data)[0]


def _newest_slot(path: Path, data: bytes) -> tuple[Head, int]:
    if len(data) != 2 * _SLOT:
        raise CorruptData(f"{path} is damaged: {len(data)} bytes, not {2 * _SLOT}")
    valid = [
        (Head(int.from_bytes(body[8:16], "big"), body[16:_BODY]), index)
        for index in range(2)
        if (body := data[index * _SLOT : index * _SLOT + _BODY])[:8] == _MAGIC
        and hashlib.sha256(body).digest()[:_DIGEST]
        == data[index * _SLOT + _BODY : (index + 1) * _SLOT]
    ]
    if not valid:
        raise CorruptData(f"{path} is damaged: neither of its two records is valid")
    return max(valid)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Torn-tail detection: what a crash left of an unfinished commit at the end of the WAL.

SQLite's recovery silently ignores WAL frames after the last valid commit frame; this module
finds them so the host can say that it dropped them. Call `torn_tail_bytes` while holding the
write lock (no writer is then mid-transaction) after SQLite has rebuilt its WAL index: frames
past the index's last valid frame that carry the WAL header's salts (this WAL generation, not
an older one the WAL was restarted over) are the torn commit, as is a partial frame after them.
Reads only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

WAL_HEADER_BYTES: Final = 32
FRAME_HEADER_BYTES: Final = 24
_SHM_HEADER_BYTES: Final = 48
_SHM_MAX_FRAME: Final = slice(16, 20)  # WalIndexHdr.mxFrame, native byte order
_SHM_SALT: Final = slice(32, 40)  # WalIndexHdr.aSalt, copied from the WAL header
_WAL_PAGE_SIZE: Final = slice(8, 12)
_WAL_SALT: Final = slice(16, 24)
_FRAME_SALT: Final = slice(8, 16)


def wal_path(db_path: Path) -> Path:
    return db_path.with_name(f"{db_path.name}-wal")


def torn_tail_bytes(db_path: Path) -> int:
    """Bytes of this WAL generation after its last valid frame (0 if none, or no WAL)."""
    shm_path = db_path.with_name(f"{db_path.name}-shm")
    try:
        with open(shm_path, "rb") as shm:
            index = shm.read(_SHM_HEADER_BYTES)
        wal = open(wal_path(db_path), "rb")  # noqa: SIM115 (closed below; read in steps)
    except FileNotFoundError:
        return 0
    with wal:
        header = wal.read(WAL_HEADER_BYTES)
        if len(header) < WAL_HEADER_BYTES or len(index) < _SHM_HEADER_BYTES:
            return 0
        salt = header[_WAL_SALT]
        if index[_SHM_SALT] != salt:  # the index describes another generation: nothing to say
            return 0
        frame_bytes = FRAME_HEADER_BYTES + int.from_bytes(header[_WAL_PAGE_SIZE], "big")
        valid_frames = int.from_bytes(index[_SHM_MAX_FRAME], sys.byteorder)
        offset = WAL_HEADER_BYTES + valid_frames * frame_bytes
        torn = 0
        while True:
            wal.seek(offset + torn)
            frame_header = wal.read(FRAME_HEADER_BYTES)
            if len(frame_header) < FRAME_HEADER_BYTES:
                return torn + len(frame_header)  # a frame cut inside its header
            if frame_header[_FRAME_SALT] != salt:
                return torn  # an older generation's frame: not part of any recent commit
            rest = len(wal.read(frame_bytes - FRAME_HEADER_BYTES))
            torn += FRAME_HEADER_BYTES + rest
            if rest < frame_bytes - FRAME_HEADER_BYTES:
                return torn

"""Torn-tail recovery: move the bytes after the last complete line to quarantine/, durably, then cut them off."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from schemas.events import LedgerRecoveredData

QUARANTINE_DIR = "quarantine"


def fsync_dir(path: Path) -> None:
    """Make a directory entry (a created, renamed or removed file) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def quarantine_tail(ledger_path: Path, fd: int, offset: int, size: int) -> LedgerRecoveredData:
    """Copy bytes [offset, size) to quarantine/torn-<offset>-<sha256>.bin, fsync it, then truncate the ledger.

    The copy is durable before the cut, so a crash in between loses nothing: the next open finds the
    same tail again and writes the same file (its name is its offset and content hash).
    """
    torn = os.pread(fd, size - offset, offset)
    digest = hashlib.sha256(torn).hexdigest()
    folder = ledger_path.with_name(QUARANTINE_DIR)
    folder.mkdir(exist_ok=True)
    target = folder / f"torn-{offset}-{digest}.bin"
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as q:
        q.write(torn)
        q.flush()
        os.fsync(q.fileno())
    os.replace(tmp, target)
    fsync_dir(folder)
    os.ftruncate(fd, offset)
    os.fsync(fd)
    return LedgerRecoveredData(
        offset=offset,
        length=len(torn),
        sha256=digest,
        quarantine_path=str(target.relative_to(ledger_path.parent)),
    )

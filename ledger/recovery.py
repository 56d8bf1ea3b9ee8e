"""Torn-tail recovery: move the bytes after the last complete line to quarantine/, durably, then cut them off."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import orjson

from ledger.fsio import fsync_dir, write_bytes_atomic
from ledger.home import QUARANTINE_DIR
from schemas.events import LedgerRecoveredData

PENDING_SUFFIX = ".pending"


def quarantine_tail(ledger_path: Path, fd: int, offset: int, size: int, seq: int) -> None:
    """Copy bytes [offset, size) to quarantine/torn-<offset>-<sha256>.bin, fsync it, then truncate the ledger.

    The copy is durable before the cut, so a crash in between loses nothing: the next open finds the
    same tail again and writes the same file (its name is its offset and content hash). Beside it, a
    `.pending` marker holds the LedgerRecovered payload and the seq it is to be recorded at, until
    the caller has appended that event: a crash after the cut but before the event leaves the marker,
    and the next writer to open the ledger records the event from it (finish_pending).
    """
    torn = os.pread(fd, size - offset, offset)
    digest = hashlib.sha256(torn).hexdigest()
    folder = ledger_path.with_name(QUARANTINE_DIR)
    folder.mkdir(exist_ok=True)
    target = folder / f"torn-{offset}-{digest}.bin"
    write_bytes_atomic(target, torn)
    data = LedgerRecoveredData(
        offset=offset,
        length=len(torn),
        sha256=digest,
        quarantine_path=str(target.relative_to(ledger_path.parent)),
    )
    write_bytes_atomic(target.with_suffix(PENDING_SUFFIX), orjson.dumps({"seq": seq, "data": data.model_dump()}))
    fsync_dir(folder)
    os.ftruncate(fd, offset)
    os.fsync(fd)


def pending(ledger_path: Path) -> list[tuple[Path, int, LedgerRecoveredData]]:
    """(marker, seq, payload) of every recovery whose LedgerRecovered event may not be recorded yet, oldest first."""
    folder = ledger_path.with_name(QUARANTINE_DIR)
    if not folder.is_dir():
        return []
    found = []
    for marker in folder.glob(f"torn-*{PENDING_SUFFIX}"):
        obj = orjson.loads(marker.read_bytes())
        found.append((marker, int(obj["seq"]), LedgerRecoveredData.model_validate(obj["data"])))
    return sorted(found, key=lambda item: item[1])


def clear_pending(marker: Path) -> None:
    """The LedgerRecovered event of this marker is recorded: drop the marker."""
    marker.unlink(missing_ok=True)
    fsync_dir(marker.parent)

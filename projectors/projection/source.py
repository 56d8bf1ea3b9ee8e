"""The ledger bytes a projection reads: complete lines only, the checkpoint's line, old versions upcast."""

from __future__ import annotations

from pathlib import Path

import orjson

from ledger import LedgerCorruptError, LinePosition, iter_lines, line_at, snapshot_end, upcast, write_file
from ledger import head_at as ledger_head_at
from projectors.errors import CheckpointMismatchError, LedgerUnreadableError

REBUILD_HINT = "rebuild it with: bin/replay --to duckdb --rebuild"

#: How far a projection has read: last seq and hash, the byte after its line, and where that line starts.
Checkpoint = LinePosition


def complete_end(path: Path, start: int = 0) -> int:
    """Byte offset just after the last complete (newline-terminated) line, at least start."""
    return snapshot_end(path, start)


def read_range(path: Path, start: int, end: int) -> bytes:
    """The bytes [start, end) of the ledger file."""
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(end - start)


def head_at(path: Path, end: int) -> Checkpoint:
    """The checkpoint a projection reaches by reading the ledger up to byte end."""
    try:
        return ledger_head_at(path, end)
    except LedgerCorruptError as exc:
        raise LedgerUnreadableError(exc.problem) from exc


def check_checkpoint(path: Path, cp: Checkpoint) -> None:
    """Refuse a checkpoint whose line is no longer in the ledger at the same place with the same seq and hash."""
    if cp.seq == 0:
        return
    if line_at(path, cp.line_offset, cp.offset) != (cp.seq, cp.hash):
        raise CheckpointMismatchError(
            f"projection checkpoint seq {cp.seq} hash {cp.hash[:12]} no longer matches the ledger "
            f"(rewritten or truncated?); {REBUILD_HINT}"
        )


def write_normalized(path: Path, start: int, end: int, out: Path) -> None:
    """Copy lines [start, end) to out with every event upcast to its current version."""
    with open(out, "wb") as f:
        for offset, line in iter_lines(path, start, end):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise LedgerUnreadableError(f"unreadable ledger line at byte {offset}: {exc}") from exc
            f.write(orjson.dumps(upcast(obj)) + b"\n")


def write_bytes(data: bytes, out: Path) -> None:
    """Write a slice of ledger lines to a scratch file DuckDB can read."""
    write_file(out, data)

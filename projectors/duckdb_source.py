"""The ledger bytes a projection reads: complete lines only, the checkpoint's line, old versions upcast."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import orjson

from ledger.codec import split_hash
from ledger import lines
from ledger.upcasters import upcast
from projectors.errors import CheckpointMismatchError, LedgerUnreadableError

REBUILD_HINT = "rebuild it with: bin/replay --to duckdb --rebuild"


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """How far a projection has read: last seq and hash, the byte after its line, and where that line starts."""

    seq: int = 0
    hash: str = ""
    offset: int = 0
    line_offset: int = 0


def complete_end(path: Path, start: int = 0) -> int:
    """Byte offset just after the last complete (newline-terminated) line, at least start."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return lines.complete_end(fd, start, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def read_range(path: Path, start: int, end: int) -> bytes:
    """The bytes [start, end) of the ledger file."""
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(end - start)


def last_line(path: Path, end: int) -> tuple[int, bytes]:
    """(offset, line without newline) of the last complete line before byte end (end > 0)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        found = lines.last_line(fd, 0, end)
    finally:
        os.close(fd)
    if found is None:
        raise LedgerUnreadableError(f"no complete line before byte {end} of {path}")
    return found


def seq_and_hash(line: bytes) -> tuple[int, str]:
    """The seq and stated hash of one ledger line."""
    parts = split_hash(line)
    if parts is None:
        raise LedgerUnreadableError(f"not a ledger line: {line[:60]!r}")
    try:
        seq = orjson.loads(parts[0])["seq"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise LedgerUnreadableError(f"not a ledger line: {line[:60]!r}") from exc
    if not isinstance(seq, int):
        raise LedgerUnreadableError(f"ledger line without an integer seq: {line[:60]!r}")
    return seq, parts[1]


def head_at(path: Path, end: int) -> Checkpoint:
    """The checkpoint a projection reaches by reading the ledger up to byte end."""
    if end == 0:
        return Checkpoint()
    offset, line = last_line(path, end)
    seq, digest = seq_and_hash(line)
    return Checkpoint(seq, digest, end, offset)


def check_checkpoint(path: Path, cp: Checkpoint) -> None:
    """Refuse a checkpoint whose line is no longer in the ledger at the same place with the same seq and hash."""
    if cp.seq == 0:
        return
    size = path.stat().st_size if path.exists() else 0
    found: tuple[int, str] | None = None
    if size >= cp.offset and cp.offset > cp.line_offset:
        start = max(cp.line_offset - 1, 0)
        raw = read_range(path, start, cp.offset)  # the line and, unless it is the first, the newline before it
        line = raw[cp.line_offset - start :]
        if line.endswith(b"\n") and (cp.line_offset == 0 or raw[:1] == b"\n"):
            try:
                found = seq_and_hash(line[:-1])
            except LedgerUnreadableError:
                found = None
    if found != (cp.seq, cp.hash):
        raise CheckpointMismatchError(
            f"projection checkpoint seq {cp.seq} hash {cp.hash[:12]} no longer matches the ledger "
            f"(rewritten or truncated?); {REBUILD_HINT}"
        )


def write_normalized(path: Path, start: int, end: int, out: Path) -> None:
    """Copy lines [start, end) to out with every event upcast to its current version."""
    with open(out, "wb") as f:
        for offset, line in lines.iter_lines(path, start, end):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise LedgerUnreadableError(f"unreadable ledger line at byte {offset}: {exc}") from exc
            f.write(orjson.dumps(upcast(obj)) + b"\n")


def write_bytes(data: bytes, out: Path) -> None:
    """Write a slice of ledger lines to a scratch file DuckDB can read."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)

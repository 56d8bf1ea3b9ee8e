"""Reading the ledger for read models: complete lines only, byte ranges after a seq, the head, line hashes, events."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from ledger.chain import seq_and_hash
from ledger.codec import decode
from ledger.errors import LedgerCorruptError, UnknownEventError
from ledger.lines import complete_end, iter_chunks, iter_lines, last_line, offset_of_line
from schemas.events import Event


@dataclasses.dataclass(frozen=True)
class LinePosition:
    """Where a read stopped: the last line's seq and stated hash, the byte after it, and where that line starts."""

    seq: int = 0
    hash: str = ""
    offset: int = 0
    line_offset: int = 0


def snapshot_end(path: Path, start: int = 0) -> int:
    """Byte offset after the last complete line right now (at least start): a read never goes past it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return complete_end(fd, start, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def lines_after(path: Path, seq: int) -> tuple[int, int]:
    """The byte range [start, end) of the complete lines after line seq; (end, end) when there are none."""
    end = snapshot_end(path)
    try:
        return offset_of_line(path, seq, end), end
    except EOFError:
        return end, end


def head_at(path: Path, end: int | None = None) -> LinePosition:
    """The position of the last complete line before byte end (now, when None); LinePosition() for an empty ledger.

    Raises LedgerCorruptError when that line is not shaped like a ledger record.
    """
    end = snapshot_end(path) if end is None else end
    if end == 0:
        return LinePosition()
    fd = os.open(path, os.O_RDONLY)
    try:
        found = last_line(fd, 0, end)
    finally:
        os.close(fd)
    if found is None:
        raise LedgerCorruptError(None, f"no complete line before byte {end} of {path}")
    offset, line = found
    parsed = seq_and_hash(line)
    if parsed is None:
        raise LedgerCorruptError(None, f"the line at byte {offset} of {path} is not a ledger record (run bin/verify)")
    return LinePosition(parsed[0], parsed[1], end, offset)


def line_hash(path: Path, seq: int) -> str | None:
    """The hash stated on the ledger's line seq, or None when the ledger has fewer complete lines."""
    if seq <= 0:
        return None
    try:
        start = offset_of_line(path, seq - 1, path.stat().st_size)
    except EOFError:
        return None
    for _, line in iter_lines(path, start):
        parsed = seq_and_hash(line)
        return parsed[1] if parsed else "(unreadable line)"
    return None


def line_at(path: Path, offset: int, end: int) -> tuple[int, str] | None:
    """(seq, hash) of the line that starts at byte offset and ends (with its newline) at byte end, else None.

    None as well when offset is not the start of a line (the byte before it is not a newline).
    """
    if end <= offset or (path.stat().st_size if path.exists() else 0) < end:
        return None
    start = max(offset - 1, 0)
    with open(path, "rb") as f:
        f.seek(start)
        raw = f.read(end - start)
    line = raw[offset - start :]
    if not line.endswith(b"\n") or (offset > 0 and raw[:1] != b"\n"):
        return None
    return seq_and_hash(line[:-1])


def read_events(path: Path, after: int = 0, until: int | None = None) -> Iterator[Event]:
    """Yield events with after < seq <= until in seq order, from the lines complete when called.

    Ending at a newline that existed when the read began means a concurrent append or a torn-tail
    recovery (which only cuts bytes after the last newline) can never show up as a partial line.
    """
    if until is not None and until <= after:
        return
    with open(path, "rb") as f:
        fd = f.fileno()  # one descriptor for the snapshot, the bisection and the read
        end = complete_end(fd, 0, os.fstat(fd).st_size)
        try:
            start = offset_of_line(path, after, end, fd)
        except EOFError:
            return
        seq = after
        for _, _, lines in iter_chunks(path, start, end, fd):
            for line in lines:
                seq += 1
                if until is not None and seq > until:
                    return
                yield decode_at(line, seq)


def decode_at(line: bytes, seq: int) -> Event:
    """Decode the ledger line at seq; a line that states another seq is a LedgerCorruptError."""
    try:
        event = decode(line)
    except UnknownEventError as exc:
        raise UnknownEventError(f"line {seq}: {exc}") from exc
    if event.seq != seq:
        raise LedgerCorruptError(seq, f"line {seq} carries seq {event.seq} (run bin/verify)")
    return event

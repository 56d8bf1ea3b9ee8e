"""Reading events: a snapshot of the complete lines after a seq, decoded and upcast, seqs checked as they go."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ledger.codec import decode
from ledger.errors import LedgerCorruptError, UnknownEventError
from ledger.lines import complete_end, iter_chunks, offset_of_line
from schemas.events import Event


def snapshot_end(path: Path) -> int:
    """Byte offset after the last complete line right now: a read never goes past it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return complete_end(fd, 0, os.fstat(fd).st_size)
    finally:
        os.close(fd)


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

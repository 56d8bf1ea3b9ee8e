"""Reading ledger bytes: complete lines only, the last complete line, the offset after the first n lines."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger.chain import chain_fields, whole_lines
from ledger.fsio import flocked
from ledger.home import LOCK_NAME

READ_CHUNK = 1 << 18
_BACK_CHUNK = 1 << 16


def iter_chunks(
    path: Path, start: int = 0, end: int | None = None, fd: int | None = None
) -> Iterator[tuple[int, int, list[bytes]]]:
    """Yield (offset of the first line, offset after the last, complete lines without newlines) in big chunks.

    A partial last line (no newline yet: a writer mid-append or a torn tail) is never yielded.
    Reads fd when given (an open descriptor of path), else opens path.
    """
    if fd is None:
        with open(path, "rb") as f:
            yield from iter_chunks(path, start, end, f.fileno())
        return
    offset = start
    for buf in whole_lines(fd, start, os.fstat(fd).st_size if end is None else end, READ_CHUNK):
        lines = buf.split(b"\n")
        lines.pop()  # the empty piece after the last newline
        yield offset, offset + len(buf), lines
        offset += len(buf)


def iter_lines(path: Path, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, line without newline) for each complete line from byte offset start (up to end)."""
    for offset, _, lines in iter_chunks(path, start, end):
        for line in lines:
            yield offset, line
            offset += len(line) + 1


def offset_after(path: Path, lines: int, start: int = 0, fd: int | None = None) -> int:
    """Byte offset just after the first `lines` complete lines counted from start (or the end of complete lines).

    Reads fd when given (an open descriptor of path), else opens path.
    """
    if lines <= 0:
        return start
    if fd is None:
        with open(path, "rb") as f:
            return _offset_after(f.fileno(), path, lines, start)
    return _offset_after(fd, path, lines, start)


def _offset_after(fd: int, path: Path, lines: int, start: int) -> int:
    pos, left = start, lines
    while chunk := os.pread(fd, READ_CHUNK, pos):
        n = chunk.count(b"\n")
        if n < left:
            left -= n
            pos += len(chunk)
            continue
        cut = -1
        for _ in range(left):
            cut = chunk.index(b"\n", cut + 1)
        return pos + cut + 1
    raise EOFError(f"{path} has fewer than {lines} complete lines after byte {start}")


def offset_of_line(path: Path, lines: int, end: int, fd: int | None = None) -> int:
    """Byte offset just after the first `lines` complete lines before byte end, found by bisection (O(log n) reads).

    Line k of a ledger states seq k, so probing a line's seq says which side of the target it is on.
    A probe that does not parse falls back to counting newlines (offset_after), so the answer is the
    same as counting on any file; a reader then checks every seq it yields anyway.
    Reads fd when given (an open descriptor of path), else opens path.
    """
    if lines <= 0:
        return 0
    if fd is None:
        with open(path, "rb") as f:
            return offset_of_line(path, lines, end, f.fileno())
    lo, lo_lines, hi = 0, 0, end
    while hi - lo > READ_CHUNK:
        mid = (lo + hi) // 2
        found = _line_from(fd, mid, hi)
        if found is None:
            hi = mid
            continue
        start, line = found
        fields = chain_fields(line)
        if fields is None or start <= lo:
            break
        if fields[0] - 1 == lines:
            return start
        if fields[0] - 1 < lines:
            lo, lo_lines = start, fields[0] - 1
        else:
            hi = mid
    return offset_after(path, lines - lo_lines, lo, fd)


def _line_from(fd: int, pos: int, hi: int) -> tuple[int, bytes] | None:
    """(offset, line) of the first complete line starting after the first newline at or after pos, below hi."""
    data = os.pread(fd, min(_BACK_CHUNK, hi - pos), pos)
    cut = data.find(b"\n")
    if cut < 0:
        return None
    start = pos + cut + 1
    line = b""
    while start + len(line) < hi:
        chunk = os.pread(fd, min(_BACK_CHUNK, hi - start - len(line)), start + len(line))
        nl = chunk.find(b"\n")
        if nl >= 0:
            return start, line + chunk[:nl]
        if not chunk:
            return None
        line += chunk
    return None


def last_line(fd: int, start: int, size: int) -> tuple[int, bytes] | None:
    """(offset, line without newline) of the last complete line within [start, size), or None if there is none."""
    end = _last_newline(fd, start, size)
    if end < 0:
        return None
    first = _last_newline(fd, start, end)
    begin = first + 1 if first >= 0 else start
    return begin, os.pread(fd, end - begin, begin)


def complete_end(fd: int, start: int, size: int) -> int:
    """Byte offset just after the last newline within [start, size), or start if there is none."""
    end = _last_newline(fd, start, size)
    return end + 1 if end >= 0 else start


def _last_newline(fd: int, start: int, stop: int) -> int:
    pos = stop
    while pos > start:
        step = min(_BACK_CHUNK, pos - start)
        cut = os.pread(fd, step, pos - step).rfind(b"\n")
        if cut >= 0:
            return pos - step + cut
        pos -= step
    return -1


def count_lines(path: Path, end: int) -> int:
    """Number of newlines in the first end bytes."""
    total, pos = 0, 0
    with open(path, "rb") as f:
        while pos < end and (chunk := f.read(min(READ_CHUNK, end - pos))):
            total += chunk.count(b"\n")
            pos += len(chunk)
    return total


@contextmanager
def shared_lock(ledger_path: Path) -> Iterator[None]:
    """Wait for an in-flight append to finish (shared flock of audit.lock); no-op when the lock file is unreadable."""
    try:
        fd = os.open(ledger_path.with_name(LOCK_NAME), os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with flocked(fd, shared=True):
            yield
    finally:
        os.close(fd)


def torn_bytes(path: Path, start: int) -> int:
    """Bytes after the last complete line at or after start, once no append is in flight (0 if none)."""
    with shared_lock(path), open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        return size - complete_end(f.fileno(), start, size) if size > start else 0

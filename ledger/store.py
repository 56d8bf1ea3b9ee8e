"""The append-only, hash-chained ledger file: open (with torn-tail recovery), append, read, head, verify."""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ledger.codec import body_hash, decode, encode, split_hash
from ledger.errors import EventRejectedError, LedgerCorruptError, LedgerWriteError, WrongExpectedSeq
from schemas.events import GENESIS_HASH, Envelope, Event, LedgerRecovered, LedgerRecoveredData

LEDGER_NAME = "audit.jsonl"
LOCK_NAME = "audit.lock"
QUARANTINE_DIR = "quarantine"
_READ_CHUNK = 1 << 22


@dataclasses.dataclass(frozen=True)
class Recorded:
    """An event as the ledger recorded it: its assigned seq and hash."""

    seq: int
    hash: str
    event: Envelope


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """Outcome of re-hashing the whole chain."""

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    torn_tail_bytes: int = 0


def resolve_path(path: str | os.PathLike[str]) -> Path:
    """A home folder means its audit.jsonl; anything else is the ledger file itself."""
    p = Path(path)
    return p / LEDGER_NAME if p.is_dir() else p


def iter_lines(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, line without newline) for each complete line from byte offset start."""
    with open(path, "rb") as f:
        f.seek(start)
        offset, rest = start, b""
        while chunk := f.read(_READ_CHUNK):
            buf = rest + chunk
            lines = buf.split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield offset, line
                offset += len(line) + 1


class Ledger:
    """One audit.jsonl with its lock file and quarantine folder beside it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(LOCK_NAME)
        self.quarantine_dir = path.with_name(QUARANTINE_DIR)
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._size = 0
        self._head: tuple[int, str] = (0, GENESIS_HASH)

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = True) -> Ledger:
        """Open (creating if allowed) a ledger, recovering a torn tail under the lock."""
        target = resolve_path(path)
        if not target.exists() and not create:
            raise FileNotFoundError(f"no ledger at {target}")
        target.parent.mkdir(parents=True, exist_ok=True)
        ledger = cls(target)
        ledger._lock_fd = os.open(ledger.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        ledger._fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        with ledger._locked():
            ledger._refresh()
        return ledger

    def close(self) -> None:
        """Release the file descriptors."""
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lock_fd = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        assert self._lock_fd is not None, "ledger is closed"
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # ------------------------------------------------------------ head tracking

    def _refresh(self) -> None:
        """Catch up with lines other processes appended; recover a torn tail. Caller holds the lock."""
        size = os.fstat(self._require_fd()).st_size
        if size == self._size:
            return
        if size < self._size:
            raise LedgerCorruptError(None, f"ledger shrank from {self._size} to {size} bytes while open")
        seq, digest = self._head
        end = self._size
        for offset, line in iter_lines(self.path, self._size):
            parts = split_hash(line)
            if parts is None:
                raise LedgerCorruptError(seq + 1, f"malformed line at byte {offset}")
            seq, digest, end = seq + 1, parts[1], offset + len(line) + 1
        self._head, self._size = (seq, digest), end
        if end < size:
            self._recover_tail(end, size)

    def _recover_tail(self, offset: int, size: int) -> None:
        """Move the torn bytes after offset to quarantine/, truncate, record LedgerRecovered."""
        with open(self.path, "rb") as f:
            f.seek(offset)
            torn = f.read(size - offset)
        digest = hashlib.sha256(torn).hexdigest()
        self.quarantine_dir.mkdir(exist_ok=True)
        qpath = self.quarantine_dir / f"torn-{offset}-{digest}.bin"
        with open(qpath, "wb") as q:
            q.write(torn)
            q.flush()
            os.fsync(q.fileno())
        _fsync_dir(self.quarantine_dir)
        os.ftruncate(self._require_fd(), offset)
        os.fsync(self._require_fd())
        data = LedgerRecoveredData(
            offset=offset, length=len(torn), sha256=digest, quarantine_path=str(qpath.relative_to(self.path.parent))
        )
        self._write([LedgerRecovered(run_id=None, data=data)], expected_seq=None)

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last event; (0, 64 zeros) for an empty ledger."""
        with self._locked():
            self._refresh()
            return self._head

    # ------------------------------------------------------------ append

    def append(self, events: Iterable[Envelope], *, expected_seq: int | None = None) -> list[Recorded]:
        """Record events in order, durable (one fsync for the batch) when this returns."""
        batch = list(events)
        for event in batch:
            _check_unrecorded(event)
        with self._locked():
            self._refresh()
            return self._write(batch, expected_seq=expected_seq)

    def _write(self, batch: list[Envelope], *, expected_seq: int | None) -> list[Recorded]:
        seq, prev = self._head
        if expected_seq is not None and expected_seq != seq:
            raise WrongExpectedSeq(expected_seq, seq)
        lines: list[bytes] = []
        recorded: list[Recorded] = []
        for event in batch:
            seq += 1
            line, prev = encode(event, seq, prev)
            lines.append(line)
            recorded.append(Recorded(seq, prev, event))
        if not lines:
            return []
        payload = b"".join(lines)
        fd = self._require_fd()
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as exc:
            self._rollback()
            raise LedgerWriteError(exc.errno, f"append failed, nothing recorded: {exc.strerror or exc}") from exc
        self._size += len(payload)
        self._head = (seq, prev)
        return recorded

    def _rollback(self) -> None:
        """Cut the file back to the last acknowledged byte after a failed write."""
        try:
            os.ftruncate(self._require_fd(), self._size)
            os.fsync(self._require_fd())
        except OSError:
            pass  # the next open's torn-tail recovery quarantines whatever is left

    def _require_fd(self) -> int:
        if self._fd is None:
            raise LedgerWriteError("ledger is closed")
        return self._fd

    # ------------------------------------------------------------ read and verify

    def read(self, after: int = 0, until: int | None = None) -> Iterator[Event]:
        """Yield events with after < seq <= until in seq order, upcast to current versions."""
        for seq, (_, line) in enumerate(iter_lines(self.path), start=1):
            if until is not None and seq > until:
                return
            if seq > after:
                yield decode(line)

    def verify(self) -> VerifyReport:
        """Re-hash the chain; name the first bad seq and what is wrong with it."""
        return verify_file(self.path)


def verify_file(path: Path) -> VerifyReport:
    """Re-hash every line of a ledger file without taking its lock."""
    prev, seq, end = GENESIS_HASH, 0, 0
    for offset, line in iter_lines(path):
        expected = seq + 1
        problem = _check_line(line, expected, prev)
        if problem is not None:
            return VerifyReport(False, seq, seq, prev, first_bad_seq=expected, problem=problem)
        parts = split_hash(line)
        assert parts is not None
        seq, prev, end = expected, parts[1], offset + len(line) + 1
    torn = path.stat().st_size - end if path.exists() else 0
    return VerifyReport(True, seq, seq, prev, torn_tail_bytes=torn)


def _check_line(line: bytes, seq: int, prev: str) -> str | None:
    parts = split_hash(line)
    if parts is None:
        return "line is not a ledger record (no trailing hash)"
    body, stated = parts
    if body_hash(body) != stated:
        return "hash does not match content (line edited)"
    try:
        event = decode(line)
    except Exception as exc:  # any decode failure is a verification finding, not a crash
        return f"unreadable: {exc}"
    if event.seq != seq:
        return f"seq is {event.seq}, expected {seq} (line deleted, duplicated, swapped or inserted)"
    if event.prev != prev:
        return "prev does not match the previous hash (chain broken)"
    return None


def _check_unrecorded(event: Any) -> None:
    if not isinstance(event, Envelope):
        raise EventRejectedError(f"not an event: {type(event).__name__}")
    if event.seq is not None or event.prev is not None or event.hash is not None:
        raise EventRejectedError(f"{event.type}: seq/prev/hash are assigned by the ledger, got seq={event.seq}")
    try:
        type(event).model_validate(event.model_dump())
    except ValidationError as exc:
        raise EventRejectedError(f"{event.type}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

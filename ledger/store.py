"""The append-only, hash-chained ledger file: open (with torn-tail recovery), append, read, head, verify."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from ledger.checks import Spec
from ledger.codec import HASH_SUFFIX_LEN, chain_fields, check_batch, encode_batch
from ledger.errors import LedgerCorruptError, LedgerError, LedgerWriteError, RunIdTakenError, WrongExpectedSeqError
from ledger.fsio import flocked, fsync_dir, write_all
from ledger.home import LEDGER_NAME, LOCK_NAME
from ledger.lines import count_lines, last_line
from ledger.reader import read_events
from ledger.recovery import clear_pending, pending, quarantine_tail
from ledger.runstarts import run_starts
from ledger.verify import VerifyReport, verify_file
from schemas.events import GENESIS_HASH, Envelope, Event, LedgerRecovered, RunStarted

__all__ = ["LEDGER_NAME", "LOCK_NAME", "Ledger", "Recorded", "resolve_path"]


class Recorded(NamedTuple):
    """An event as the ledger recorded it: its assigned seq and hash."""

    seq: int
    hash: str
    event: Envelope


def resolve_path(path: str | os.PathLike[str]) -> Path:
    """A home folder (existing, or not yet created and without a file suffix) means its audit.jsonl."""
    p = Path(path)
    return p / LEDGER_NAME if p.is_dir() or (not p.exists() and not p.suffix) else p


class Ledger:
    """One audit.jsonl with its lock file and quarantine folder beside it.

    Writers serialize on an exclusive flock of audit.lock; readers take no lock and never modify anything.
    """

    def __init__(self, path: Path, *, readonly: bool) -> None:
        self.path = path
        self.lock_path = path.with_name(LOCK_NAME)
        self.readonly = readonly
        self._lock_fd: int | None = None
        #: run id -> seq of its RunStarted, read up to byte _started_to (see _refuse_taken)
        self._started: dict[str, int] = {}
        self._started_to = 0
        self._fd: int | None = None
        self._size = 0  # bytes up to the end of the last complete line this handle knows of
        self._head: tuple[int, str] = (0, GENESIS_HASH)
        self._stale = True  # re-derive head from the file on the next refresh

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = True, readonly: bool = False) -> Ledger:
        """Open a ledger (a file or a home folder); a writer creates it if allowed and recovers a torn tail."""
        target = resolve_path(path)
        if (readonly or not create) and not target.exists():
            raise FileNotFoundError(2, "no ledger", str(target))
        ledger = cls(target, readonly=readonly)
        if readonly:
            ledger._fd = os.open(target, os.O_RDONLY)
            ledger._refresh()
            return ledger
        created = not target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        ledger._lock_fd = os.open(ledger.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        ledger._fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if created:
            fsync_dir(target.parent)
        try:
            with ledger._locked():
                ledger._refresh()
                ledger._finish_pending()
        except BaseException:
            ledger.close()
            raise
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
        if self._lock_fd is None:
            raise LedgerError("ledger is closed" if self._fd is None else "ledger was opened read-only")
        with flocked(self._lock_fd):
            yield

    def _require_fd(self) -> int:
        if self._fd is None:
            raise LedgerError("ledger is closed")
        return self._fd

    # ------------------------------------------------------------ head tracking

    def _refresh(self) -> None:
        """Catch up with what other processes appended; a writer (holding the lock) recovers a torn tail."""
        fd = self._require_fd()
        size = os.fstat(fd).st_size
        if size == self._size and not self._stale:
            return
        if size < self._size or self._stale:
            self._size, self._head = 0, (0, GENESIS_HASH)
            self._started, self._started_to = {}, 0
        found = last_line(fd, self._size, size)
        if found is not None:
            self._adopt_head(*found)
        self._stale = False
        if self._size < size and not self.readonly:
            self._recover(size)

    def _adopt_head(self, offset: int, line: bytes) -> None:
        fields = chain_fields(line)
        if fields is None or hashlib.sha256(line[:-HASH_SUFFIX_LEN] + b"}").hexdigest().encode() != fields[2]:
            seq = count_lines(self.path, offset) + 1
            raise LedgerCorruptError(
                seq, f"last complete line (byte {offset}) is not an intact ledger record; run bin/verify"
            )
        seq, _, digest = fields
        if seq <= self._head[0]:
            raise LedgerCorruptError(seq, f"head went back from seq {self._head[0]} to {seq}; run bin/verify")
        self._head, self._size = (seq, digest.decode()), offset + len(line) + 1

    def _recover(self, size: int) -> None:
        """Quarantine the torn bytes after the last complete line and record LedgerRecovered. Caller holds the lock."""
        fd = self._require_fd()
        try:
            quarantine_tail(self.path, fd, self._size, size, self._head[0] + 1)
        except OSError as exc:
            self._stale = True
            raise LedgerWriteError(
                exc.errno, f"torn tail at byte {self._size} could not be quarantined: {exc}"
            ) from exc
        self._finish_pending()

    def _finish_pending(self) -> None:
        """Record the LedgerRecovered event of every quarantine whose event a crash kept from the ledger. Caller holds the lock.

        A marker's event belongs at the seq stored in it: if the ledger already holds a LedgerRecovered
        with the same content hash there, the crash came after the append and only the marker is left.
        """
        for marker, seq, data in pending(self.path):
            if seq <= self._head[0]:
                recorded = next(read_events(self.path, seq - 1, seq), None)
                if not (isinstance(recorded, LedgerRecovered) and recorded.data.sha256 == data.sha256):
                    raise LedgerCorruptError(
                        seq, f"{marker.name} expects its LedgerRecovered at seq {seq}; run bin/verify"
                    )
            else:
                event = LedgerRecovered(run_id=None, data=data)
                self._write([event], check_batch([event]), expected_seq=seq - 1)
            clear_pending(marker)

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last complete event; (0, 64 zeros) for an empty ledger."""
        if self.readonly:
            self._refresh()
            return self._head
        with self._locked():
            self._refresh()
            return self._head

    # ------------------------------------------------------------ append

    def append(self, events: Iterable[Envelope], *, expected_seq: int | None = None) -> list[Recorded]:
        """Record events in order, durable (one fdatasync for the batch) when this returns.

        Envelopes are checked before the lock is taken and payloads while the batch is encoded;
        a bad event rejects the whole batch with nothing written. expected_seq is the head seq the
        caller believes is current: on a mismatch WrongExpectedSeqError is raised and nothing is written.
        """
        batch = list(events)
        specs = check_batch(batch)
        starts = [e.run_id for e in batch if isinstance(e, RunStarted) and e.run_id]
        with self._locked():
            self._refresh()
            if starts:
                self._refuse_taken(starts)
            return self._write(batch, specs, expected_seq=expected_seq)

    def _refuse_taken(self, run_ids: list[str]) -> None:
        """Raise RunIdTakenError when one of run_ids already has a RunStarted (or appears twice). Caller holds the lock.

        The started run ids are read incrementally (a byte search for RunStarted lines), so a long-lived
        writer pays only for the lines appended since it last looked.
        """
        self._started.update((r, s) for s, r in run_starts(self._require_fd(), self._started_to, self._size))
        self._started_to = self._size
        seen: set[str] = set()
        for run_id in run_ids:
            if run_id in self._started or run_id in seen:
                raise RunIdTakenError(run_id, self._started.get(run_id))
            seen.add(run_id)

    def _write(self, batch: list[Envelope], specs: list[Spec], *, expected_seq: int | None) -> list[Recorded]:
        seq, prev = self._head
        if expected_seq is not None and expected_seq != seq:
            raise WrongExpectedSeqError(expected_seq, seq)
        if not batch:
            return []
        payload, hashes = encode_batch(batch, specs, seq, prev)
        self._write_durably(payload)
        self._head = (seq + len(batch), hashes[-1])
        return [Recorded(s, h, e) for s, h, e in zip(range(seq + 1, seq + 1 + len(batch)), hashes, batch)]

    def _write_durably(self, payload: bytearray) -> None:
        fd = self._require_fd()
        try:
            write_all(fd, payload)
            os.fdatasync(fd)
        except OSError as exc:
            self._rollback(fd)
            raise LedgerWriteError(exc.errno, f"append failed, nothing recorded: {exc.strerror or exc}") from exc
        self._size += len(payload)

    def _rollback(self, fd: int) -> None:
        """Cut the file back to the last acknowledged byte after a failed write."""
        try:
            os.ftruncate(fd, self._size)
            os.fdatasync(fd)
        except OSError:
            self._stale = True  # whatever is left past the last newline is quarantined on the next refresh

    # ------------------------------------------------------------ read and verify

    def read(self, after: int = 0, until: int | None = None) -> Iterator[Event]:
        """Yield events with after < seq <= until in seq order, upcast to current versions."""
        return read_events(self.path, after, until)

    def verify(self, *, deep: bool = False) -> VerifyReport:
        """Re-hash the chain; name the first bad seq and what is wrong with it."""
        return verify_file(self.path, deep=deep)

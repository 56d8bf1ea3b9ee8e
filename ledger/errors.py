"""Errors raised by the ledger."""

from __future__ import annotations

from schemas.errors import LedgerlineError


class LedgerError(LedgerlineError):
    """Raised when the ledger cannot do what was asked."""


class LedgerCorruptError(LedgerError, ValueError):
    """Raised when a line other than a torn tail fails to parse, hash or chain."""

    def __init__(self, seq: int | None, problem: str) -> None:
        super().__init__(f"ledger corrupt at seq {seq}: {problem}" if seq else f"ledger corrupt: {problem}")
        self.seq = seq
        self.problem = problem


class WrongExpectedSeqError(LedgerError):
    """Raised when append(expected_seq=...) does not match the head seq; nothing was written."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected head seq {expected}, ledger is at {actual}")
        self.expected = expected
        self.actual = actual


#: Deprecated: the old name of WrongExpectedSeqError, kept importable for one release and removed in the next.
WrongExpectedSeq = WrongExpectedSeqError


class RunIdTakenError(LedgerError, ValueError):
    """Raised when a RunStarted names a run id the ledger already holds a RunStarted for; nothing was written."""

    def __init__(self, run_id: str, seq: int | None) -> None:
        where = f" (RunStarted at seq {seq})" if seq else " (twice in one batch)"
        super().__init__(f"run id {run_id} is already taken{where}; choose another --run-id or leave it out")
        self.run_id = run_id
        self.seq = seq


class LedgerWriteError(LedgerError, OSError):
    """Raised when the bytes could not be written or synced; nothing was acknowledged."""


class EventRejectedError(LedgerError, ValueError):
    """Raised when an event cannot be recorded (invalid model, too large, not encodable); nothing was written."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class UnknownEventError(LedgerError, ValueError):
    """Raised when a line names an event type or version this code cannot read or upcast."""


class EvidenceError(LedgerError):
    """A checkpoint or proof that does not hold: a bad signature, a root the ledger does not have, a fork (exit 1)."""


class ExportError(LedgerError):
    """An evidence bundle that cannot be made as asked: no such run, no checkpoint covering it (exit 2)."""

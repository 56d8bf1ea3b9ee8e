"""The only code that reads or writes audit.jsonl: append, read, verify, recover, upcast."""

from __future__ import annotations

from ledger.errors import (
    EventRejectedError,
    LedgerCorruptError,
    LedgerError,
    LedgerWriteError,
    UnknownEventError,
    WrongExpectedSeq,
)
from ledger.store import LEDGER_NAME, Ledger, Recorded, VerifyReport, resolve_path, verify_file

__all__ = [
    "LEDGER_NAME",
    "EventRejectedError",
    "Ledger",
    "LedgerCorruptError",
    "LedgerError",
    "LedgerWriteError",
    "Recorded",
    "UnknownEventError",
    "VerifyReport",
    "WrongExpectedSeq",
    "resolve_path",
    "verify_file",
]

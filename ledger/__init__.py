"""The only code that reads or writes audit.jsonl: append, read, verify, recover, upcast."""

from __future__ import annotations

from ledger.codec import MAX_LINE_BYTES
from ledger.errors import (
    EventRejectedError,
    LedgerCorruptError,
    LedgerError,
    LedgerWriteError,
    UnknownEventError,
    WrongExpectedSeq,
)
from ledger.store import LEDGER_NAME, Ledger, Recorded, resolve_path
from ledger.verify import VerifyReport, verify_file

__all__ = [
    "LEDGER_NAME",
    "MAX_LINE_BYTES",
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

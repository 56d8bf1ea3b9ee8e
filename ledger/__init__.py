"""The only code that reads or writes audit.jsonl: append, read, verify, recover, upcast; and what read models need."""

from __future__ import annotations

from ledger.chain import seq_and_hash
from ledger.codec import MAX_LINE_BYTES, canonical, decode
from ledger.errors import (
    EventRejectedError,
    LedgerCorruptError,
    LedgerError,
    LedgerWriteError,
    RunIdTakenError,
    UnknownEventError,
    WrongExpectedSeq,
    WrongExpectedSeqError,
)
from ledger.fsio import flocked, fsync_dir, lock_file, write_all, write_atomic, write_bytes_atomic, write_file
from ledger.home import (
    ARTIFACTS_DIR,
    CHECKPOINTS_DIR,
    LATEST_NAME,
    LEDGER_NAME,
    LOCK_NAME,
    MLFLOW_ARTIFACTS,
    MLFLOW_DB,
    MLFLOW_LOCK,
    OPENLINEAGE_HTTP_STATE,
    OPENLINEAGE_NAME,
    OPENLINEAGE_POSITION_SUFFIX,
    PROJECTION_NAME,
    QUARANTINE_DIR,
    TREE_STATE_NAME,
    artifacts_dir,
    ledger_path,
    projection_path,
    quarantine_dir,
)
from ledger.lines import iter_chunks, iter_lines
from ledger.reader import LinePosition, decode_at, head_at, line_at, line_hash, lines_after, read_events, snapshot_end
from ledger.store import Ledger, Recorded, resolve_path
from ledger.upcasters import upcast
from ledger.verify import VerifyReport, verify_file

__all__ = [
    "ARTIFACTS_DIR",
    "CHECKPOINTS_DIR",
    "LATEST_NAME",
    "LEDGER_NAME",
    "LOCK_NAME",
    "MAX_LINE_BYTES",
    "MLFLOW_ARTIFACTS",
    "MLFLOW_DB",
    "MLFLOW_LOCK",
    "OPENLINEAGE_HTTP_STATE",
    "OPENLINEAGE_NAME",
    "OPENLINEAGE_POSITION_SUFFIX",
    "PROJECTION_NAME",
    "QUARANTINE_DIR",
    "TREE_STATE_NAME",
    "EventRejectedError",
    "Ledger",
    "LedgerCorruptError",
    "LedgerError",
    "LedgerWriteError",
    "LinePosition",
    "Recorded",
    "RunIdTakenError",
    "UnknownEventError",
    "VerifyReport",
    "WrongExpectedSeq",
    "WrongExpectedSeqError",
    "artifacts_dir",
    "canonical",
    "decode",
    "decode_at",
    "flocked",
    "fsync_dir",
    "head_at",
    "iter_chunks",
    "iter_lines",
    "ledger_path",
    "line_at",
    "line_hash",
    "lines_after",
    "lock_file",
    "projection_path",
    "quarantine_dir",
    "read_events",
    "resolve_path",
    "seq_and_hash",
    "snapshot_end",
    "upcast",
    "verify_file",
    "write_all",
    "write_atomic",
    "write_bytes_atomic",
    "write_file",
]

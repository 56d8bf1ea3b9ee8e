"""The one path from ledger lines to projection rows: stage them with an explicit schema, check, insert typed rows."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from schemas.events import CURRENT_VERSIONS
from projectors.duckdb_schema import EventTable, event_tables, merged_payload, staging_columns
from projectors.duckdb_source import Checkpoint, read_range, write_bytes, write_normalized
from projectors.errors import LedgerUnreadableError

TABLES: list[EventTable] = event_tables()
STAGING = "staging"
_READ_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException)


class _OldVersions(Exception):
    """Internal: staged lines include events older than their type's current version (upcast and retry)."""


def stage(con: duckdb.DuckDBPyConnection, ledger: Path, start: int, until: Checkpoint, *, direct: bool = False) -> int:
    """Load the ledger lines [start, until.offset) (seqs up to until.seq) into the TEMP staging table; return how many.

    Runs outside any transaction. direct reads the ledger file itself (the fast rebuild path, start
    must be 0); a torn tail or a line being appended meanwhile falls back to a copy of the complete lines.
    """
    first_seq = _first_seq(con, direct)
    if until.seq < first_seq:
        return 0
    if direct:
        try:
            return _read(con, ledger, first_seq, until)
        except (*_READ_ERRORS, _OldVersions, LedgerUnreadableError):
            pass
    with tempfile.TemporaryDirectory(prefix="ledgerline-") as tmp:
        copy = Path(tmp) / "lines.jsonl"
        write_bytes(read_range(ledger, start, until.offset), copy)
        try:
            return _read(con, copy, first_seq, until)
        except _OldVersions:
            write_normalized(ledger, start, until.offset, copy)
        try:
            return _read(con, copy, first_seq, until)
        except _OldVersions as exc:
            raise LedgerUnreadableError(f"cannot read {exc}: unknown event type or version") from exc


def _first_seq(con: duckdb.DuckDBPyConnection, direct: bool) -> int:
    if direct:
        return 1
    row = con.execute("SELECT seq FROM checkpoint").fetchone()
    return 1 if row is None else int(row[0]) + 1


def _read(con: duckdb.DuckDBPyConnection, source: Path, first_seq: int, until: Checkpoint) -> int:
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {STAGING} AS SELECT * FROM read_ndjson($path, columns = $columns, "
            "format = 'newline_delimited', maximum_object_size = 2097152) WHERE seq <= $last",
            {"path": str(source), "columns": staging_columns(TABLES), "last": until.seq},
        )
    except _READ_ERRORS as exc:
        raise LedgerUnreadableError(f"cannot read ledger lines {first_seq}..{until.seq}: {str(exc).splitlines()[0]}; run bin/verify") from exc
    _check(con, first_seq, until)
    return until.seq - first_seq + 1


def _check(con: duckdb.DuckDBPyConnection, first_seq: int, until: Checkpoint) -> None:
    for kind, version in con.execute(f"SELECT DISTINCT type, v FROM {STAGING}").fetchall():
        if CURRENT_VERSIONS.get(kind) != version:
            raise _OldVersions(f"{kind} v{version}")
    found = con.execute(f"SELECT min(seq), max(seq), count(*), count(DISTINCT seq) FROM {STAGING}").fetchone()
    n = until.seq - first_seq + 1
    if tuple(found or ()) != (first_seq, until.seq, n, n):
        raise LedgerUnreadableError(f"ledger lines {first_seq}..{until.seq} read as (min, max, rows, distinct) {found}; run bin/verify")
    row = con.execute(f"SELECT hash FROM {STAGING} WHERE seq = ?", [until.seq]).fetchone()
    if row is None or row[0] != until.hash:
        raise LedgerUnreadableError(f"ledger line {until.seq} changed while it was read; try again")


def write_rows(con: duckdb.DuckDBPyConnection, until: Checkpoint, staged: int) -> None:
    """Insert the staged rows into the typed tables and move the checkpoint (call inside one transaction)."""
    if staged:
        present = {row[0] for row in con.execute(f"SELECT DISTINCT type FROM {STAGING}").fetchall()}
        data_type = merged_payload(TABLES)
        for table in TABLES:
            if table.type_name in present:
                con.execute(table.insert_from(STAGING, data_type))
    con.execute("DELETE FROM checkpoint")
    con.execute("INSERT INTO checkpoint VALUES (?, ?, ?, ?)", [until.seq, until.hash, until.offset, until.line_offset])


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Free the staging table."""
    con.execute(f"DROP TABLE IF EXISTS {STAGING}")

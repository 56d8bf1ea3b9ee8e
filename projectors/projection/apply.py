"""The one path from ledger lines to projection rows: stage envelope and payload text, check, insert typed rows per type."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from projectors.errors import LedgerUnreadableError
from projectors.projection.schema import EventTable, event_tables, staging_columns
from projectors.projection.source import Checkpoint, read_range, write_bytes, write_normalized
from projectors.readmodel import Progress, quiet, tick
from schemas.events import CURRENT_VERSIONS

TABLES: list[EventTable] = event_tables()
STAGING = "staging"
_READ_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException)


class _OldVersions(Exception):
    """Internal: staged lines include events older than their type's current version (upcast and retry)."""


@dataclasses.dataclass(frozen=True)
class Staged:
    """What the staging table holds: how many events, of which types."""

    count: int = 0
    types: frozenset[str] = frozenset()


def stage(
    con: duckdb.DuckDBPyConnection, ledger: Path, since: Checkpoint, until: Checkpoint, *, direct: bool = False
) -> Staged:
    """Load the ledger lines after since, up to until, into the TEMP staging table with DuckDB's reader.

    Runs outside any transaction. direct reads the ledger file itself (the fast rebuild path, since
    must be the start); a torn tail or a line being appended meanwhile falls back to a copy of the complete lines.
    """
    start, first_seq = since.offset, since.seq + 1
    if until.seq < first_seq:
        return Staged()
    old_versions = False
    if direct:
        try:
            return _read(con, ledger, first_seq, until)
        except _OldVersions:
            old_versions = True  # a copy of the same lines would hold the same versions: upcast straight away
        except (*_READ_ERRORS, LedgerUnreadableError):
            pass
    with tempfile.TemporaryDirectory(prefix="ledgerline-") as tmp:
        copy = Path(tmp) / "lines.jsonl"
        if not old_versions:
            write_bytes(read_range(ledger, start, until.offset), copy)
            try:
                return _read(con, copy, first_seq, until)
            except _OldVersions:
                pass
        write_normalized(ledger, start, until.offset, copy)
        try:
            return _read(con, copy, first_seq, until)
        except _OldVersions as exc:
            raise LedgerUnreadableError(f"cannot read {exc}: unknown event type or version") from exc


def _read(con: duckdb.DuckDBPyConnection, source: Path, first_seq: int, until: Checkpoint) -> Staged:
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {STAGING} AS SELECT * FROM read_ndjson($path, columns = $columns, "
            "format = 'newline_delimited', maximum_object_size = 2097152) WHERE seq <= $last",
            {"path": str(source), "columns": staging_columns(), "last": until.seq},
        )
    except _READ_ERRORS as exc:
        raise LedgerUnreadableError(
            f"cannot read ledger lines {first_seq}..{until.seq}: {str(exc).splitlines()[0]}; run bin/verify"
        ) from exc
    return _check(con, first_seq, until)


def _check(con: duckdb.DuckDBPyConnection, first_seq: int, until: Checkpoint) -> Staged:
    """One scan: known types at current versions, gapless seqs first_seq..until.seq, the last line's hash."""
    row = con.execute(
        f"SELECT list(DISTINCT [type, v::VARCHAR]), min(seq), max(seq), count(*), count(DISTINCT seq), "
        f"any_value(hash) FILTER (WHERE seq = $last) FROM {STAGING}",
        {"last": until.seq},
    ).fetchone()
    assert row is not None
    kinds, *found, last_hash = row
    for kind, version in kinds or []:
        if str(CURRENT_VERSIONS.get(kind)) != version:
            raise _OldVersions(f"{kind} v{version}")
    return Staged(_gapless(first_seq, until, tuple(found), last_hash), frozenset(kind for kind, _ in kinds or []))


def _gapless(first_seq: int, until: Checkpoint, found: tuple[Any, ...], last_hash: str | None) -> int:
    """The number of events, when seqs (min, max, rows, distinct) are exactly first_seq..until.seq and the last has until.hash."""
    n = until.seq - first_seq + 1
    if found != (first_seq, until.seq, n, n):
        raise LedgerUnreadableError(
            f"ledger lines {first_seq}..{until.seq} read as (min, max, rows, distinct) {found}; run bin/verify"
        )
    if last_hash != until.hash:
        raise LedgerUnreadableError(f"ledger line {until.seq} changed while it was read; try again")
    return n


def write_rows(
    con: duckdb.DuckDBPyConnection,
    until: Checkpoint,
    staged: Staged,
    digests: Callable[[], str] | None = None,
    progress: Progress = quiet,
) -> None:
    """Insert the staged rows into the typed tables and move the checkpoint (call inside one transaction).

    digests, called after the inserts, gives the checkpoint's table digests (projection.digest), so they are
    written in the same transaction as the rows they describe. progress ticks once per table (and the digests).
    """
    tables = [table for table in TABLES if table.type_name in staged.types]
    steps = len(tables) + (digests is not None)
    for done, table in enumerate(tables):
        progress(tick("duckdb", "writing tables", done, steps, "steps"))
        con.execute(table.insert_from(STAGING))
    progress(tick("duckdb", "writing tables", len(tables), steps, "steps"))
    con.execute("DELETE FROM checkpoint")
    con.execute(
        "INSERT INTO checkpoint VALUES (?, ?, ?, ?, ?)",
        [until.seq, until.hash, until.offset, until.line_offset, digests() if digests else None],
    )
    progress(tick("duckdb", "writing tables", steps, steps, "steps"))


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Free the staging table."""
    con.execute(f"DROP TABLE IF EXISTS {STAGING}")

"""Run one user SQL statement read-only against a projection that is first brought up to date."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb

from ledger import LEDGER_NAME
from projectors.duckdb import catch_up, checkpoint, connect
from projectors.duckdb_source import check_checkpoint, complete_end
from projectors.errors import ProjectionMissingError, QueryError


@dataclasses.dataclass(frozen=True)
class QueryResult:
    """Column names and types, and the rows of a query."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


def parse_one(sql: str) -> None:
    """Refuse SQL that does not parse as exactly one statement (before anything is opened or written)."""
    try:
        statements = duckdb.connect().extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(first_line(exc)) from exc
    if len(statements) != 1:
        raise QueryError(f"expected one SQL statement, got {len(statements)}")


def first_line(exc: BaseException) -> str:
    """A DuckDB error message reduced to its first line."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def is_stale(home: Path) -> bool:
    """True when the ledger has complete lines the projection has not applied (or there is no projection).

    Raises CheckpointMismatchError when the ledger no longer holds the checkpoint's line.
    """
    cp = checkpoint(home)
    if cp is None:
        return True
    check_checkpoint(home / LEDGER_NAME, cp)
    return complete_end(home / LEDGER_NAME, cp.offset) > cp.offset


def query(home: Path, sql: str) -> QueryResult:
    """Parse, bind-check, catch the projection up if stale, then run sql on a read-only connection."""
    home = Path(home)
    parse_one(sql)
    if not (home / LEDGER_NAME).is_file():
        raise ProjectionMissingError(f"no ledger at {home / LEDGER_NAME}")
    if is_stale(home):
        if checkpoint(home) is not None:
            _run(home, f"EXPLAIN {sql}")
        catch_up(home)
    return _run(home, sql)


def _run(home: Path, sql: str) -> QueryResult:
    con = connect(home, read_only=True)
    try:
        rel = con.execute(sql)
        columns = [d[0] for d in rel.description or []]
        types = [str(d[1]) for d in rel.description or []]
        return QueryResult(columns, types, rel.fetchall())
    except duckdb.Error as exc:
        raise QueryError(first_line(exc)) from exc
    finally:
        con.close()

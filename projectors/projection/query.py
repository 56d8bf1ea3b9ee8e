"""Run one user SQL statement read-only against a projection that is first brought up to date."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb

from ledger import LEDGER_NAME
from projectors.errors import ProjectionMissingError, QueryError
from projectors.projection.connection import connect, first_line, host
from projectors.projection.source import check_checkpoint, complete_end
from projectors.projection.store import catch_up, checkpoint

READ_ONLY = (
    "the projection is derived and read-only: it is rebuilt from the ledger, so a change made here would "
    "be lost; record facts through the ledger (bin/run-pipeline, bin/tag) and query them here"
)


@dataclasses.dataclass(frozen=True)
class QueryResult:
    """Column names and types, and the rows of a query."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


def parse_one(sql: str) -> None:
    """Refuse SQL that does not parse as exactly one statement (before anything is opened or written)."""
    parser = host(1).cursor()  # a cursor of the shared in-memory instance: a new one costs ~20 ms
    try:
        statements = parser.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(first_line(exc)) from exc
    finally:
        parser.close()
    if len(statements) != 1:
        raise QueryError(f"expected one SQL statement, got {len(statements)}")


def query(home: Path, sql: str) -> QueryResult:
    """Parse, bind-check, catch the projection up if stale, then run sql on a read-only connection."""
    home = Path(home)
    parse_one(sql)
    ledger = home / LEDGER_NAME
    if not ledger.is_file():
        raise ProjectionMissingError(f"no ledger at {ledger}")
    cp = checkpoint(home)
    if cp is not None:
        check_checkpoint(ledger, cp)  # a rewritten ledger is refused before anything runs
    if cp is None or complete_end(ledger, cp.offset) > cp.offset:  # stale: complete lines not yet applied
        if cp is not None:
            _run(home, f"EXPLAIN {sql}")  # a statement that cannot bind fails before the catch-up writes
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
        if "read-only mode" in str(exc):
            raise QueryError(READ_ONLY) from exc
        raise QueryError(first_line(exc)) from exc
    finally:
        con.close()

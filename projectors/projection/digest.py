"""Row digests of the projection's typed tables, kept in the checkpoint row, so an edited or damaged table is noticed.

A table's digest is the XOR of DuckDB's hash of each of its rows (`bit_xor(hash(t))`, computed by SQL). The tables
only ever gain rows, so a catch-up folds in the hashes of the rows after the old checkpoint and costs what it
inserts; a full recomputation (catch-up's integrity check, bin/verify) is one scan per table.
"""

from __future__ import annotations

import json

import duckdb

from projectors.projection.apply import TABLES
from projectors.projection.schema import SCHEMA, quote

_ENGINE_KEY = "duckdb"  # hash() is DuckDB's: digests written by another DuckDB version are not compared


def _sums(con: duckdb.DuckDBPyConnection, tables: list[str], after_seq: int) -> dict[str, int]:
    if not tables:
        return {}
    parts = [f"(SELECT bit_xor(hash(t)) FROM {SCHEMA}.{quote(name)} t WHERE t.seq > $after)" for name in tables]
    row = con.execute(f"SELECT {', '.join(parts)}", {"after": after_seq}).fetchone() or ()
    return {name: int(value or 0) for name, value in zip(tables, row, strict=True)}


def all_digests(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Every typed table's digest, recomputed from its rows."""
    return _sums(con, [t.table for t in TABLES], -1)


def advance(
    con: duckdb.DuckDBPyConnection, previous: dict[str, int], after_seq: int, types: frozenset[str]
) -> dict[str, int]:
    """The digests after inserting the rows past after_seq of the given event types (others are unchanged)."""
    out = {t.table: int(previous.get(t.table, 0)) for t in TABLES}
    for name, value in _sums(con, [t.table for t in TABLES if t.type_name in types], after_seq).items():
        out[name] ^= value
    return out


def encode(digests: dict[str, int]) -> str:
    """The checkpoint column's text: the digests and the DuckDB version whose hash() made them."""
    return json.dumps({_ENGINE_KEY: duckdb.__version__, "tables": digests}, sort_keys=True)


def decode(text: str | None) -> dict[str, int] | None:
    """The digests stored by encode; None when absent or written by another DuckDB version (not comparable)."""
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get(_ENGINE_KEY) != duckdb.__version__:
        return None
    return {str(k): int(v) for k, v in doc.get("tables", {}).items()}


def missing_objects(con: duckdb.DuckDBPyConnection, views: list[str]) -> list[str]:
    """The projection's tables and views that are not there (one catalog query)."""
    found = {
        (schema, name)
        for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal"
        ).fetchall()
    }
    wanted = [(SCHEMA, t.table, "table") for t in TABLES] + [("main", n, "table") for n in ("checkpoint", "meta")]
    wanted += [("main", v, "view") for v in views]
    return [
        f"{kind} {name if schema == 'main' else f'{schema}.{name}'}"
        for schema, name, kind in wanted
        if (schema, name) not in found
    ]


def problems(con: duckdb.DuckDBPyConnection, stored: str | None, views: list[str], *, full: bool = True) -> list[str]:
    """What is wrong with an open projection: missing tables or views, tables whose rows no longer match their digest.

    Without full, only the catalog is checked (no table scan).
    """
    missing = missing_objects(con, views)
    if any(name.startswith("table ") for name in missing):
        return [f"{name} missing" for name in missing]
    expected = decode(stored)
    if expected is None or not full:
        return [f"{name} missing" for name in missing]
    actual = all_digests(con)
    return [f"{name} missing" for name in missing] + [
        f"table {SCHEMA}.{name} was edited (its rows no longer match the checkpoint's digest)"
        for name, value in actual.items()
        if expected.get(name, 0) != value
    ]

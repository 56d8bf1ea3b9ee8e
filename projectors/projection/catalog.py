"""The projection's catalog: the typed tables, the checkpoint and meta tables, the views, and their digests.

A projection whose schema digest differs from this catalog's is rebuilt; one whose views digest differs gets its
views recreated.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from importlib import resources

import duckdb

from projectors.projection.apply import TABLES
from projectors.projection.schema import SCHEMA


@functools.cache
def view_sql() -> tuple[tuple[str, str], ...]:
    """(view name, SQL) of every views/*.sql file, sorted by name (read once per process)."""
    files = [f for f in resources.files("views").iterdir() if f.name.endswith(".sql")]
    return tuple(sorted((f.name[:-4], f.read_text()) for f in files))


def view_names() -> list[str]:
    """Names of the SQL views users query."""
    return [name for name, _ in view_sql()]


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


CHECKPOINT_DDL = (
    'CREATE TABLE checkpoint (seq BIGINT, hash VARCHAR, "offset" BIGINT, line_offset BIGINT, digests VARCHAR)'
)
SCHEMA_DIGEST = _digest([t.ddl() for t in TABLES] + [CHECKPOINT_DDL])


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger schema's typed tables, the checkpoint and the meta table (empty)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for table in TABLES:
        con.execute(table.ddl())
    con.execute(CHECKPOINT_DDL)
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_digest', ?), ('views_digest', '')", [SCHEMA_DIGEST])


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create every view, each after the views it selects from."""
    for _, sql in _dependency_order(view_sql()):
        con.execute(sql)
    con.execute("UPDATE meta SET value = ? WHERE key = 'views_digest'", [views_digest()])


def _dependency_order(views: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Views sorted so that one naming another after FROM/JOIN comes after it."""
    names = {name for name, _ in views}
    deps = {name: set(_FROM_RE.findall(sql)) & names - {name} for name, sql in views}
    done: list[tuple[str, str]] = []
    while len(done) < len(views):
        ready = [(n, s) for n, s in views if (n, s) not in done and deps[n] <= {d for d, _ in done}]
        if not ready:
            raise ValueError(f"views depend on each other in a cycle: {sorted(names - {d for d, _ in done})}")
        done += ready
    return done


_FROM_RE = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_]\w*)\b(?!\.)", re.IGNORECASE)


@functools.cache
def views_digest() -> str:
    return _digest([sql for _, sql in view_sql()])

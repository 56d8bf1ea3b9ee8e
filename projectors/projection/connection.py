"""Opening projections.duckdb: a bounded wait for another process's lock, short sessions on a shared host.

The file is ATTACHed to an in-memory instance rather than opened with duckdb.connect(path), so that after a
blue/green swap a session always opens what is at the path now.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ledger import PROJECTION_NAME
from projectors.errors import ProjectionBusyError, ProjectionLockedError, ProjectionMissingError

#: how long a command waits for another process's lock on projections.duckdb (LEDGERLINE_LOCK_WAIT_S overrides)
LOCK_WAIT_S = 5.0


def lock_wait_s() -> float:
    """The bounded wait for the projection's lock, in seconds."""
    try:
        return max(0.0, float(os.environ.get("LEDGERLINE_LOCK_WAIT_S", LOCK_WAIT_S)))
    except ValueError:
        return LOCK_WAIT_S


def projection_path(home: Path) -> Path:
    """Where the projection of the ledger under home lives."""
    return Path(home) / PROJECTION_NAME


def connect(home: Path, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the projection, waiting (up to 10 s) while another process holds its write lock."""
    path = projection_path(home)
    if not path.exists():
        raise ProjectionMissingError(f"no projection at {path}; build it with: bin/replay --to duckdb")
    return _open(path, read_only)


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A private in-memory instance with the file ATTACHed as the default catalog.

    duckdb.connect(path) would reuse a process-wide instance of the same path, which after a
    blue/green swap is still the old file; attaching from a fresh instance always opens what is
    at the path now.
    """
    con = duckdb.connect(":memory:")
    try:
        _attach(con, path, read_only, "proj")
    except BaseException:
        con.close()
        raise
    return con


#: the on-disk format new projection files are written in: DuckDB 2.x defaults to a format (69) that the
#: widely deployed 1.x clients and CLIs refuse to open; v1.0.0 is read by every DuckDB from 1.0 on.
#: The option only matters when the file is created; an existing file keeps its format.
STORAGE_VERSION = "v1.0.0"


def _attach(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool, alias: str) -> None:
    """ATTACH path as alias and make it the default catalog, waiting while another process writes it."""
    wait = lock_wait_s()
    deadline = time.monotonic() + wait
    mode = " (READ_ONLY)" if read_only else f" (STORAGE_VERSION '{STORAGE_VERSION}')"
    while True:
        try:
            con.execute(f"ATTACH '{sql_str(path)}' AS {alias}{mode}")
            con.execute(f"USE {alias}")
            return
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise ProjectionBusyError(f"cannot open {path}: {first_line(exc)}") from exc
            if time.monotonic() > deadline:
                raise ProjectionLockedError(
                    f"{path.name} is locked by another process (another DuckDB client holding it open?) after waiting "
                    f"{wait:g} s; close that client and retry (to read it without blocking writers, see docs/views.md)"
                ) from exc
            time.sleep(0.05)
        except duckdb.Error as exc:
            raise ProjectionBusyError(f"cannot open {path}: {first_line(exc)}") from exc


def first_line(exc: BaseException) -> str:
    """A DuckDB error message reduced to its first line."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


#: Detaching checkpoints (DuckDB's default). Leaving commits in the WAL instead (checkpoint_on_detach
#: DISABLED) saved under 10% of a 1,000-event catch-up and cost every reader a WAL replay: measured, dropped.
_HOST_CONFIG = {"preserve_insertion_order": False}


@functools.cache
def host(threads: int) -> duckdb.DuckDBPyConnection:
    """An in-memory instance per process and thread count that short sessions attach files to (a new one costs ~40 ms).

    Row order in the tables carries no meaning (every reader orders by seq), so inserts may run in parallel.
    threads 0 is DuckDB's default (all cores), for rebuilds; catch-ups run single-threaded, which measured
    ~10% faster for 1,000 events: their statements are too small to split, and the split costs scheduling.
    """
    return duckdb.connect(":memory:", config={**_HOST_CONFIG, **({"threads": threads} if threads else {})})


_ALIASES = itertools.count()


@contextmanager
def session(path: Path, read_only: bool, threads: int = 0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short session on the file: a cursor of a shared host, or a private instance if the file is already open here."""
    alias = f"proj_{os.getpid()}_{next(_ALIASES)}"
    cur = host(threads).cursor()
    try:
        _attach(cur, path, read_only, alias)
    except ProjectionBusyError as exc:
        cur.close()
        if "attached" not in str(exc):
            raise
        con = _open(path, read_only)
        try:
            yield con
        finally:
            con.close()
        return
    try:
        yield cur
    finally:
        _detach(cur, alias)


def _detach(cur: duckdb.DuckDBPyConnection, alias: str) -> None:
    try:
        cur.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction open: the normal case
    cur.execute("USE memory")
    cur.execute(f"DETACH {alias}")
    cur.close()

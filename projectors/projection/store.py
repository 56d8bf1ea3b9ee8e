"""Ledger -> projections.duckdb: typed tables per event type, a (seq, hash) checkpoint, blue/green rebuild, as_of."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from ledger import LEDGER_NAME, PROJECTION_NAME, fsync_dir
from projectors.errors import ProjectionLockedError, ProjectionMissingError
from projectors.projection import digest
from projectors.projection.apply import TABLES, Staged, drop_staging, stage, write_rows
from projectors.projection.catalog import SCHEMA_DIGEST, create_tables, create_views, view_names, views_digest
from projectors.projection.connection import connect, first_line, projection_path, session, sql_str
from projectors.projection.schema import SCHEMA, quote
from projectors.projection.source import Checkpoint, check_checkpoint, complete_end, head_at
from projectors.readmodel import Progress, Step, quiet

#: the consistent copy of the projection for other DuckDB clients (see refresh_snapshot)
SNAPSHOT_NAME = "projections.snapshot.duckdb"

__all__ = [
    "PROJECTION_NAME",
    "Checkpoint",
    "as_of",
    "catch_up",
    "checkpoint",
    "connect",
    "first_line",
    "projection_path",
    "read_checkpoint",
    "deep_compare",
    "integrity",
    "rebuild",
    "view_names",
]


def _ledger_path(home: Path) -> Path:
    path = Path(home) / LEDGER_NAME
    if not path.is_file():
        raise ProjectionMissingError(f"no ledger at {path}")
    return path


def read_checkpoint(con: duckdb.DuckDBPyConnection) -> Checkpoint:
    """The checkpoint stored in an open projection."""
    row = con.execute('SELECT seq, hash, "offset", line_offset FROM checkpoint').fetchone()
    return _checkpoint_of(*(row or (None,) * 4))


def _checkpoint_of(seq: int | None, digest: str | None, offset: int | None, line_offset: int | None) -> Checkpoint:
    if seq is None:
        return Checkpoint()
    return Checkpoint(int(seq), digest or "", int(offset or 0), int(line_offset or 0))  # as_of copies keep only seq


def checkpoint(home: Path) -> Checkpoint | None:
    """The projection's checkpoint, or None when there is no projection."""
    if not projection_path(home).exists():
        return None
    with session(projection_path(home), True, threads=1) as con:
        return read_checkpoint(con)


# ------------------------------------------------------------------ public operations


def rebuild(home: Path, *, progress: Progress = quiet) -> int:
    """Build a fresh projection beside the old one and atomically rename it over; return events applied."""
    home = Path(home)
    ledger = _ledger_path(home)
    until = head_at(ledger, complete_end(ledger))
    target = projection_path(home)
    scratch = target.with_name(f"{PROJECTION_NAME}.new-{os.getpid()}")
    _remove(scratch)
    progress(
        Step(
            f"duckdb: rebuilding from {until.seq:,} events into {scratch.name}", model="duckdb", done=0, total=until.seq
        )
    )
    try:
        staged = _build(ledger, until, scratch, progress)
        _swap(scratch, target)
        _stamp(target)
    finally:
        _remove(scratch)
    refresh_snapshot(home)
    progress(
        Step(
            f"duckdb: rebuilt {staged.count:,} events, checkpoint seq {until.seq}",
            model="duckdb",
            done=staged.count,
            total=staged.count,
        )
    )
    return staged.count


def _build(ledger: Path, until: Checkpoint, scratch: Path, progress: Progress = quiet) -> Staged:
    """A complete projection of the ledger up to until, written into the new file scratch."""
    with session(scratch, False) as con:
        staged = stage(con, ledger, Checkpoint(), until, direct=True)
        con.execute("BEGIN")
        create_tables(con)
        write_rows(con, until, staged, lambda: digest.encode(digest.advance(con, {}, -1, staged.types)), progress)
        create_views(con)
        con.execute("COMMIT")
        drop_staging(con)
        con.execute("CHECKPOINT")  # everything into the file itself: its WAL does not travel with the rename
    return staged


def integrity(home: Path) -> list[str]:
    """What is wrong with the projection (missing tables or views, a table whose rows do not match its digest), read-only.

    Cheap: one catalog query and one scan per table, compared with the digests the last catch-up wrote.
    """
    path = projection_path(home)
    if not path.exists():
        return []
    with session(path, True, threads=1) as con:
        cp, schema_digest, _, stored = _state(con)
        if schema_digest != SCHEMA_DIGEST:
            return []  # another catalog or an older file: its next catch-up rebuilds it
        return digest.problems(con, stored, view_names())


def deep_compare(home: Path, progress: Progress = quiet) -> list[str]:
    """Rebuild the projection up to its checkpoint into a temporary file and name every table that differs."""
    home = Path(home)
    path = projection_path(home)
    if not path.exists():
        return []
    with session(path, True, threads=1) as con:
        cp = read_checkpoint(con)
        if digest.missing_objects(con, view_names()):
            return digest.problems(con, None, view_names())
        actual = digest.all_digests(con)
    with tempfile.TemporaryDirectory(prefix=".verify-", dir=home) as tmp:
        scratch = Path(tmp) / PROJECTION_NAME
        _build(_ledger_path(home), cp, scratch, progress)
        with session(scratch, True, threads=1) as con:
            expected = digest.all_digests(con)
    return [
        f"table {SCHEMA}.{name} differs from a rebuild from the ledger at seq {cp.seq}"
        for name, value in expected.items()
        if actual.get(name) != value
    ]


def _swap(scratch: Path, target: Path) -> None:
    """Rename scratch over target (readers of the old file keep their inode) and make it durable."""
    fsync_dir(scratch)  # a file too: it only opens read-only and fsyncs
    _remove(target.with_name(target.name + ".wal"))
    os.replace(scratch, target)
    fsync_dir(target.parent)


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        if p.exists():
            p.unlink()


def catch_up(home: Path, *, progress: Progress = quiet) -> int:
    """Apply the ledger lines after the checkpoint (building the projection if absent); return events applied."""
    home = Path(home)
    ledger = _ledger_path(home)
    target = projection_path(home)
    if not target.exists():
        return rebuild(home, progress=progress)
    applied: int | None = None
    with session(target, False, threads=1) as con:
        cp, schema_digest, stored_views, stored = _state(con)
        check_checkpoint(ledger, cp)
        # the full digest scan only when the file changed since this product last closed it (an outside writer)
        full = not _stamp_matches(target)
        found = digest.problems(con, stored, view_names(), full=full) if schema_digest == SCHEMA_DIGEST else []
        damage = [p for p in found if not p.startswith("view ")]
        if schema_digest == SCHEMA_DIGEST and not damage:
            if found:  # a dropped view is recreated from views/*.sql, the tables are intact
                progress(Step(f"duckdb: {'; '.join(found)}; recreating the views", model="duckdb"))
            applied = _catch_up_open(con, ledger, cp, stored, bool(found) or stored_views != views_digest(), progress)
    if applied is not None:
        _stamp(target)
        if applied:
            refresh_snapshot(home)
        return applied
    if damage:  # the projection is derived: a damaged one is rebuilt from the ledger, never trusted
        progress(
            Step(
                f"duckdb: {target.name} is damaged ({'; '.join(damage)}); it is derived from the ledger: rebuilding it",
                model="duckdb",
            )
        )
    else:
        progress(Step("duckdb: the event catalog changed since the projection was built; rebuilding", model="duckdb"))
    return rebuild(home, progress=progress)


def snapshot_path(home: Path) -> Path:
    """Where the consistent copy other DuckDB clients may keep open lives: <home>/projections.snapshot.duckdb."""
    return Path(home) / SNAPSHOT_NAME


def refresh_snapshot(home: Path, *, create: bool = False) -> Path | None:
    """Copy the projection to the snapshot path (a temp file beside it, renamed over it); None when not refreshed.

    Refreshed only once it exists (or with create): `bin/replay --to duckdb --snapshot` makes the first one, and
    every catch-up or rebuild that changed the projection refreshes it. The copy is taken inside a read-only
    session, so no writer is mid-commit; a reader holding the old snapshot keeps its file (the rename gives the
    new one another inode) and never blocks the product. A projection locked by a writer is left for the next one.
    """
    home = Path(home)
    target, snap = projection_path(home), snapshot_path(home)
    if not target.exists() or not (create or snap.exists()):
        return None
    scratch = snap.with_name(f".{snap.name}.{os.getpid()}.tmp")
    try:
        with session(target, True, threads=1):
            if target.with_name(target.name + ".wal").exists():
                return None  # not checkpointed into the file: the copy would miss rows; the next catch-up copies
            shutil.copyfile(target, scratch)
        fsync_dir(scratch)
        os.replace(scratch, snap)
        fsync_dir(snap.parent)
    except ProjectionLockedError:
        return None
    finally:
        scratch.unlink(missing_ok=True)
    return snap


def _stamp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.stamp")


def _file_state(target: Path) -> str:
    st = target.stat()
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ino}"


def _stamp(target: Path) -> None:
    """Record the file's size, mtime and inode as this product left it (catch-up's cheap check trusts an unchanged file)."""
    try:
        _stamp_path(target).write_text(_file_state(target))
    except OSError:
        pass  # only an optimization: without it the next catch-up scans the digests


def _stamp_matches(target: Path) -> bool:
    try:
        return _stamp_path(target).read_text() == _file_state(target)
    except OSError:
        return False


def _state(con: duckdb.DuckDBPyConnection) -> tuple[Checkpoint, str | None, str | None, str | None]:
    """The checkpoint, the schema and views digests and the table digests, in one query (a statement costs ~1 ms).

    A projection missing its checkpoint or meta table (or an older one without digests) reports no schema digest,
    so it is rebuilt; its checkpoint is still read when it can be, for check_checkpoint.
    """
    try:
        row = con.execute(
            'SELECT c.seq, c.hash, c."offset", c.line_offset, '
            "(SELECT value FROM meta WHERE key = 'schema_digest'), (SELECT value FROM meta WHERE key = 'views_digest'), "
            "c.digests FROM (SELECT 1) LEFT JOIN checkpoint c ON true"
        ).fetchall()[0]
    except duckdb.CatalogException:
        try:
            return read_checkpoint(con), None, None, None
        except duckdb.Error:
            return Checkpoint(), None, None, None
    except duckdb.BinderException:
        return read_checkpoint(con), None, None, None
    return _checkpoint_of(*row[:4]), row[4], row[5], row[6]


def _catch_up_open(
    con: duckdb.DuckDBPyConnection,
    ledger: Path,
    cp: Checkpoint,
    stored: str | None,
    stale_views: bool,
    progress: Progress,
) -> int:
    end = complete_end(ledger, cp.offset)
    until = cp if end == cp.offset else head_at(ledger, end)  # cp's line was just checked: nothing new to parse
    if until.seq == cp.seq and not stale_views:
        return 0
    staged = stage(con, ledger, cp, until)
    previous = digest.decode(stored)
    con.execute("BEGIN")
    write_rows(
        con,
        until,
        staged,
        lambda: digest.encode(
            digest.advance(con, previous, cp.seq, staged.types) if previous is not None else digest.all_digests(con)
        ),
        progress,
    )
    if stale_views:
        create_views(con)
    con.execute("COMMIT")  # the staging table goes with the session's cursor
    if staged.count:
        progress(
            Step(
                f"duckdb: applied {staged.count:,} events, checkpoint seq {until.seq}",
                model="duckdb",
                done=staged.count,
                total=staged.count,
            )
        )
    return staged.count


def as_of(home: Path, seq: int) -> duckdb.DuckDBPyConnection:
    """An in-memory database with every table (and view) as it was right after seq."""
    home = Path(home)
    cp = checkpoint(home)
    if cp is None or cp.seq < seq:
        catch_up(home)
    mem = duckdb.connect()
    create_tables(mem)
    mem.execute(f"ATTACH '{sql_str(projection_path(home))}' AS src (READ_ONLY)")
    try:
        row = mem.execute("SELECT seq FROM src.checkpoint").fetchone()
        head = int(row[0]) if row is not None and row[0] is not None else 0
        for table in TABLES:
            name = f"{SCHEMA}.{quote(table.table)}"
            mem.execute(f"INSERT INTO {name} SELECT * FROM src.{name} WHERE seq <= ? ORDER BY seq", [seq])
    finally:
        mem.execute("DETACH src")
    mem.execute("INSERT INTO checkpoint VALUES (?, NULL, NULL, NULL, NULL)", [min(seq, head)])
    create_views(mem)
    return mem

"""Where the MLflow mirror's default store lives in a home folder, and its witness read straight from SQLite.

Nothing here imports mlflow: bin/verify reads the two witness tags of a SQLite store with sqlite3, read-only
(the store is a view this product wrote), and only a server URI needs the MLflow client. The one write is SQLite's
own recovery: a mirror killed mid-transaction leaves a hot journal, which a read-only open cannot roll back, so it is
rolled back first (as the next replay would), and the store reads as of its last committed request.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from ledger import MLFLOW_ARTIFACTS, MLFLOW_DB
from projectors.errors import MirrorStoreIncompleteError

WITNESS_EXPERIMENT = "ledgerline"
HEAD_SEQ_TAG, HEAD_HASH_TAG = "ledger.head_seq", "ledger.head_hash"
#: the witness's record of the registry aliases the ledger gives: {model: {alias: [version, ledger run id]}}
ALIASES_TAG = "ledger.aliases"
#: tables a complete MLflow store always has; one missing (or no alembic version) means creation was interrupted
REQUIRED_TABLES = ("alembic_version", "experiments", "experiment_tags", "runs", "metrics", "params", "tags")


def default_tracking_uri(home: Path) -> str:
    """The mirror's default store: sqlite:///<absolute home>/mlflow.db."""
    return f"sqlite:///{(Path(home).resolve() / MLFLOW_DB)}"


def default_store_exists(home: Path) -> bool:
    """Whether the default store's SQLite file is in the home."""
    return (Path(home) / MLFLOW_DB).is_file()


def artifacts_folder(home: Path) -> Path:
    """The default store's artifact folder."""
    return Path(home) / MLFLOW_ARTIFACTS


def sqlite_path(uri: str) -> Path | None:
    """The file of a sqlite:/// tracking URI; None for any other scheme (a server, a database server)."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    path = unquote(parsed.path)  # sqlite:////abs/f.db -> //abs/f.db, sqlite:///rel.db -> /rel.db
    return Path(path[1:] if path.startswith("/") else path)


#: SQLite's answer when a read-only open finds a hot journal, the rollback journal of a writer killed mid-transaction
SQLITE_READONLY_ROLLBACK = 776


def _connect_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection; a hot journal a killed writer left is first rolled back, as SQLite's next writer would."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    con = sqlite3.connect(uri, uri=True)
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        con.close()
        if getattr(exc, "sqlite_errorcode", None) != SQLITE_READONLY_ROLLBACK:
            raise
        _roll_back_hot_journal(path)
        con = sqlite3.connect(uri, uri=True)
    return con


def _roll_back_hot_journal(path: Path) -> None:
    """Let SQLite roll back the uncommitted transaction of a killed writer: it opens the file read-write and reads.

    Nothing committed changes (the journal holds the pages as they were before that transaction began). Where the
    file cannot be opened for writing, the store is reported as not readable, naming the journal."""
    try:
        con = sqlite3.connect(Path(path).resolve())
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise sqlite3.OperationalError(
            f"a writer killed mid-transaction left {Path(path).name}-journal, which cannot be rolled back here ({exc})"
        ) from exc


def store_problem(path: Path) -> str | None:
    """Why the SQLite store at path is not a complete MLflow store (one phrase), or None when it is."""
    con, problem = _open_complete(path)
    if con is not None:
        con.close()
    return problem


def _open_complete(path: Path) -> tuple[sqlite3.Connection | None, str | None]:
    """A read-only connection to the complete MLflow store at path, or None and why it is not one (store_problem)."""
    try:
        con = _connect_ro(path)
    except sqlite3.Error as exc:
        return None, f"not a readable SQLite database ({exc})"
    try:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            problem = f"tables missing ({', '.join(missing)})"
        elif con.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 0:
            problem = "no schema version recorded (alembic_version is empty)"
        else:
            return con, None
    except sqlite3.Error as exc:
        problem = f"not a readable SQLite database ({exc})"
    con.close()
    return None, problem


def read_sqlite_witness(path: Path) -> tuple[int, str] | None:
    """The (seq, hash) witness tags of the `ledgerline` experiment in a SQLite store, read-only; None if never written."""
    con, problem = _open_complete(path)
    if con is None:
        raise MirrorStoreIncompleteError(f"mlflow store {path} is half-created or damaged: {problem}")
    try:
        rows = con.execute(
            "SELECT t.key, t.value FROM experiments e JOIN experiment_tags t ON t.experiment_id = e.experiment_id "
            "WHERE e.name = ? AND t.key IN (?, ?)",
            [WITNESS_EXPERIMENT, HEAD_SEQ_TAG, HEAD_HASH_TAG],
        ).fetchall()
    finally:
        con.close()
    tags = dict(rows)
    if not tags.get(HEAD_SEQ_TAG):
        return None
    return int(tags[HEAD_SEQ_TAG]), str(tags.get(HEAD_HASH_TAG, ""))

"""The MLflow stores a replay writes into: the home's default SQLite store (derived: created atomically,
rebuilt when found half-created) and a store the user named (theirs: refused when damaged, never dropped)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ledger import MLFLOW_ARTIFACTS, MLFLOW_DB
from projectors.errors import MirrorStoreIncompleteError
from projectors.mirror.layout import default_tracking_uri, sqlite_path, store_problem
from projectors.mirror.sink import forget_engines
from projectors.readmodel import Progress, Step


def ensure_default_store(home: Path, rebuild: bool, say: Progress) -> bool:
    """Make the default store complete before any request: dropped on rebuild or when found half-created, then
    created atomically (MLflow builds its tables in a temporary file beside it, renamed into place). True if rebuilt."""
    db = home / MLFLOW_DB
    for stale in home.glob(f".{MLFLOW_DB}.*.tmp"):  # a creation killed before its rename (we hold the mirror lock)
        stale.unlink(missing_ok=True)
    if not rebuild and db.exists():
        problem = store_problem(db)
        if problem is None:
            return False
        say(
            Step(
                f"mlflow store {db} is half-created or damaged ({problem}); it is derived: rebuilding it",
                model="mlflow",
            )
        )
        rebuild = True
    if rebuild:
        drop_default_store(home)
    create_store(db)
    return rebuild


def create_store(db: Path) -> None:
    """A new, empty MLflow SQLite store at db, which appears complete or not at all."""
    from mlflow.tracking import MlflowClient

    fd, name = tempfile.mkstemp(prefix=f".{MLFLOW_DB}.", suffix=".tmp", dir=db.parent)
    os.close(fd)
    uri = f"sqlite:///{Path(name).resolve()}"
    try:
        MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()  # runs MLflow's table creation
        forget_engines(uri)
        problem = store_problem(Path(name))
        if problem is not None:
            raise MirrorStoreIncompleteError(f"mlflow did not create a complete store in {name}: {problem}")
        with open(name, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(name, db)
    finally:
        Path(name).unlink(missing_ok=True)


def check_named_store(uri: str) -> None:
    """A SQLite store the user named is theirs: found half-created, it is refused (never dropped)."""
    db = sqlite_path(uri)
    if db is None or not db.exists() or db.stat().st_size == 0:
        return
    problem = store_problem(db)
    if problem is not None:
        raise MirrorStoreIncompleteError(
            f"mlflow store {db} (named by --tracking-uri) is half-created or damaged: {problem}; "
            "it is yours, so it is not replaced: delete it or name another store"
        )


def drop_default_store(home: Path) -> None:
    """--rebuild of the default store starts from nothing: the file and its artifacts are derived data."""
    forget_engines(default_tracking_uri(home))
    (home / MLFLOW_DB).unlink(missing_ok=True)
    shutil.rmtree(home / MLFLOW_ARTIFACTS, ignore_errors=True)

"""The names of the files and folders in a home folder: the only place they are spelled."""

from __future__ import annotations

from pathlib import Path

#: the ledger itself and the lock its writers serialize on
LEDGER_NAME = "audit.jsonl"
LOCK_NAME = "audit.lock"
#: content-addressed artifacts written by the stages, and torn tails cut off by recovery
ARTIFACTS_DIR = "artifacts"
QUARANTINE_DIR = "quarantine"
#: the pointer to the last run that passed postflight
LATEST_NAME = "latest"
#: read models: the DuckDB projection, the MLflow mirror's default store, its artifacts and its lock
PROJECTION_NAME = "projections.duckdb"
MLFLOW_DB = "mlflow.db"
MLFLOW_ARTIFACTS = "mlartifacts"
MLFLOW_LOCK = "mlflow.lock"
#: further read models and orchestration state
OPENLINEAGE_NAME = "openlineage.jsonl"
#: beside an OpenLineage output file PATH, its position is PATH + this suffix; --url positions live in the home
OPENLINEAGE_POSITION_SUFFIX = ".position.json"
OPENLINEAGE_HTTP_STATE = "openlineage.http.position.json"
TREE_STATE_NAME = "tree.json"
CHECKPOINTS_DIR = "checkpoints"


def ledger_path(home: Path) -> Path:
    """The ledger file of a home folder."""
    return Path(home) / LEDGER_NAME


def projection_path(home: Path) -> Path:
    """The DuckDB projection of a home folder."""
    return Path(home) / PROJECTION_NAME


def artifacts_dir(home: Path) -> Path:
    """The artifact store of a home folder."""
    return Path(home) / ARTIFACTS_DIR


def quarantine_dir(home: Path) -> Path:
    """Where recovery keeps the torn tails cut off the ledger of a home folder."""
    return Path(home) / QUARANTINE_DIR

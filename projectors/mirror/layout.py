"""Where the MLflow mirror's default store lives in a home folder; no mlflow import needed to name it."""

from __future__ import annotations

from pathlib import Path

from ledger import MLFLOW_ARTIFACTS, MLFLOW_DB


def default_tracking_uri(home: Path) -> str:
    """The mirror's default store: sqlite:///<absolute home>/mlflow.db."""
    return f"sqlite:///{(Path(home).resolve() / MLFLOW_DB)}"


def default_store_exists(home: Path) -> bool:
    """Whether the default store's SQLite file is in the home."""
    return (Path(home) / MLFLOW_DB).is_file()


def artifacts_folder(home: Path) -> Path:
    """The default store's artifact folder."""
    return Path(home) / MLFLOW_ARTIFACTS

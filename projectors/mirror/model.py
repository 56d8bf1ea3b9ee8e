"""The MLflow mirror as a ReadModel: the witness tags of its `ledgerline` experiment are its position."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ledger import MLFLOW_DB
from projectors.errors import MirrorUnavailableError
from projectors.mirror.layout import default_store_exists, read_sqlite_witness, sqlite_path
from projectors.readmodel import Position, Progress, ReadModel, quiet


class MLflowMirror(ReadModel):
    """A view-only, idempotent, resumable replay of the ledger into an MLflow tracking store (default: mlflow.db)."""

    name = "mlflow"
    title = "mlflow mirror"
    transient_errors = (MirrorUnavailableError,)

    def __init__(self, home: Path, tracking_uri: str | None = None) -> None:
        self.home = Path(home)
        self.tracking_uri = tracking_uri
        self.last: object | None = None  # the ReplayReport of the last catch_up or rebuild

    def position(self) -> Position | None:
        """The head the mirror last completed; None without a store (mlflow is imported only for a server URI)."""
        if self.tracking_uri is None and not default_store_exists(self.home):
            return None
        db = self.home / MLFLOW_DB if self.tracking_uri is None else sqlite_path(self.tracking_uri)
        if db is not None:  # a SQLite store is read with sqlite3, read-only: verify never imports mlflow for it
            if not db.is_file():
                return None
            found = read_sqlite_witness(db)
            return None if found is None or not found[0] else Position(*found)
        from projectors.mirror.replay import read_witness  # a server URI needs the MLflow client

        found = read_witness(self.home, self.tracking_uri)
        return None if found is None or not found[0] else Position(int(found[0]), str(found[1]))

    def catch_up(self, *, progress: Progress = quiet) -> int:
        """Mirror the events after the witness; the last Step reported is the replay's report."""
        return self._replay(False, progress)

    def rebuild(self, *, progress: Progress = quiet) -> int:
        """Mirror every event again (the default store is dropped first)."""
        return self._replay(True, progress)

    def _replay(self, rebuild: bool, progress: Progress) -> int:
        from projectors.mirror.replay import replay

        report = replay(self.home, tracking_uri=self.tracking_uri, rebuild=rebuild, progress=progress)
        self.last = report
        applied = report.head_seq - report.from_seq
        progress(self.step(str(report), done=applied, total=applied))
        return applied

    def where(self) -> str:
        """The tracking URI, or the default store's file."""
        return self.tracking_uri or str(self.home / MLFLOW_DB)

    def report(self, applied: int) -> str:
        """The last replay's report (what it sent, and the witness it moved)."""
        return str(self.last) if self.last is not None else super().report(applied)


def open_mirror(home: Path, options: Mapping[str, object]) -> MLflowMirror:
    """Registry factory: option `tracking_uri` (default: sqlite mlflow.db in the home)."""
    uri = options.get("tracking_uri")
    return MLflowMirror(home, str(uri) if uri else None)

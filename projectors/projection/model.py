"""The DuckDB projection as a ReadModel: its checkpoint is its position."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from projectors.projection import store
from projectors.readmodel import Position, Progress, ReadModel, quiet


class DuckDBProjection(ReadModel):
    """projections.duckdb under a home: typed tables and views, a (seq, hash) checkpoint, blue/green rebuild."""

    name = "duckdb"
    title = "duckdb checkpoint"

    def __init__(self, home: Path) -> None:
        self.home = Path(home)

    def position(self) -> Position | None:
        """The checkpoint's (seq, hash); None without a projection or before its first event."""
        cp = store.checkpoint(self.home)
        return None if cp is None or cp.seq == 0 or not cp.hash else Position(cp.seq, cp.hash)

    def catch_up(self, *, progress: Progress = quiet) -> int:
        """Apply the lines after the checkpoint (building the projection when absent)."""
        return store.catch_up(self.home, progress=progress)

    def rebuild(self, *, progress: Progress = quiet) -> int:
        """Build a fresh projection beside the old one and swap it in."""
        return store.rebuild(self.home, progress=progress)

    def where(self) -> str:
        """The projection file."""
        return str(store.projection_path(self.home))

    def report(self, applied: int) -> str:
        """`duckdb: N events applied, checkpoint seq S (path)`."""
        cp = store.checkpoint(self.home)
        return f"duckdb: {applied:,} events applied, checkpoint seq {cp.seq if cp else 0} ({self.where()})"


def open_projection(home: Path, options: Mapping[str, object]) -> DuckDBProjection:
    """Registry factory: the projection takes no options."""
    return DuckDBProjection(home)

"""The DuckDB projection of the ledger: typed tables per event type, SQL views, a checkpoint, as_of copies, queries."""

from __future__ import annotations

from ledger import PROJECTION_NAME
from projectors.projection.apply import TABLES
from projectors.projection.model import DuckDBProjection, open_projection
from projectors.projection.query import QueryResult, query
from projectors.projection.source import Checkpoint
from projectors.projection.store import (
    as_of,
    catch_up,
    checkpoint,
    connect,
    deep_compare,
    first_line,
    integrity,
    projection_path,
    read_checkpoint,
    rebuild,
    refresh_snapshot,
    snapshot_path,
    view_names,
)

__all__ = [
    "PROJECTION_NAME",
    "TABLES",
    "Checkpoint",
    "DuckDBProjection",
    "QueryResult",
    "as_of",
    "catch_up",
    "checkpoint",
    "connect",
    "deep_compare",
    "first_line",
    "integrity",
    "open_projection",
    "projection_path",
    "query",
    "read_checkpoint",
    "rebuild",
    "refresh_snapshot",
    "snapshot_path",
    "view_names",
]

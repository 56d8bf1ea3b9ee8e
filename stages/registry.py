"""The reference quant pipeline: every stage in order, with the context fields it reads and writes."""

from __future__ import annotations

from stages.allocation import allocate
from stages.audit import audit
from stages.backtest import backtest
from stages.features import compute_features
from stages.ingest import ingest
from stages.metrics import report_metrics
from stages.selection import select_assets
from stages.spec import StageSpec
from stages.validate import validate

PIPELINE: tuple[StageSpec, ...] = (
    StageSpec("ingest", ingest, reads=(), writes=("raw",)),
    StageSpec("validate", validate, reads=("raw",), writes=("clean", "drops")),
    StageSpec("audit", audit, reads=("clean", "drops"), writes=("clean", "drops")),
    StageSpec("features", compute_features, reads=("clean",), writes=("features",)),
    StageSpec("select", select_assets, reads=("features",), writes=("selection",)),
    StageSpec("allocate", allocate, reads=("selection", "features"), writes=("weights",)),
    StageSpec("backtest", backtest, reads=("weights", "clean"), writes=("portfolio",)),
    StageSpec("metrics", report_metrics, reads=("portfolio", "weights", "clean"), writes=("asset_metrics",)),
)

STAGES: dict[str, StageSpec] = {spec.name: spec for spec in PIPELINE}

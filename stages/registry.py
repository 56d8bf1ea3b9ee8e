"""The reference quant pipeline, built with the public API: every stage in order, reads taken from its signature."""

from __future__ import annotations

from schemas.settings import Settings, load_settings
from stages.allocation import allocate
from stages.audit import audit
from stages.backtest import backtest
from stages.features import compute_features
from stages.ingest import ingest
from stages.metrics import report_metrics
from stages.pipeline import Pipeline, stage
from stages.selection import select_assets
from stages.spec import StageSpec
from stages.validate import validate


def _preflight(settings: Settings, home):  # type: ignore[no-untyped-def]
    from stages.preflight import preflight

    return preflight(settings, home)


def _postflight(ctx, store, settings, home):  # type: ignore[no-untyped-def]
    from stages.postflight import postflight

    return postflight(ctx, store, settings, home)


def _inputs(settings: Settings, store=None):  # type: ignore[no-untyped-def]
    from stages.sources import describe_inputs

    return describe_inputs(settings, store)


def _load(profile: str | None, overrides: dict[str, str]) -> Settings:
    return load_settings(profile or "canary", overrides)


QUANT_REFERENCE = Pipeline(
    "quant-reference",
    stages=[
        stage(writes=("raw",))(ingest),
        stage(writes=("clean", "drops"))(validate),
        stage(writes=("clean", "drops"))(audit),
        stage(writes=("features",), name="features")(compute_features),
        stage(writes=("selection",), name="select")(select_assets),
        stage(writes=("weights",))(allocate),
        stage(writes=("portfolio",))(backtest),
        stage(writes=("asset_metrics",), name="metrics")(report_metrics),
    ],
    settings=Settings,
    preflight=_preflight,
    postflight=_postflight,
    inputs=_inputs,
    load=_load,
)

PIPELINE: tuple[StageSpec, ...] = QUANT_REFERENCE.stages
STAGES: dict[str, StageSpec] = {spec.name: spec for spec in PIPELINE}

"""Reproducibility of the analytics stages: bit-identical outputs across runs and across numba thread counts."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from schemas.frames import frame_hash
from stages.allocation import allocate
from stages.backtest import backtest
from stages.features import compute_features
from stages.metrics import report_metrics
from stages.selection import select_assets
from tests.support.quant_market import clean_frame, small_settings

HERE = Path(__file__).resolve().parent


def analytics(clean: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Features through metrics on one clean frame, with every option that touches numbers switched on."""
    settings = small_settings(
        **{"allocation.method": '"inverse_vol"', "selection.max_per_sector": "2", "selection.min_hurst": "0.3"}
    )
    out: dict[str, pl.DataFrame] = {"clean": clean}
    out["features"] = compute_features(clean=clean, settings=settings).outputs["features"]
    out["selection"] = select_assets(features=out["features"], settings=settings).outputs["selection"]
    out["weights"] = allocate(selection=out["selection"], features=out["features"], settings=settings).outputs[
        "weights"
    ]
    out["portfolio"] = backtest(weights=out["weights"], clean=clean, settings=settings).outputs["portfolio"]
    metrics = report_metrics(portfolio=out["portfolio"], weights=out["weights"], clean=clean, settings=settings)
    out["asset_metrics"] = metrics.outputs["asset_metrics"]
    return out


def exact_digest(frames: dict[str, pl.DataFrame]) -> dict[str, str]:
    """sha256 of each frame's raw IPC bytes: equal only when every bit of every value is equal."""
    return {name: hashlib.sha256(df.serialize(format="binary")).hexdigest() for name, df in frames.items()}


def test_analytics_outputs_are_bit_identical_across_runs() -> None:
    first, second = analytics(clean_frame(seed=8)), analytics(clean_frame(seed=8))
    assert exact_digest(first) == exact_digest(second)
    assert {k: frame_hash(v) for k, v in first.items()} == {k: frame_hash(v) for k, v in second.items()}
    assert first["selection"].height > 0 and first["portfolio"].height > 0


def test_analytics_outputs_do_not_depend_on_the_numba_thread_count() -> None:
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from tests.stages.test_reproducibility import analytics, exact_digest; from tests.support.quant_market import clean_frame;"
        "print(json.dumps(exact_digest(analytics(clean_frame(seed=8)))))"
    )
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(HERE.parents[1])], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == exact_digest(analytics(clean_frame(seed=8)))


def test_each_analytics_stage_runs_alone_from_the_registry_with_explicit_inputs() -> None:
    from stages.registry import STAGES

    settings = small_settings(
        **{"allocation.method": '"inverse_vol"', "selection.max_per_sector": "2", "selection.min_hurst": "0.3"}
    )
    direct = analytics(clean_frame(seed=8))
    for name in ("features", "select", "allocate", "backtest", "metrics"):
        spec = STAGES[name]
        result = spec.fn(**{field: direct[field] for field in spec.reads}, settings=settings)
        for field, frame in result.outputs.items():
            assert frame.equals(direct[field]), (name, field)


def test_every_analytics_output_hashes_the_same_after_a_parquet_round_trip(tmp_path: Path) -> None:
    for name, frame in analytics(clean_frame(seed=8)).items():
        path = tmp_path / f"{name}.parquet"
        frame.write_parquet(path, statistics=False)
        back = pl.read_parquet(path)
        assert back.schema == frame.schema, name
        assert frame_hash(back) == frame_hash(frame), name

"""Whole runs: every injected toxicity is dropped and logged while valid assets go through; schema breaches fail the run."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from schemas.contracts import TIER1
from schemas.settings import load_settings
from stages.artifacts import ArtifactStore
from stages.runner import run_pipeline
from tests.support.contracts_kit import block, completed, data_stages, events, market, of_type, settings, write_dir

EXPECTED = {
    "extreme_return": "extreme_return",
    "nonpositive_price": "nonpositive_price",
    "null_mid_history": "null_after_genesis",
    "duplicate_rows": "duplicate_key",
    "stale_run": "stale_price",
    "unadjusted_split": "unadjusted_split",
    "stops_early": "stopped_early",
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_one_toxic_asset_is_dropped_and_logged_and_the_valid_asset_goes_through(tmp_path: Path, kind: str) -> None:
    s = settings(source={"symbols": 2, "sessions": 80, "toxicity": {kind: 1}})
    outcome = run_pipeline(s, tmp_path, stages=data_stages())
    assert outcome.status == "succeeded"
    evts = events(tmp_path)
    reasons = {e.data.reason: e.data for e in of_type(evts, "RowsDropped")}
    assert EXPECTED[kind] in reasons
    store = ArtifactStore(tmp_path / "artifacts")
    raw, clean = store.get_frame(outcome.context.raw), store.get_frame(outcome.context.clean)  # type: ignore[arg-type]
    drops = store.get_frame(outcome.context.drops)  # type: ignore[arg-type]
    assert clean.height + drops.height == raw.height
    victims = set(drops.filter(pl.col("reasons").str.contains(EXPECTED[kind])).get_column("symbol"))
    assert len(victims) == 1
    (valid,) = {"S0001", "S0002"} - victims
    observed = raw.filter((pl.col("symbol") == valid) & pl.col("close").is_not_null())
    assert clean.filter(pl.col("symbol") == valid).height == observed.height  # every real observation kept


def test_issue_example_a_500_percent_asset_and_a_valid_asset(tmp_path: Path) -> None:
    df = market("TOXIC", "VALID", n=40)
    df = df.with_columns(pl.when((pl.col("symbol") == "TOXIC") & (pl.int_range(pl.len()).over("symbol") % 10 == 5))
                         .then(pl.col(c) * 7).otherwise(pl.col(c)).alias(c) for c in ("open", "high", "low", "close"))  # fmt: skip
    data = write_dir(tmp_path / "data", {"bars.parquet": df})
    outcome = run_pipeline(
        settings(source={"kind": "directory", "path": str(data)}), tmp_path / "home", stages=data_stages()
    )
    assert outcome.status == "succeeded"
    (dropped,) = of_type(events(tmp_path / "home"), "RowsDropped")
    assert (dropped.data.reason, dropped.data.count, {k.symbol for k in dropped.data.keys}) == (
        "extreme_return",
        4,
        {"TOXIC"},
    )
    clean = ArtifactStore(tmp_path / "home" / "artifacts").get_frame(outcome.context.clean)  # type: ignore[arg-type]
    assert clean.filter(pl.col("symbol") == "VALID").height == 40


@pytest.mark.parametrize(
    ("frame", "check", "stage"),
    [
        (market("AAA").with_columns(pl.col("close").cast(pl.String) + "x"), "dtypes", "validate"),
        (market("AAA").drop("volume"), "columns_present", "ingest"),
        (market("AAA").head(0), "not_empty", "validate"),
    ],
)
def test_schema_level_failures_end_the_run_failed_naming_the_contract(
    tmp_path: Path, frame: pl.DataFrame, check: str, stage: str
) -> None:
    data = write_dir(tmp_path / "data", {"bars.parquet": frame})
    outcome = run_pipeline(
        settings(source={"kind": "directory", "path": str(data)}), tmp_path / "home", stages=data_stages()
    )
    assert outcome.status == "failed"
    evts = events(tmp_path / "home")
    done = completed(evts)
    assert done.status == "failed" and f"contract {TIER1} breached" in done.error
    failed = [e for e in of_type(evts, "DataContractChecked") if e.data.status == "failed"]
    assert [(e.stage, e.data.check, e.data.action) for e in failed] == [(stage, check, "stopped")]
    (stage_failed,) = of_type(evts, "StageFailed")
    assert stage_failed.stage == stage and stage_failed.data.error_type == "ContractBreachError"
    assert not of_type(evts, "RowsDropped")


def test_full_canary_pipeline_drops_every_toxicity_and_succeeds(tmp_path: Path) -> None:
    outcome = run_pipeline(load_settings("canary"), tmp_path)
    assert outcome.status == "succeeded"
    evts = events(tmp_path)
    reasons = {e.data.reason for e in of_type(evts, "RowsDropped")}
    assert set(EXPECTED.values()) <= reasons
    assert {e.stage for e in of_type(evts, "StageCompleted")} >= {"ingest", "validate", "audit", "metrics"}
    written = {(e.stage, e.data.hash) for e in of_type(evts, "ArtifactWritten")}
    refs = [(e.stage, e.data.artifact.hash) for e in of_type(evts, "RowsDropped") if e.data.artifact is not None]
    assert refs and all(ref in written for ref in refs)  # large drops point at the drops artifact the stage wrote
    assert completed(evts).status == "succeeded"


def test_directory_inputs_are_hashed_into_run_started(tmp_path: Path) -> None:
    data = write_dir(tmp_path / "data", {"a.parquet": block("SPY", 30), "b.csv": block("AAA", 30)})
    run_pipeline(settings(source={"kind": "directory", "path": str(data)}), tmp_path / "home", stages=data_stages())
    (started,) = of_type(events(tmp_path / "home"), "RunStarted")
    assert [(i.name, i.rows) for i in started.data.inputs] == [("a.parquet", 30), ("b.csv", 30)]

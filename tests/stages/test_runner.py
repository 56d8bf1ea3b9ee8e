"""The runner: events in order, primary row counts, changed context fields, and a failing stage ending the run."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ledger import Ledger
from schemas.events import DataContractCheckedData, MetricLoggedData
from schemas.settings import Settings
from stages.errors import ContractBreachError
from stages.runner import run_pipeline
from stages.spec import StageResult, StageSpec

RUN_ID = "20260105-090000-test"


def make_raw(*, settings: Settings) -> StageResult:
    frame = pl.DataFrame({"symbol": ["A", "B", "C", "D"], "close": [1.0, 2.0, -1.0, 4.0]})
    return StageResult(outputs={"raw": frame}, events=[MetricLoggedData(key="rows_seen", value=4.0)])


def split(*, raw: pl.DataFrame, settings: Settings) -> StageResult:
    kept, dropped = raw.filter(pl.col("close") > 0), raw.filter(pl.col("close") <= 0)
    return StageResult(outputs={"clean": kept, "drops": dropped}, values={"rows_dropped": dropped.height})


def breach(*, clean: pl.DataFrame, settings: Settings) -> StageResult:
    check = DataContractCheckedData(
        contract="toy", tier=1, check="columns_present", status="failed", failed=1, total=1, action="stopped"
    )
    raise ContractBreachError("toy", "column volume is missing", events=[check])


STAGES = [
    StageSpec("make", make_raw, reads=(), writes=("raw",)),
    StageSpec("split", split, reads=("raw",), writes=("clean", "drops")),
    StageSpec("breach", breach, reads=("clean",), writes=()),
]


@pytest.fixture
def events(tmp_path: Path) -> list:  # type: ignore[type-arg]
    outcome = run_pipeline(Settings(), tmp_path, run_id=RUN_ID, stages=STAGES)
    assert outcome.status == "failed" and "contract toy breached" in (outcome.error or "")
    assert outcome.context.rows_dropped == 1 and outcome.context.clean is not None
    with Ledger.open(tmp_path, readonly=True) as ledger:
        return list(ledger.read())


def test_events_come_in_run_order_and_belong_to_the_run(events: list) -> None:  # type: ignore[type-arg]
    kinds = [(e.type, e.stage) for e in events]
    assert kinds == [
        ("RunStarted", None),
        ("StageStarted", "make"),
        ("MetricLogged", "make"),
        ("ArtifactWritten", "make"),
        ("StageCompleted", "make"),
        ("StageStarted", "split"),
        ("ArtifactWritten", "split"),
        ("ArtifactWritten", "split"),
        ("StageCompleted", "split"),
        ("StageStarted", "breach"),
        ("DataContractChecked", "breach"),
        ("StageFailed", "breach"),
        ("RunCompleted", None),
    ]
    assert {e.run_id for e in events} == {RUN_ID}


def test_stage_completed_counts_primary_frames_and_names_changed_fields(events: list) -> None:  # type: ignore[type-arg]
    completed = {e.stage: e.data for e in events if e.type == "StageCompleted"}
    assert (completed["make"].rows_in, completed["make"].rows_out, completed["make"].changed) == (0, 4, ["raw"])
    assert (completed["split"].rows_in, completed["split"].rows_out) == (4, 3)
    assert completed["split"].changed == ["clean", "drops", "rows_dropped"]
    assert [r.name for r in completed["split"].outputs] == ["clean", "drops"]


def test_a_breach_records_its_check_then_the_failure_and_the_run_status(events: list) -> None:  # type: ignore[type-arg]
    failed = next(e for e in events if e.type == "StageFailed")
    assert failed.data.error_type == "ContractBreachError"
    assert events[-1].data.status == "failed" and "toy" in events[-1].data.error


def test_a_stage_reading_a_field_nobody_wrote_fails_cleanly(tmp_path: Path) -> None:
    outcome = run_pipeline(Settings(), tmp_path, run_id=RUN_ID, stages=[STAGES[2]])
    assert outcome.status == "failed" and outcome.error == "breach: reads clean, which no earlier stage produced"

"""Reproducibility of the real canary run: identical stage output hashes twice over, and the golden metrics within 1e-6."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from ledger import Ledger
from stages.runner import RunOutcome
from tests.support.quant_golden import GOLDEN, mismatches, run_canary


def _stage_outputs(home: Path, run_id: str) -> dict[str, list[str]]:
    with Ledger.open(home, readonly=True) as ledger:
        outputs: dict[str, list[str]] = defaultdict(list)
        for event in ledger.read():
            if event.run_id == run_id and event.type == "StageCompleted":
                outputs[event.stage or "?"] += [ref.hash for ref in event.data.outputs]
    return dict(outputs)


@pytest.fixture(scope="module")
def canary_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunOutcome, RunOutcome]:
    home = tmp_path_factory.mktemp("repro") / "runs"
    return home, run_canary(home, "20260101-000000-aaaa"), run_canary(home, "20260101-000000-bbbb")


def test_two_canary_runs_give_identical_stage_output_hashes(canary_runs: tuple[Path, RunOutcome, RunOutcome]) -> None:
    home, a, b = canary_runs
    assert a.status == b.status == "succeeded", (a.error, b.error)
    first, second = _stage_outputs(home, a.run_id), _stage_outputs(home, b.run_id)
    assert {"features", "select", "allocate", "backtest", "metrics"} <= set(first)
    assert first == second
    assert a.context.model_dump(exclude={"run_id"}) == b.context.model_dump(exclude={"run_id"})


def test_canary_metrics_reproduce_the_golden_file(canary_runs: tuple[Path, RunOutcome, RunOutcome]) -> None:
    _, outcome, _ = canary_runs
    golden = json.loads(GOLDEN.read_text())
    assert mismatches(golden["metrics"], outcome.context.headline) == []

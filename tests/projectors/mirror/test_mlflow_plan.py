"""The mirror's plan (no mlflow import): metric lines folded straight from JSON equal those folded from models."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

import pytest

from projectors.mirror import plan as mlflow_plan
from schemas.events import MetricLoggedData, envelope
from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write


def _ledger(home: Path) -> Path:
    clock = Clock()
    write(home, run_events(RUN_A, clock=clock))
    odd = [  # an asset, no step, a whole-number value written as an int, a ts stated in another zone
        MetricLoggedData(key="pnl", value=3, step=None, asset="S001"),
        MetricLoggedData(key="sharpe ratio!", value=-0.0, step=2**40),
        MetricLoggedData(key="x", value=1e-300, step=0, asset=None),
    ]
    write(home, [envelope(d, run_id=RUN_B, ts=clock.tick().astimezone(timezone(timedelta(hours=-5)))) for d in odd])
    write(home, run_events(RUN_B, clock=clock))
    return home / "audit.jsonl"


@pytest.mark.parametrize("after", [0, 5, 30])
def test_metric_lines_fold_the_same_with_and_without_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    path = _ledger(tmp_path)
    fast = mlflow_plan.read_ledger(path, after)
    monkeypatch.setattr(mlflow_plan, "_fold_metric_line", lambda *args: False)
    slow = mlflow_plan.read_ledger(path, after)
    assert fast == slow
    points = [m for run in fast.runs.values() for m in run.metrics]
    assert (
        any(m.key == "pnl/S001" and m.value == 3.0 and type(m.value) is float and m.step == 0 for m in points)
        or after >= 30
    )
    assert sum(len(run.metrics) for run in fast.runs.values()) > 0

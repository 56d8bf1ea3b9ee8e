"""SIGKILL the MLflow mirror at random points, resume, and get exactly the store one clean replay gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from tests.support.mlflow_fixtures import append, empty_store, run_events, standard_history  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
KILLS = 20


def test_sigkill_at_random_points_then_resume_equals_clean_replay(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for batch in standard_history(home, metrics=30):
        append(home, batch)
    append(home, run_events(home, 4, metrics=1_500))  # two log_batch requests: kills land between them
    template = empty_store(tmp_path / "empty.db")
    seed = int(os.environ.get("LEDGERLINE_CRASH_SEED", "20261122"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.mlflow_fixtures", str(home), str(template), str(tmp_path / "work"), str(KILLS),
         str(seed)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["kills"] >= KILLS, f"only {result['kills']} replays were actually killed: {result['points']}"
    assert result["mismatches"] == [], f"seed {seed}: resumed store differs from a clean replay: {result['mismatches']}"

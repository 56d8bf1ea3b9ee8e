"""Issue 15 on Ray: acceptance 1 and 2 under --executor ray, and a killed worker process (acceptance 3).

Every bin/sweep here joins the one Ray instance of the test session (tests/conftest.py:ray_cluster).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger
from schemas.events import RunCompleted, RunStarted
from tests.support.sweeps import CANARY_GRID, FLAKY, cmd, rows, sweep_json

if importlib.util.find_spec("ray") is None:  # not importorskip: importing ray here would precede its loopback setting
    pytest.skip("the ray extra is not installed", allow_module_level=True)


def outputs(home: Path, run_id: str) -> list[tuple[str, str]]:
    return [
        (r["stage"], json.dumps(r["outputs"], sort_keys=True, default=str))
        for r in rows(home, "SELECT stage, outputs FROM stages WHERE run_id = ? ORDER BY position", [run_id])
    ]


@pytest.fixture(scope="module")
def ray_sweep(canary_sweep: tuple[Path, dict[str, Any]], ray_cluster: str) -> tuple[Path, dict[str, Any]]:
    """Acceptance 1's command under --executor ray, into the local sweep's home."""
    home, _ = canary_sweep
    done, summary = sweep_json(home, *CANARY_GRID, "--executor", "ray", "--ray-address", ray_cluster)
    assert done.returncode == 0, done.stderr[-3000:]
    return home, summary


def test_acceptance_1_ray_four_succeeded_runs_and_the_views(ray_sweep: tuple[Path, dict[str, Any]]) -> None:
    home, summary = ray_sweep
    (row,) = rows(home, "SELECT * FROM sweeps WHERE sweep_id = ?", [summary["sweep_id"]])
    assert (row["points"], row["succeeded"], row["failed"]) == (4, 4, 0)
    runs = rows(home, "SELECT * FROM sweep_runs WHERE sweep_id = ? ORDER BY rank", [summary["sweep_id"]])
    assert [r["rank"] for r in runs] == [1, 2, 3, 4] and runs[0]["run_id"] == row["best_run_id"]
    with Ledger.open(home, readonly=True) as ledger:
        mine = [e for e in ledger.read() if isinstance(e, RunStarted) and e.data.sweep is not None]
    ray_runs = [e for e in mine if e.data.sweep.id == summary["sweep_id"]]  # type: ignore[union-attr]
    assert len(ray_runs) == 4 and {e.data.executor.name for e in ray_runs} == {"ray"}  # type: ignore[union-attr]


def test_acceptance_2_local_ray_and_run_pipeline_diff_with_exit_0(
    canary_sweep: tuple[Path, dict[str, Any]], ray_sweep: tuple[Path, dict[str, Any]], canary_plain: str
) -> None:
    home, local = canary_sweep
    _, ray = ray_sweep
    text = "features.hurst_window=64 selection.top_k=5"
    on_local = next(r["run_id"] for r in local["runs"] if r["point_text"] == text)
    on_ray = next(r["run_id"] for r in ray["runs"] if r["point_text"] == text)
    assert outputs(home, on_local) == outputs(home, on_ray) == outputs(home, canary_plain) != []
    for a, b in ((on_local, on_ray), (on_ray, canary_plain)):
        done = cmd("diff", "--home", str(home), a, b, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        changes = json.loads(done.stdout)["changes"]
        assert changes and {c["section"] for c in changes} == {"execution"}
        assert any(c["key"] == "executor" and "ray" in (c["a"], c["b"]) for c in changes)


def test_acceptance_3_a_killed_worker_is_retried_or_recorded_failed_and_resume_finishes(
    ray_cluster: str, tmp_path: Path
) -> None:
    flaky = tmp_path / "flaky.py"
    flaky.write_text(FLAKY)
    home, marker = tmp_path / "h", tmp_path / "marker"
    base = ["--pipeline", f"{flaky}:PIPELINE", "--grid", "die=0,1,2", "--set", f'marker="{marker}"']
    done, first = sweep_json(home, *base, "--executor", "ray", "--ray-address", ray_cluster)
    assert done.returncode == 1 and "runs" in first, done.stdout[-2000:] + done.stderr[-3000:]
    status = {r["point_text"]: r["status"] for r in first["runs"]}
    assert status == {"die=0": "succeeded", "die=1": "succeeded", "die=2": "failed"}  # die=1: Ray's retry succeeded
    with Ledger.open(home, readonly=True) as ledger:
        events = list(ledger.read())
    completed = {e.run_id: e.data for e in events if isinstance(e, RunCompleted)}
    assert {e.run_id for e in events if isinstance(e, RunStarted)} == set(completed)  # no run left open
    failed = next(r["run_id"] for r in first["runs"] if r["point_text"] == "die=2")
    assert "ray task failed" in (completed[failed].error or "")
    assert cmd("verify", "--home", str(home)).returncode == 0

    marker.write_text("go")
    done, again = sweep_json(home, "--resume", first["sweep_id"], "--executor", "ray", "--ray-address", ray_cluster)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (again["points"], again["succeeded"], again["failed"]) == (3, 3, 0)
    assert cmd("verify", "--home", str(home)).returncode == 0


def test_a_missing_ray_is_one_line_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from stages.executors import open_executor
    from stages.executors.ray_exec import RayMissingError

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(RayMissingError, match=r"pip install '\.\[ray\]'"):
        open_executor("ray", 2)

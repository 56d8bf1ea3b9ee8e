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


def test_the_market_goes_into_the_object_store_once_per_distinct_input(
    ray_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import ray

    from schemas.events import Executor
    from stages.executors.ray_exec import RayExecutor
    from stages.sweep import load_for, make_plan, new_sweep_id, parse_grid, points, rank_of, resolve_points, specs_for

    plan = make_plan(
        "stages.registry:QUANT_REFERENCE", "canary", parse_grid(["selection.top_k=5,10"]), [1, 2], {}, rank_of("sharpe")
    )
    resolved = resolve_points(load_for(plan), plan, points(plan))
    specs = specs_for(plan, new_sweep_id(), tmp_path, Executor(name="ray", workers=2), resolved)
    executor = RayExecutor(2)  # joins the session's instance (this process holds it)
    puts: list[Any] = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: puts.append(value) or real_put(value, **kw))
    markets: dict[str, Any] = {}
    keys = [executor._market(spec, markets)[0] for spec in specs]
    executor.close()
    assert len(specs) == 4 and len(set(keys)) == 2 and len(puts) == 2  # two seeds: two markets, each put once
    assert all(isinstance(table, pa.Table) for market in puts for _, table in market)
    assert ray.is_initialized()  # closing an executor that joined a running instance leaves it running


def test_a_local_cluster_starts_loopback_only_without_dashboard_and_is_shut_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What RayExecutor asks of ray.init and ray.shutdown (a fake ray: the session's instance stays the only one)."""
    import os

    from stages.executors import ray_exec
    from stages.numba_cache import cache_dir

    calls: list[tuple[str, dict[str, Any]]] = []

    class FakeRay:
        def is_initialized(self) -> bool:
            return False

        def init(self, **kwargs: Any) -> None:
            calls.append(("init", kwargs))

        def shutdown(self) -> None:
            calls.append(("shutdown", {}))

    monkeypatch.setattr(ray_exec, "_ray", FakeRay)
    executor = ray_exec.RayExecutor(2)
    ((name, kwargs),) = calls
    assert name == "init" and kwargs["num_cpus"] == 2 and kwargs["include_dashboard"] is False
    assert kwargs["_node_ip_address"] == "127.0.0.1" and os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
    temp = kwargs["_temp_dir"]
    assert os.path.isdir(temp) and len(temp) < 40  # Ray's socket paths must stay under the AF_UNIX limit
    env = kwargs["runtime_env"]["env_vars"]
    assert env["NUMBA_CACHE_DIR"] == (os.environ.get("NUMBA_CACHE_DIR") or cache_dir())  # compiled once per worker
    executor.close()
    assert calls[-1][0] == "shutdown" and not os.path.exists(temp)

    calls.clear()
    joined = ray_exec.RayExecutor(None, "127.0.0.1:6379")
    assert calls[0][1]["address"] == "127.0.0.1:6379" and "num_cpus" not in calls[0][1]
    joined.close()


def test_points_run_at_the_callers_priority_not_rays_niceness_15(ray_cluster: str) -> None:
    """Ray nices its workers to 15: on a busy machine a sweep's points then starve (a canary sweep ran 9x slower)."""
    import os

    import ray

    @ray.remote(num_cpus=1)
    def niceness() -> int:
        return os.nice(0)

    assert ray.get([niceness.remote() for _ in range(2)]) == [os.nice(0)] * 2  # the session's instance: _runtime_env


def test_an_explicit_ray_worker_niceness_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from stages.executors.ray_exec import _runtime_env

    monkeypatch.setenv("RAY_worker_niceness", "7")
    assert _runtime_env()["env_vars"]["RAY_worker_niceness"] == "7"
    monkeypatch.delenv("RAY_worker_niceness")
    assert _runtime_env()["env_vars"]["RAY_worker_niceness"] == str(os.nice(0))

"""Issue 15: sweeps as recorded runs under one sweep id, the local executors, the views, resume, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger
from schemas.events import RunStarted, parse_event
from tests.support.sweeps import FLAKY, cmd, rows, sweep_json


def started(home: Path) -> list[RunStarted]:
    with Ledger.open(home, readonly=True) as ledger:
        return [e for e in ledger.read() if isinstance(e, RunStarted)]


def outputs(home: Path, run_id: str) -> list[tuple[str, Any]]:
    return [
        (r["stage"], json.dumps(r["outputs"], sort_keys=True, default=str))
        for r in rows(home, "SELECT stage, outputs FROM stages WHERE run_id = ? ORDER BY position", [run_id])
    ]


@pytest.fixture(scope="module")
def flaky_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("flaky") / "flaky.py"
    path.write_text(FLAKY)
    return path


# ------------------------------------------------------------------ acceptance 1 (local) and the views


def test_acceptance_1_local_four_succeeded_runs_under_one_sweep_id(canary_sweep: tuple[Path, dict[str, Any]]) -> None:
    home, summary = canary_sweep
    sweep_id = summary["sweep_id"]
    starts = [e for e in started(home) if e.data.sweep is not None]
    assert len(starts) == 4 and {e.data.sweep.id for e in starts} == {sweep_id}  # type: ignore[union-attr]
    points = [e.data.sweep.point for e in starts]  # type: ignore[union-attr]
    assert sorted(json.dumps(p, sort_keys=True) for p in points) == sorted(
        json.dumps({"selection.top_k": k, "features.hurst_window": w}, sort_keys=True)
        for k in (5, 10)
        for w in (64, 128)
    )
    assert {e.data.executor.name for e in starts} == {"local"}  # type: ignore[union-attr]
    assert all(e.data.params["selection.top_k"] == e.data.sweep.point["selection.top_k"] for e in starts)  # type: ignore[union-attr]
    assert summary["points"] == 4 and summary["succeeded"] == 4 and summary["failed"] == 0
    assert "tagged 4 runs: 4 candidate=true, 0 candidate=false" in summary["notes"][-1]  # the policy ran once
    assert summary["promote"].startswith(f"bin/tag --home {home} {summary['best_run_id']} --promote challenger")


def test_the_sweeps_and_sweep_runs_views_answer(canary_sweep: tuple[Path, dict[str, Any]]) -> None:
    home, summary = canary_sweep
    sweep_id = summary["sweep_id"]
    (row,) = rows(home, "SELECT * FROM sweeps WHERE sweep_id = ?", [sweep_id])
    assert list(row) == [
        "sweep_id", "pipeline", "points", "succeeded", "failed", "started_at", "completed_at",
        "best_run_id", "rank_metric", "best_value",
    ]  # fmt: skip
    assert (row["pipeline"], row["points"], row["succeeded"], row["failed"]) == ("quant-reference", 4, 4, 0)
    assert row["started_at"] <= row["completed_at"] and row["rank_metric"] == "sharpe"
    runs = rows(home, "SELECT * FROM sweep_runs WHERE sweep_id = ? ORDER BY rank", [sweep_id])
    assert [r["rank"] for r in runs] == [1, 2, 3, 4]
    assert [r["sharpe"] for r in runs] == sorted((r["sharpe"] for r in runs), reverse=True)
    assert runs[0]["run_id"] == row["best_run_id"] and runs[0]["sharpe"] == row["best_value"]
    for r in runs:
        point = json.loads(r["point"])
        assert set(point) == {"selection.top_k", "features.hurst_window"}
        assert r["point_text"] == " ".join(f"{k}={v}" for k, v in sorted(point.items()))
        assert r["status"] == "succeeded" and r["rank_value"] == r["sharpe"]
    assert [r["run_id"] for r in summary["runs"]] == [r["run_id"] for r in runs]


def test_a_sweep_point_equals_bin_run_pipeline_with_the_same_sets(
    canary_sweep: tuple[Path, dict[str, Any]], canary_plain: str
) -> None:
    home, summary = canary_sweep
    point = next(r for r in summary["runs"] if r["point_text"] == "features.hurst_window=64 selection.top_k=5")
    by_run = {e.run_id: e.data for e in started(home)}
    assert by_run[point["run_id"]].config_hash == by_run[canary_plain].config_hash
    assert outputs(home, point["run_id"]) == outputs(home, canary_plain) != []
    diff = cmd("diff", "--home", str(home), point["run_id"], canary_plain)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert "execution detail" in diff.stdout and "sweep" in diff.stdout


def test_old_run_started_events_without_sweep_still_read() -> None:
    line = {
        "seq": 1, "id": "x", "ts": "2026-01-05T09:00:00Z", "type": "RunStarted", "v": 1,
        "run_id": "20260105-090000-aaaa", "stage": None,
        "data": {"pipeline": "p", "profile": "d", "params": {}, "config_hash": "0" * 64,
                 "code_version": {"git_sha": None, "dirty": False}, "packages": {}, "inputs": []},
        "prev": "0" * 64, "hash": "1" * 64,
    }  # fmt: skip
    event = parse_event(line)
    assert isinstance(event, RunStarted) and event.data.sweep is None and event.data.executor is None


# ------------------------------------------------------------------ acceptance 4: bad input


BAD = {
    "unknown grid key": (["--grid", "selection.no_such_knob=1,2"], "--grid selection.no_such_knob"),
    "empty value list": (["--grid", "selection.top_k="], "empty value list"),
    "empty value in the list": (["--grid", "selection.top_k=5,,10"], "an empty value"),
    "malformed grid flag": (["--grid", "selection.top_k"], "expects KEY=V1,V2"),
    "invalid grid value": (["--grid", "selection.top_k=5,zero"], "selection.top_k"),
    "grid key twice": (["--grid", "selection.top_k=5", "--grid", "selection.top_k=10"], "given twice"),
    "malformed ray address": (
        ["--grid", "selection.top_k=5,10", "--executor", "ray", "--ray-address", "not a host:99999"],
        "--ray-address",
    ),
    "ray address without ray": (["--grid", "selection.top_k=5", "--ray-address", "127.0.0.1:6379"], "--executor ray"),
    "sweep id with path characters": (["--resume", "../../etc/passwd"], "invalid sweep id"),
    "sweep id with a slash": (["--resume", "sweep-20261203-120000-ab/c"], "invalid sweep id"),
    "unknown sweep id": (["--resume", "sweep-20261203-120000-abcd"], "no run of that sweep"),
    "bad seeds": (["--grid", "selection.top_k=5", "--seeds", "1,two"], "--seeds"),
    "zero workers": (["--grid", "selection.top_k=5", "--workers", "0"], "--workers"),
    "no grid": (["--profile", "canary"], "at least one --grid"),
    "grid key also set": (["--grid", "selection.top_k=5", "--set", "selection.top_k=3"], "also given with --set"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_acceptance_4_bad_input_is_one_line_exit_2_nothing_written(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bin.sweep import main

    argv, expected = BAD[name]
    home = tmp_path / "h"
    assert main(["--home", str(home), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and "Traceback" not in err, err
    assert not home.exists()


def test_bad_input_through_the_shim_is_one_line(tmp_path: Path) -> None:
    done = cmd("sweep", "--home", str(tmp_path / "h"), "--profile", "canary", "--grid", "nope.knob=1,2")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "h").exists()


# ------------------------------------------------------------------ failures, resume, worker processes


def test_a_failed_point_is_a_recorded_run_and_resume_runs_only_what_did_not_succeed(
    flaky_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through bin/sweep's main() in this process (the executor is local, in-process, by default)."""
    home, marker = tmp_path / "h", tmp_path / "marker"
    base = ["--pipeline", f"{flaky_file}:PIPELINE", "--grid", "n=1,2,3", "--set", f'marker="{marker}"']
    done, first = sweep_json(home, *base, capsys=capsys)
    assert done.returncode == 1, done.stderr[-2000:]
    assert (first["points"], first["succeeded"], first["failed"]) == (3, 2, 1)
    failed = [r for r in first["runs"] if r["status"] == "failed"]
    assert [r["point_text"] for r in failed] == ["n=3"] and failed[0]["rank"] is None
    assert first["best_run_id"] == next(r["run_id"] for r in first["runs"] if r["point_text"] == "n=2")

    marker.write_text("go")
    done, again = sweep_json(home, "--resume", first["sweep_id"], capsys=capsys)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (again["sweep_id"], again["points"], again["succeeded"], again["failed"]) == (first["sweep_id"], 3, 3, 0)
    assert len(started(home)) == 4  # only n=3 ran again
    assert again["best_run_id"] == next(r["run_id"] for r in again["runs"] if r["point_text"] == "n=3")
    done, idle = sweep_json(home, "--resume", first["sweep_id"], capsys=capsys)
    assert done.returncode == 0 and len(started(home)) == 4 and "nothing to run" in idle["notes"][0]
    assert cmd("verify", "--home", str(home)).returncode == 0


def test_resume_runs_the_points_a_dead_driver_never_started(
    flaky_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from schemas.events import Executor
    from stages.executors.local import InProcess
    from stages.sweep import make_plan, new_sweep_id, parse_grid, points, rank_of, resolve_points, run_sweep, specs_for

    home = tmp_path / "h"
    plan = make_plan(f"{flaky_file}:PIPELINE", None, parse_grid(["n=1,2,4"]), [], {}, rank_of("sharpe"))
    from stages.sweep import load_for

    pipeline = load_for(plan)
    resolved = resolve_points(pipeline, plan, points(plan)[:1])  # the driver died after the first point
    sweep_id = new_sweep_id()
    specs = specs_for(plan, sweep_id, home, Executor(name="local", workers=1), resolved)
    run_sweep(home, specs, resolved, InProcess().run(specs), pipeline=pipeline, total_points=plan.points)
    done, summary = sweep_json(home, "--resume", sweep_id, capsys=capsys)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (summary["points"], summary["succeeded"]) == (3, 3)
    assert sorted(r["point_text"] for r in summary["runs"]) == ["n=1", "n=2", "n=4"]


def test_the_mlflow_mirror_tags_a_sweep_run_with_its_sweep_point_and_executor(
    canary_sweep: tuple[Path, dict[str, Any]],
) -> None:
    from projectors.mirror.plan import RunFold, run_tags

    home, summary = canary_sweep
    event = next(e for e in started(home) if e.data.sweep is not None and e.data.sweep.id == summary["sweep_id"])
    tags = run_tags(RunFold(run_id=str(event.run_id), started=event), [])
    assert tags["ledger.sweep_id"] == summary["sweep_id"] and tags["ledger.executor"] == "local"
    assert json.loads(tags["ledger.sweep_point"]) == event.data.sweep.point  # type: ignore[union-attr]


def test_a_killed_worker_process_blames_only_its_point_and_resume_finishes(flaky_file: Path, tmp_path: Path) -> None:
    home, marker = tmp_path / "h", tmp_path / "marker"
    base = ["--pipeline", f"{flaky_file}:PIPELINE", "--grid", "die=0,1,2", "--set", f'marker="{marker}"']
    done, first = sweep_json(home, *base, "--workers", "2")
    assert done.returncode == 1, done.stderr[-2000:]
    status = {r["point_text"]: r["status"] for r in first["runs"]}
    assert status == {"die=0": "succeeded", "die=1": "succeeded", "die=2": "failed"}  # die=1 died once, then ran
    with Ledger.open(home, readonly=True) as ledger:
        events = list(ledger.read())
    completed = {e.run_id: e.data for e in events if e.type == "RunCompleted"}
    assert {e.run_id for e in events if e.type == "RunStarted"} == set(completed)
    failed = next(r["run_id"] for r in first["runs"] if r["point_text"] == "die=2")
    assert "a worker process died" in (completed[failed].error or "")  # type: ignore[union-attr]
    assert cmd("verify", "--home", str(home)).returncode == 0
    executors = {e.run_id: e.data.executor for e in started(home)}
    assert {(x.name, x.workers) for x in executors.values()} == {("processes", 2)}  # type: ignore[union-attr]

    marker.write_text("go")
    done, again = sweep_json(home, "--resume", first["sweep_id"])  # now in this process (--executor local)
    assert done.returncode == 0 and (again["succeeded"], again["failed"]) == (3, 0), done.stderr[-2000:]
    resumed = next(r["run_id"] for r in again["runs"] if r["point_text"] == "die=2" and r["status"] == "succeeded")
    in_pool = next(r["run_id"] for r in first["runs"] if r["point_text"] == "die=0")
    assert started(home)[-1].data.executor.name == "local"  # type: ignore[union-attr]
    # die only decides whether the worker dies: the same frames, so the same output hashes in a pool and locally
    assert outputs(home, in_pool) == outputs(home, resumed) != []

"""SIGKILL the MLflow mirror at random points, resume, and get exactly the store one clean replay gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from tests.support.mlflow_fixtures import (  # noqa: E402
    append,
    dump_store,
    empty_store,
    kill_mid_transaction,
    run_events,
    standard_history,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
#: kills per test run (each pays an MLflow start-up); bench/soak.py raises it: LEDGERLINE_CRASH_KILLS=100
KILLS = int(os.environ.get("LEDGERLINE_CRASH_KILLS", "4"))
#: kills during the store's creation (each pays creating MLflow's schema)
CREATION_KILLS = max(2, KILLS // 2)


def _kill_loop(*args: str) -> dict[str, Any]:
    """Run the kill loop of tests.support.mlflow_fixtures in a child process; its JSON result."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.mlflow_fixtures", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900 + 30 * KILLS,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_sigkill_at_random_points_then_resume_equals_clean_replay(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for batch in standard_history(home, metrics=30):
        append(home, batch)
    append(home, run_events(home, 4, metrics=1_500))  # two log_batch requests: kills land between them
    template = empty_store(tmp_path / "empty.db")
    seed = int(os.environ.get("LEDGERLINE_CRASH_SEED", "20261122"))
    result = _kill_loop(str(home), str(template), str(tmp_path / "work"), str(KILLS), str(seed))
    assert result["kills"] >= KILLS, f"only {result['kills']} replays were actually killed: {result['points']}"
    assert result["mismatches"] == [], f"seed {seed}: resumed store differs from a clean replay: {result['mismatches']}"


def test_sigkill_while_the_default_store_is_created_then_resume_equals_clean_replay(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for batch in standard_history(home, metrics=5):
        append(home, batch)
    seed = int(os.environ.get("LEDGERLINE_CRASH_SEED", "20261203"))
    result = _kill_loop("--creation", str(home), str(tmp_path / "work"), str(CREATION_KILLS), str(seed))
    assert result["kills"] >= CREATION_KILLS, (
        f"only {result['kills']} creations were actually killed: {result['points']}"
    )
    assert result["problems"] == [], f"seed {seed}: {result['problems']}"


def _half_created(path: Path, template: Path) -> None:
    """What a kill during MLflow's table creation leaves: some tables, no schema version."""
    import sqlite3

    shutil.copyfile(template, path)
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM alembic_version")
        con.execute("DROP TABLE IF EXISTS webhooks")
        con.execute("DROP TABLE params")


def test_a_half_created_default_store_is_named_and_rebuilt(
    tmp_path: Path, mlflow_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bin.replay import main

    home = tmp_path / "home"
    for batch in standard_history(home, metrics=5):
        append(home, batch)
    _half_created(home / "mlflow.db", mlflow_template)
    assert main(["--to", "mlflow", "--home", str(home)]) == 0
    err = capsys.readouterr().err
    assert "half-created" in err and "rebuilding" in err and "Traceback" not in err
    from projectors.mirror.layout import store_problem

    assert store_problem(home / "mlflow.db") is None
    assert main(["--to", "mlflow", "--home", str(home)]) == 0  # and it stays healed


def test_a_half_created_store_the_user_named_is_refused_in_one_line(
    tmp_path: Path, mlflow_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bin.replay import main

    home = tmp_path / "home"
    for batch in standard_history(home, metrics=5):
        append(home, batch)
    store = tmp_path / "mine.db"
    _half_created(store, mlflow_template)
    before = store.read_bytes()
    assert main(["--to", "mlflow", "--home", str(home), "--tracking-uri", f"sqlite:///{store}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "half-created" in err[0] and "--tracking-uri" in err[0]
    assert store.read_bytes() == before


def test_a_store_the_user_named_left_mid_request_by_a_kill_is_resumed(tmp_path: Path, mlflow_template: Path) -> None:
    """A kill inside a request's transaction leaves a hot journal: the store is not damaged, the resume rolls it back."""
    from bin.replay import main

    home = tmp_path / "home"
    for batch in standard_history(home, metrics=5):
        append(home, batch)
    clean, store = tmp_path / "clean.db", tmp_path / "mine.db"
    for db in (clean, store):
        shutil.copyfile(mlflow_template, db)
    assert main(["--to", "mlflow", "--home", str(home), "--tracking-uri", f"sqlite:///{clean}"]) == 0
    kill_mid_transaction(store, "INSERT INTO experiments (name, lifecycle_stage) VALUES ('half', 'active')")
    assert main(["--to", "mlflow", "--home", str(home), "--tracking-uri", f"sqlite:///{store}"]) == 0
    assert dump_store(f"sqlite:///{store}") == dump_store(f"sqlite:///{clean}")

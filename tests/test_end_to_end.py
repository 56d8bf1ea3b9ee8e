"""The walking skeleton end to end: bin/run-pipeline twice into one home, then verify, query and the MLflow mirror."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.inproc import command

ROOT = Path(__file__).resolve().parents[1]


def bin_cmd(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "bin" / name), *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e") / "runs"


@pytest.fixture(scope="module")
def first_run(home: Path) -> dict[str, object]:
    done = bin_cmd("run-pipeline", "--profile", "canary", "--home", home, "--mirror", "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def second_run(home: Path, first_run: dict[str, object]) -> dict[str, object]:
    done = bin_cmd("run-pipeline", "--profile", "canary", "--home", home, "--mirror", "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_run_reports_metrics_and_drops(first_run: dict[str, object]) -> None:
    assert first_run["status"] == "succeeded"
    assert {"sharpe", "max_drawdown", "cagr"} <= set(first_run["metrics"])  # type: ignore[arg-type]
    drops = first_run["rows_dropped"]
    assert isinstance(drops, dict) and sum(drops.values()) > 0, "the canary injects toxic rows on purpose"


def test_verify_reports_intact_chain_with_event_count(home: Path, first_run: dict[str, object]) -> None:
    done = bin_cmd("verify", "--home", home, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["events"] >= first_run["seqs"][1]  # type: ignore[index]


def test_query_shows_the_run(home: Path, first_run: dict[str, object]) -> None:
    done = bin_cmd("query", "--home", home, "--format", "json", "select run_id, status from runs")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {"run_id": first_run["run_id"], "status": "succeeded"} in rows


def test_mlflow_store_holds_run_params_and_metrics(home: Path, first_run: dict[str, object]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{home.resolve()}/mlflow.db")
    runs = [
        r
        for exp in client.search_experiments()
        for r in client.search_runs(
            [exp.experiment_id], filter_string=f"tags.`ledger.run_id` = '{first_run['run_id']}'"
        )
    ]
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["profile"] == "canary"
    assert run.data.metrics["sharpe"] == pytest.approx(first_run["metrics"]["sharpe"])  # type: ignore[index]


def test_second_run_appends_to_the_same_ledger(
    home: Path, first_run: dict[str, object], second_run: dict[str, object]
) -> None:
    assert second_run["run_id"] != first_run["run_id"]
    assert second_run["seqs"][0] > first_run["seqs"][1]  # type: ignore[index]
    verified = json.loads(bin_cmd("verify", "--home", home, "--json").stdout)
    assert verified["ok"] and verified["head_seq"] >= second_run["seqs"][1]  # type: ignore[index]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("run-pipeline", "--profile", "nosuch"), "unknown profile"),
        (("verify",), "no ledger"),
        (("run-pipeline", "--run-id", "../../etc"), "invalid run id"),
        (("run-pipeline", "--run-id", ""), "invalid run id"),
        (("run-pipeline", "--set", "backtest.cost_bps"), "key=value"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], needle: str
) -> None:
    """Through each command's main(): the runs above already went through the real bin/ commands."""
    home = tmp_path / "home"
    done = command(capsys, argv[0], *argv[1:], "--home", str(home))
    assert done.returncode == 2
    assert needle in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not home.exists()

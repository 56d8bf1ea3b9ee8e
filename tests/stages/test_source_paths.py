"""Issue 12.8 (--source): a missing path is a usage error, one Parquet/CSV file is a source, an empty folder is preflight_failed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stages.runner import run_pipeline
from tests.support.contracts_kit import data_stages, events, market, of_type, settings

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(ROOT / "bin" / "run-pipeline"), "--no-project", "--quiet", "--set", "contracts.min_symbols=1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_a_source_that_does_not_exist_is_a_usage_error_and_nothing_is_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = _run("--home", str(home), "--source", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        f"run-pipeline: --source {tmp_path / 'nowhere'} does not exist (give a folder of Parquet/CSV files or one such file)"
    ]
    assert not home.exists()


def test_an_empty_source_folder_stays_a_preflight_failed_run(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = _run("--home", str(tmp_path / "home"), "--source", str(tmp_path / "empty"), cwd=tmp_path)
    assert out.returncode == 1 and "preflight_failed" in out.stdout and "holds no .parquet or .csv files" in out.stdout
    assert completed_status(tmp_path / "home") == "preflight_failed"


def completed_status(home: Path) -> str:
    (done,) = of_type(events(home), "RunCompleted")
    return str(done.data.status)


@pytest.mark.parametrize("name", ["bars.parquet", "bars.csv"])
def test_one_parquet_or_csv_file_is_a_source(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    bars = market("AAA", "BBB", n=40)
    bars.write_parquet(path) if name.endswith(".parquet") else bars.write_csv(path)
    home = tmp_path / "home"
    outcome = run_pipeline(settings(source={"kind": "directory", "path": str(path)}), home, stages=data_stages())
    assert outcome.status == "succeeded", outcome.error
    (started,) = of_type(events(home), "RunStarted")
    assert [(i.name, i.rows) for i in started.data.inputs] == [(name, bars.height)]
    assert outcome.context.clean is not None and outcome.context.clean.rows == bars.height


def test_a_file_that_is_not_parquet_or_csv_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    out = _run("--home", str(tmp_path / "home"), "--source", str(tmp_path / "notes.txt"), cwd=tmp_path)
    assert out.returncode == 2 and "is neither a folder nor a .parquet or .csv file" in out.stderr
    assert not (tmp_path / "home").exists()

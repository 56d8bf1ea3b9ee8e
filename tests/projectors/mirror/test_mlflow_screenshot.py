"""The MLflow UI renders what the mirror wrote (headless Chromium, installed with apt-get when the tests run as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.events import DataInput, Envelope, RunStarted
from tests.support.mlflow_fixtures import PIPELINE, append, run_id, standard_history

ROOT = Path(__file__).resolve().parents[3]


def _chromium() -> str | None:
    return next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)


def chromium() -> str:
    """The Chromium binary, installed with `apt-get install -y chromium` when absent and the tests run as root."""
    found = _chromium()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, env=env, timeout=900, check=False
        )
        found = _chromium()
    if found is None:
        pytest.skip("Chromium is not installed and cannot be installed here (not root): apt-get install chromium")
    return found


def with_input(events: list[Envelope]) -> list[Envelope]:
    """Run 1's events with one directory input in its RunStarted (shown in the UI's Datasets)."""
    started = events[0]
    assert isinstance(started, RunStarted)
    data = started.data.model_copy(update={
        "inputs": [DataInput(name="SPY.parquet", sha256="ab" * 32, rows=504, format="parquet")],
        "params": {**started.data.params, "source.kind": "directory", "source.path": "/data/market"},
    })  # fmt: skip
    return [started.model_copy(update={"data": data}), *events[1:]]


def test_the_mlflow_ui_renders_a_mirrored_run(tmp_path: Path, mlflow_template: Path) -> None:
    CHROMIUM = chromium()
    home = tmp_path / "home"
    for i, batch in enumerate(standard_history(home, metrics=12)):
        append(home, with_input(batch) if i == 0 else batch)
    shutil.copyfile(mlflow_template, home / "mlflow.db")  # an empty mirror (store creation is tested elsewhere)
    out = tmp_path / "run.png"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "mlflow_screenshot.py"),
            "--home",
            str(home),
            "--run",
            run_id(1),
            "--expect",
            run_id(1),
            "--expect",
            "SPY.parquet",
            "--out",
            str(out),
            "--chromium",
            str(CHROMIUM),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    from mlflow.tracking import MlflowClient

    from projectors.mirror.extras import CHART_PATH
    from projectors.mirror.replay import default_tracking_uri
    from projectors.mirror.sink import experiment_name

    client = MlflowClient(default_tracking_uri(home))  # the store the UI served
    exp = client.get_experiment_by_name(experiment_name(PIPELINE))
    assert exp is not None and exp.tags["mlflow.experimentKind"] == "custom_model_development"
    (run,) = client.search_runs([exp.experiment_id], filter_string=f"tags.`ledger.run_id` = '{run_id(1)}'")
    charts = [a.path for a in client.list_artifacts(run.info.run_id, "charts")]
    assert CHART_PATH in charts, charts
    chart = Path(client.download_artifacts(run.info.run_id, CHART_PATH, str(tmp_path / "dl")))
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

"""Optional: the MLflow UI renders what the mirror wrote (headless Chromium; skipped when Chromium is absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.mlflow_fixtures import append, run_id, standard_history

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_mlflow_ui_renders_a_mirrored_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for batch in standard_history(home, metrics=12):
        append(home, batch)
    out = tmp_path / "run.png"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "mlflow_screenshot.py"), "--home", str(home), "--run", run_id(1),
         "--expect", run_id(1), "--out", str(out), "--chromium", str(CHROMIUM)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000

"""Progress on long work: plain periodic lines on stderr when not a terminal, a rich bar on one, never on stdout.

The ticks of the long loops are made frequent (module constants) and LEDGERLINE_PROGRESS_S=0 prints every
tick, so a small ledger shows lines without any timing in the tests.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import shutil
import subprocess
from pathlib import Path

import pytest

import ledger.chain
import ledger.verify
from bin import _progress
from bin._progress import Reporter
from bin.replay import main as replay
from bin.verify import main as verify
from projectors.mirror import plan
from projectors.readmodel import Step, tick
from projectors.runs import artifacts
from tests.support.ledger_factory import RUN_A, RUN_B, Clock, run_events, write

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    clock = Clock()
    write(tmp_path / "home", run_events(RUN_A, clock=clock))
    write(tmp_path / "home", run_events(RUN_B, clock=clock))
    return tmp_path / "home"


@pytest.fixture
def every_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ticks every few events and a plain line for every tick."""
    monkeypatch.setenv("LEDGERLINE_PROGRESS_S", "0")
    monkeypatch.setattr(plan, "TICK_EVERY", 8)
    monkeypatch.setattr(artifacts, "TICK_EVERY", 8)
    monkeypatch.setattr(artifacts, "ARTIFACT_TICK", 1)
    monkeypatch.setattr(ledger.verify, "DEEP_TICK_LINES", 8)
    monkeypatch.setattr(ledger.chain, "TICK_CHUNKS", 1)
    monkeypatch.setattr(ledger.chain, "CHUNK", 4096)


def lines_with(text: str, err: str) -> list[str]:
    return [line for line in err.splitlines() if text in line]


@pytest.mark.usefixtures("every_tick")
def test_duckdb_replay_prints_periodic_lines_on_stderr_and_json_on_stdout(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert replay(["--to", "duckdb", "--home", str(home), "--rebuild", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["applied"] == 58
    ticks = lines_with("duckdb: writing tables:", err)
    assert len(ticks) >= 3 and ticks[-1].endswith("(100%)"), err


@pytest.mark.usefixtures("every_tick")
def test_mlflow_replay_reports_the_fold_and_the_runs(
    home: Path, tmp_path: Path, mlflow_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store.db"
    shutil.copy(mlflow_template, store)
    assert replay(["--to", "mlflow", "--home", str(home), "--tracking-uri", f"sqlite:///{store}", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["position"]["seq"] == 58
    assert len(lines_with("mlflow: reading the ledger:", err)) >= 5, err
    assert lines_with("mlflow: sending runs: 2/2 runs (100%)", err), err


@pytest.mark.usefixtures("every_tick")
def test_openlineage_replay_reports_its_batches(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("openlineage.client")
    monkeypatch.setenv("LEDGERLINE_OPENLINEAGE_BATCH", "5")
    assert replay(["--to", "openlineage", "--home", str(home), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["position"]["seq"] == 58
    assert len(lines_with("openlineage: ", err)) >= 5, err


@pytest.mark.usefixtures("every_tick")
def test_verify_reports_hashing_decoding_and_the_rebuild(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(["--to", "duckdb", "--home", str(home), "--quiet"]) == 0
    capsys.readouterr()
    assert verify([str(home), "--deep", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["ok"] is True
    assert len(lines_with("verify: hashing:", err)) >= 2, err
    assert len(lines_with("verify: decoding:", err)) >= 2, err
    assert lines_with("duckdb: writing tables:", err), err  # --deep rebuilds the projection to compare


@pytest.mark.usefixtures("every_tick")
def test_quiet_shows_no_progress(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(["--to", "duckdb", "--home", str(home), "--rebuild", "--quiet"]) == 0
    assert verify([str(home), "--deep", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert all(line.startswith("verify: note: ") for line in err.splitlines()), err  # the report, no progress
    assert out.count("\n") == 2


def test_ticks_are_throttled_by_the_clock_and_milestones_always_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(_progress.time, "monotonic", lambda: now[0])
    monkeypatch.setenv("LEDGERLINE_PROGRESS_S", "5")
    stream = io.StringIO()
    with Reporter("test", stream=stream) as progress:
        for done in range(0, 1000, 10):
            progress(tick("duckdb", "phase", done, 1000))
            now[0] += 0.125  # 100 ticks over 12.5 s
        progress(Step("a milestone", model="duckdb"))
        progress(tick("duckdb", "phase", 1000, 1000))
    lines = stream.getvalue().splitlines()
    assert lines == [  # nothing in the first 5 s, then a line every 5 s, the milestone, and the end
        "duckdb: phase: 400/1,000 events (40%)",
        "duckdb: phase: 800/1,000 events (80%)",
        "a milestone",
        "duckdb: phase: 1,000/1,000 events (100%)",
    ]


def test_a_terminal_gets_a_bar(home: Path) -> None:
    """bin/replay with stderr on a pseudo-terminal draws rich's bar there; stdout (a pipe) gets only the JSON."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(ROOT / "bin" / "replay"), "--to", "duckdb", "--home", str(home), "--rebuild", "--json"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm", "LEDGERLINE_PROGRESS_S": "0"},
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=120)
    os.close(master)
    assert proc.returncode == 0, seen
    assert json.loads(out)["applied"] == 58
    text = seen.decode("utf-8", "replace")
    assert "\x1b[" in text and "━" in text, text  # ANSI control and the bar's line
    assert "duckdb: writing tables" in text and "8/8" in text, text


SLOW_PIPELINE = '''
import time

import polars as pl

from stages import Pipeline, StageResult, stage


@stage(writes=("numbers",))
def make(*, settings):
    """A frame, after a long think."""
    time.sleep(1.0)
    return StageResult(outputs={"numbers": pl.DataFrame({"x": [1, 2, 3]})})


PIPELINE = Pipeline("slow", stages=[make])
'''


def test_a_long_stage_gets_periodic_lines_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bin.run_pipeline import main as run_pipeline

    (tmp_path / "slow.py").write_text(SLOW_PIPELINE)
    monkeypatch.setenv("LEDGERLINE_PROGRESS_S", "0.1")
    argv = ["--pipeline", f"{tmp_path / 'slow.py'}:PIPELINE", "--home", str(tmp_path / "home"), "--no-project"]
    assert run_pipeline([*argv, "--json"]) == 0
    out, err = capsys.readouterr()
    json.loads(out)  # stdout is the summary only
    beats = lines_with("stage make running for", err)
    assert beats and all("(1 of 1)" in line for line in beats), err
    assert run_pipeline([*argv, "--quiet"]) == 0
    assert "running for" not in capsys.readouterr().err


def test_a_plain_line_callback_never_sees_stage_ticks(tmp_path: Path) -> None:
    from stages.pipeline import load_pipeline
    from stages.runner import run

    (tmp_path / "slow.py").write_text(SLOW_PIPELINE.replace("time.sleep(1.0)", "pass"))
    pipeline = load_pipeline(f"{tmp_path / 'slow.py'}:PIPELINE")
    said: list[str] = []
    run(pipeline, pipeline.resolve(None, {}), tmp_path / "home", progress=said.append)
    assert not any(getattr(line, "tick", False) for line in said) and len(said) == 3, said
